"""Building blocks shared by the original zoo: how the label enters G and D.

The original notebooks condition both networks the same way: the label goes
through an Embedding and a Dense layer and is reshaped into one extra channel,
which is concatenated with the noise map (G) or with the image (D).
"""
from __future__ import annotations

import keras
from keras import layers, ops

EMBED_DIM = 50
LEAKY_SLOPE = 0.2
# Output layers compute in float32 even under mixed precision (CGAN_PRECISION=bf16), as Keras's
# mixed-precision guide recommends: in bfloat16 a sigmoid of 5 would read 0.992, not 0.9933.
OUTPUT_DTYPE = "float32"
# PyTorch's BatchNorm epsilon, as in BigGAN-PyTorch (Keras's default, 1e-3, is 100× larger).
BN_EPSILON = 1e-5


def start_size(image_shape, upsamplings: int = 2) -> tuple[int, int]:
    """Spatial size of G's first map: 7×7 for 28×28, 8×8 for 32×32."""
    h, w = image_shape[0], image_shape[1]
    factor = 2 ** upsamplings
    if h % factor or w % factor:
        raise ValueError(f"image size {h}x{w} is not divisible by {factor}")
    return h // factor, w // factor


def label_channel(labels, num_classes: int, size: tuple[int, int], name: str):
    """label → Embedding → Dense → reshape to one (h, w, 1) channel."""
    h, w = size
    x = layers.Embedding(num_classes, EMBED_DIM, name=f"{name}_embedding")(labels)
    x = layers.Dense(h * w, name=f"{name}_dense")(x)
    return layers.Reshape((h, w, 1), name=f"{name}_map")(x)


def generator_inputs(latent_dim: int, num_classes: int, size, channels: int,
                     bn_momentum: float | None):
    """Noise and label inputs merged into G's first feature map."""
    noise = keras.Input((latent_dim,), name="noise")
    labels = keras.Input((1,), dtype="int32", name="label")
    x = layers.Dense(size[0] * size[1] * channels, name="noise_dense")(noise)
    if bn_momentum is not None:
        x = layers.BatchNormalization(momentum=bn_momentum, name="noise_bn")(x)
    x = layers.LeakyReLU(LEAKY_SLOPE, name="noise_act")(x)
    x = layers.Reshape((size[0], size[1], channels), name="noise_map")(x)
    merged = layers.Concatenate(name="g_concat")([x, label_channel(labels, num_classes, size, "g_label")])
    return (noise, labels), merged


def discriminator_inputs(image_shape, num_classes: int):
    """Image and label inputs merged into one (H, W, C + 1) tensor."""
    image = keras.Input(image_shape, name="image")
    labels = keras.Input((1,), dtype="int32", name="label")
    channel = label_channel(labels, num_classes, image_shape[:2], "d_label")
    merged = layers.Concatenate(name="d_concat")([image, channel])
    return (image, labels), merged


def up_block(x, filters: int, kernel: int, strides: int, bn_momentum: float | None, name: str):
    """Transposed conv → (BatchNorm) → LeakyReLU."""
    x = layers.Conv2DTranspose(filters, kernel, strides=strides, padding="same", name=f"{name}_convT")(x)
    if bn_momentum is not None:
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act")(x)


def down_block(x, filters: int, kernel: int, strides: int, bn_momentum: float | None, name: str):
    """Strided conv → (BatchNorm) → LeakyReLU."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", name=f"{name}_conv")(x)
    if bn_momentum is not None:
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act")(x)


def to_image(x, channels: int, kernel: int, transposed: bool = False):
    """Last layer of G: a conv (or transposed conv) with tanh, so pixels land in [-1, 1]."""
    conv = layers.Conv2DTranspose if transposed else layers.Conv2D
    return conv(channels, kernel, padding="same", activation="tanh", dtype=OUTPUT_DTYPE, name="to_image")(x)


def real_or_fake(x, dropout_rate: float, dropout_at_end: bool):
    """Flatten → (Dropout) → Dense(1, sigmoid): D's probability that the image is real."""
    x = layers.Flatten(name="flatten")(x)
    if dropout_at_end and dropout_rate:
        x = layers.Dropout(dropout_rate, name="dropout_end")(x)
    return layers.Dense(1, activation="sigmoid", dtype=OUTPUT_DTYPE, name="real_prob")(x)


def conditional_batchnorm(x, labels, num_classes: int, momentum: float, name: str):
    """BatchNorm whose gamma and beta depend on the label (stock layers only, so .keras files load safely)."""
    ch = x.shape[-1]
    x = layers.BatchNormalization(momentum=momentum, epsilon=BN_EPSILON, center=False, scale=False,
                                  name=f"{name}_bn")(x)
    gamma = layers.Embedding(num_classes, ch, embeddings_initializer="ones", name=f"{name}_gamma")(labels)
    beta = layers.Embedding(num_classes, ch, embeddings_initializer="zeros", name=f"{name}_beta")(labels)
    x = layers.Multiply(name=f"{name}_scale")([x, layers.Reshape((1, 1, ch), name=f"{name}_gamma_map")(gamma)])
    return layers.Add(name=f"{name}_shift")([x, layers.Reshape((1, 1, ch), name=f"{name}_beta_map")(beta)])


# The projection D's feature layer and label embedding: embed(c)·h for every class c are D's class logits, which
# the class loss (cgan.training.gan, `class_loss_weight`) trains; models that build D this way say D_CLASS_LOGITS.
FEATURES_LAYER = "features"
PROJECTION_LAYER = "projection"


def strided_projection_score(x, labels, num_classes: int, widths, normalise):
    """D's body and head in `fast` and `fast32`: one stride-2 4×4 conv with LeakyReLU per width, flattened features
    h, and the projection output w·h + embed(label)·h (Miyato & Koyama 2018)."""
    for i, width in enumerate(widths, start=1):
        x = normalise(layers.Conv2D(width, 4, strides=2, padding="same", name=f"down{i}_conv"))(x)
        x = layers.LeakyReLU(LEAKY_SLOPE, name=f"down{i}_act")(x)
    features = layers.Flatten(name=FEATURES_LAYER)(x)
    unconditional = normalise(layers.Dense(1, dtype=OUTPUT_DTYPE, name="realness"))(features)
    label_code = layers.Flatten(name="d_label_flat")(
        layers.Embedding(num_classes, features.shape[-1], name=PROJECTION_LAYER)(labels))
    matches_label = layers.Dot(axes=1, dtype=OUTPUT_DTYPE, name="label_match")([label_code, features])
    return layers.Add(dtype=OUTPUT_DTYPE, name="score")([unconditional, matches_label])


def pick(value, default):
    return default if value is None else value


@keras.saving.register_keras_serializable(package="cgan")
class SpectralNormalization(layers.Wrapper):
    """Spectral normalization as in Miyato et al. (2018), with the same gradient on every backend.

    The wrapped layer's kernel W stays the trainable variable; each call runs the layer with
    W / sigma(W), where sigma comes from one power-iteration step on the non-trainable vector u
    (updated in training only). u and its partner v are constants for the gradient, so autodiff
    differentiates through sigma(W) with respect to the raw W, as the paper does. Keras's own
    SpectralNormalization instead writes W / sigma back into the kernel: TensorFlow and PyTorch then
    train on dL/d(W / sigma) with no sigma term, while JAX differentiates through sigma.
    It keeps Keras's class name and variables (the layer's, then `vector_u`) because Keras files
    address weights by class name: checkpoints written with Keras's wrapper load into this one.
    """

    def __init__(self, layer, power_iterations: int = 1, **kwargs):
        # No autocast: sigma is computed in the variables' float32 even under mixed precision;
        # the wrapped layer still casts to its own compute dtype.
        kwargs["autocast"] = False
        super().__init__(layer, **kwargs)
        if power_iterations < 1:
            raise ValueError(f"power_iterations must be at least 1, not {power_iterations}")
        self.power_iterations = power_iterations

    def build(self, input_shape):
        super().build(input_shape)
        name = next((n for n in ("kernel", "embeddings") if hasattr(self.layer, n)), None)
        if name is None:
            raise ValueError(f"{type(self.layer).__name__} has neither a kernel nor embeddings to normalize")
        self.kernel = getattr(self.layer, name)
        self.vector_u = self.add_weight(shape=(1, self.kernel.shape[-1]), trainable=False, name="vector_u",
                                        initializer=keras.initializers.TruncatedNormal(stddev=0.02),
                                        dtype=self.kernel.dtype)

    def normalized_kernel(self, kernel):
        """(W / sigma(W), the power iteration's new u); u and v carry no gradient."""
        matrix = ops.reshape(kernel, (-1, kernel.shape[-1]))
        u = self.vector_u.value
        for _ in range(self.power_iterations):
            v = ops.normalize(ops.matmul(u, ops.transpose(matrix)), axis=-1)
            u = ops.normalize(ops.matmul(v, matrix), axis=-1)
        u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        sigma = ops.sum(ops.matmul(v, matrix) * u)
        return kernel / sigma, u

    def call(self, inputs, training=False):
        kernel, u = self.normalized_kernel(self.kernel.value)
        if training:
            self.vector_u.assign(u)
        # Run the layer with W / sigma in place of W (its other variables keep their current values)
        # without assigning it, so the gradient reaches the raw kernel through sigma.
        mapping = [(v, kernel if v is self.kernel else v.value) for v in self.layer.variables]
        with keras.StatelessScope(state_mapping=mapping, initialize_variables=False):
            return self.layer(inputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def compute_output_spec(self, inputs, *args, **kwargs):
        return self.layer.compute_output_spec(inputs)  # the wrapped layer's dtype, not this wrapper's

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}


def spectral_norm_wrapper(enabled: bool):
    """A function that wraps a layer in cgan's `SpectralNormalization`, or leaves it alone."""
    if not enabled:
        return lambda layer: layer
    return lambda layer: SpectralNormalization(layer, name=f"{layer.name}_sn")
