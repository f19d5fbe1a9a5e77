"""`ConditionalGAN`: a Keras model that trains a conditional G/D pair with `fit`.

The original zoo plays the conditional minimax game of Mirza & Osindero (2014)
with the non-saturating generator loss: D outputs a probability and minimises
BCE on real (label 1) and generated (label 0) images, G minimises BCE of D's
verdict on its images against label 1. The BCE is computed from the logit under
D's sigmoid, as Keras on TensorFlow (the original project's) does for a sigmoid
output, so a saturated D still gets a gradient. Models whose D outputs an
unbounded score (the fast and SNGAN models) play the same game on that score
(`loss="bce"`) or the hinge loss (`loss="hinge"`, Lim & Ye 2017). Fake images
are generated for uniformly random labels. Optional extras: an exponential
moving average of G's weights for sampling (`ema_decay`), differentiable
augmentation of every image D sees (`augment`, Zhao et al. 2020), LeCam
regularisation of D (`lecam_weight`) and a class loss on the projection D's
class logits (`class_loss_weight`).
"""
from __future__ import annotations

import keras
from keras import ops

from cgan.models import build_models, discriminator_output
from cgan.models.common import FEATURES_LAYER, PROJECTION_LAYER
from cgan.training.augment import diff_augment
from cgan.training.backends import backend_module

PROBABILITY_HEAD = "real_prob"  # the original zoo's last layer: Dense(1, sigmoid) (cgan.models.common)


def sigmoid_logits(discriminator):
    """A function giving D's logit, the input of its sigmoid, computed by D's own layers and weights.

    BCE on clipped probabilities has no gradient once D's sigmoid saturates (float32 rounds it to 1.0 past a
    logit of about 17), and a D stuck there never recovers: m5 v3 on CIFAR-10 stopped learning at its third step
    (README.md, *The 20-minute CIFAR race*). Keras on TensorFlow, which the original project trained with,
    computes BCE on a sigmoid output from the logit underneath "to prevent collapsing zero when training"
    (`_get_logits` in its backend); this does the same on every backend.
    """
    try:
        head = discriminator.get_layer(PROBABILITY_HEAD)
    except ValueError:
        raise ValueError(f"a probability discriminator must end in a Dense layer named {PROBABILITY_HEAD!r}") from None
    features = keras.Model(discriminator.inputs, head.input, name=f"{discriminator.name}_features")

    def logits(inputs, training):
        x = ops.cast(features(inputs, training=training), "float32")
        return ops.matmul(x, ops.cast(head.kernel, "float32")) + ops.cast(head.bias, "float32")
    return logits


def class_logits(discriminator):
    """A function giving (D's score, D's logit for every class) from one pass of D.

    A projection D scores w·h + embed(label)·h, so its label embedding, applied to the features h, gives a logit
    per class: D's own classifier, with no extra weights. The class loss trains it.
    """
    try:
        features = discriminator.get_layer(FEATURES_LAYER).output
        embedding = discriminator.get_layer(PROJECTION_LAYER)
    except ValueError:
        embedding = None
    if not isinstance(embedding, keras.layers.Embedding):
        raise ValueError(f"the class loss needs a projection discriminator: a {FEATURES_LAYER!r} layer and an "
                         f"Embedding {PROJECTION_LAYER!r} (cgan.models.common.strided_projection_score)")
    score_and_features = keras.Model(discriminator.inputs, [discriminator.outputs[0], features],
                                     name=f"{discriminator.name}_with_features")

    def logits(inputs, training):
        score, h = score_and_features(inputs, training=training)
        per_class = ops.matmul(ops.cast(h, "float32"), ops.transpose(ops.cast(embedding.embeddings, "float32")))
        return ops.cast(score, "float32"), per_class
    return logits


def _cross_entropy(per_class, labels):
    return ops.mean(ops.sparse_categorical_crossentropy(ops.reshape(labels, (-1,)), per_class, from_logits=True))


def _bce_on_logits(real, fake):
    # softplus(-s) = -log(sigmoid(s)); written with keras.ops, so a NaN reaches the loss and the divergence guard.
    return ops.mean(ops.softplus(-real)) + ops.mean(ops.softplus(fake))


def _bce_on_logits_of_both(real, fake):
    # The original zoo's scale: one mean over the real and the fake batch together (half the sum above), as
    # its loss curves have always been logged.
    return ops.mean(ops.concatenate([ops.softplus(-real), ops.softplus(fake)], axis=0))


def _hinge(real, fake):
    return ops.mean(ops.relu(1.0 - real)) + ops.mean(ops.relu(1.0 + fake))


def _fool_on_logits(fake):
    return ops.mean(ops.softplus(-fake))


def _fool_hinge(fake):
    return -ops.mean(fake)


# (what D outputs, loss name) → (D loss of real and fake logits, G loss of fake logits); `judge` gives logits.
LOSSES = {
    ("probability", "bce"): (_bce_on_logits_of_both, _fool_on_logits),
    ("score", "bce"): (_bce_on_logits, _fool_on_logits),
    ("score", "hinge"): (_hinge, _fool_hinge),
}


class OptimizerPair:
    """What Keras's trainers see as `model.optimizer`: the variables of both optimizers.

    The JAX trainer threads `model.optimizer.variables` through its functional
    state and drops any other optimizer's updates (keras issue 19358); the
    other backends only ask whether it is built.
    """

    built = True

    def __init__(self, *optimizers):
        self.optimizers = optimizers

    @property
    def variables(self):
        return [v for optimizer in self.optimizers for v in optimizer.variables]

    def build(self, variables):
        """Both optimizers are built in `ConditionalGAN.compile`."""


class ConditionalGAN(keras.Model):
    def __init__(self, generator, discriminator, latent_dim: int, num_classes: int, seed=None,
                 d_output: str = "probability", loss: str = "bce", ema_decay: float = 0.0, augment=(),
                 d_steps: int = 1, lecam_weight: float = 0.0, class_loss_weight: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if (d_output, loss) not in LOSSES:
            raise ValueError(f"loss '{loss}' needs a discriminator that outputs a score, not a {d_output}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_output = d_output
        self._d_loss_fn, self._g_loss_fn = LOSSES[(d_output, loss)]
        # A plain function, not an attribute Keras would track: D's variables are not counted twice.
        self._sigmoid_logits = sigmoid_logits(discriminator) if d_output == "probability" else None
        # D calls an image real above this output: probability 0.5, score 0.
        self.real_threshold = 0.5 if d_output == "probability" else 0.0
        self.ema_decay = float(ema_decay)
        self.ema_generator = None
        if self.ema_decay:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            self.ema_generator.trainable = False  # moved by _update_ema, not by an optimizer
        self.augment = tuple(augment)
        self.d_steps = d_steps  # each D step sees the same real batch and new fakes
        self.lecam_weight = float(lecam_weight)
        if self.lecam_weight:  # moving averages of D's mean output on real and on fake images
            self.lecam_real = keras.Variable(0.0, trainable=False, name="lecam_real_average")
            self.lecam_fake = keras.Variable(0.0, trainable=False, name="lecam_fake_average")
        self.class_loss_weight = float(class_loss_weight)
        self._class_logits = class_logits(discriminator) if self.class_loss_weight else None
        self._pin_layer_seeds()
        # G and D are built functional models; marking the wrapper built stops
        # fit() from tracing call() on an image batch to "build" it.
        self.built = True

    def compile(self, d_optimizer, g_optimizer, jit_compile=None, **kwargs):
        """jit_compile=None compiles where it pays: JAX only (un-jitted, it dispatches every op separately).

        TensorFlow still builds a graph without it, and XLA did not speed m1 up on CPU; torch.compile kept recompiling in a trial (benchmarks/README.md).
        """
        if jit_compile is None:
            jit_compile = keras.backend.backend() == "jax"
        super().compile(jit_compile=jit_compile, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Built up front so their variables exist before the first (possibly traced) step.
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)
        self.optimizer = OptimizerPair(d_optimizer, g_optimizer)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self._backend = backend_module()

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    @property
    def seed_generators(self):
        """Every SeedGenerator, the GAN's own (noise, fake labels, DiffAugment) first, then the layers'
        (Dropout masks), in build order."""
        found = []
        for layer in self._flatten_layers():  # self first
            found += [g for g in layer._seed_generators if all(g is not f for f in found)]
        return found

    @property
    def loss_states(self):
        """Variables the losses carry from step to step (LeCam's averages); a checkpoint keeps them."""
        return [self.lecam_real, self.lecam_fake] if self.lecam_weight else []

    @property
    def random_states(self):
        """The state of every seed generator. A checkpoint keeps them all, so a resumed run draws what an
        uninterrupted one would have drawn."""
        return [generator.state for generator in self.seed_generators]

    def _pin_layer_seeds(self):
        """Make every layer draw its randomness from its own SeedGenerator state.

        Keras's torch backend draws an unseeded Dropout's mask from torch's global RNG, which no checkpoint
        holds (and which a resumed process re-seeds); a seeded one draws from its SeedGenerator. Pinning the
        seed each generator drew at build time (from keras.utils.set_random_seed) keeps the masks the same
        function of the seed, and puts them in `random_states` on every backend.
        """
        for generator in self.seed_generators:
            if generator._initial_seed is None:
                generator._initial_seed = int(ops.convert_to_numpy(generator.state)[0])

    @property
    def sampler(self):
        """The generator to draw images from: the weight average when there is one."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def sample_latent(self, batch_size):
        noise = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        labels = keras.random.randint((batch_size, 1), 0, self.num_classes, seed=self.seed_generator)
        return noise, ops.cast(labels, "int32")

    def judge(self, images, labels, training=True, with_classes=False):
        """D's logit on (augmented) images, in float32 even under mixed precision (for the losses); with
        `with_classes`, (that logit, D's logits for every class) from the same pass."""
        if self.augment and training:
            images = diff_augment(images, self.augment, self.seed_generator)
        if with_classes:
            return self._class_logits([images, labels], training)
        if self._sigmoid_logits is not None:
            return self._sigmoid_logits([images, labels], training)
        return ops.cast(self.discriminator([images, labels], training=training), "float32")

    def _uses_class_loss(self, training):
        # Like LeCam's, a training term: evaluation reports the game's losses alone.
        return self._class_logits is not None and training

    def discriminator_loss(self, real, labels, noise, fake_labels, training=True):
        fake = ops.stop_gradient(self.generator([noise, fake_labels], training=training))
        if self.d_output == "probability":
            # The original zoo's D (some with BatchNorm) sees real and fake batches separately.
            return self._d_loss_fn(self.judge(real, labels, training), self.judge(fake, fake_labels, training))
        # Score models judge both in one call: faster on CPU, and Keras's SpectralNormalization
        # re-assigns its kernel on every training call, which would break a second call's gradients.
        images = ops.concatenate([real, ops.cast(fake, real.dtype)], axis=0)
        both_labels = ops.concatenate([labels, fake_labels], axis=0)
        batch = ops.shape(real)[0]
        if self._uses_class_loss(training):
            both, per_class = self.judge(images, both_labels, training, with_classes=True)
            # D learns to classify real images only: classifying G's images would teach it G's mistakes.
            class_loss = self.class_loss_weight * _cross_entropy(per_class[:batch], labels)
        else:
            both, class_loss = self.judge(images, both_labels, training), 0.0
        loss = self._d_loss_fn(both[:batch], both[batch:]) + class_loss
        if self.lecam_weight and training:
            loss = loss + self.lecam_weight * self._lecam(both[:batch], both[batch:])
        return loss

    def _lecam(self, real, fake, decay=0.99):
        """LeCam's penalty, ‖D(x) − avg D(G(z))‖² + ‖D(G(z)) − avg D(x)‖², one-sided as in its reference code;
        the averages move inside the loss, like batch-norm statistics, so every backend carries them."""
        self.lecam_real.assign(decay * self.lecam_real + (1 - decay) * ops.stop_gradient(ops.mean(real)))
        self.lecam_fake.assign(decay * self.lecam_fake + (1 - decay) * ops.stop_gradient(ops.mean(fake)))
        return (ops.mean(ops.square(ops.relu(real - self.lecam_fake)))
                + ops.mean(ops.square(ops.relu(self.lecam_real - fake))))

    def generator_loss(self, noise, fake_labels, training=True):
        fake = self.generator([noise, fake_labels], training=training)
        if self._uses_class_loss(training):
            score, per_class = self.judge(fake, fake_labels, training, with_classes=True)
            return self._g_loss_fn(score) + self.class_loss_weight * _cross_entropy(per_class, fake_labels)
        return self._g_loss_fn(self.judge(fake, fake_labels, training))

    def _update_ema(self):
        # Warm-up (decay grows as (1 + t) / (10 + t)) so early samples are not dominated by the random init.
        steps = ops.cast(self.g_optimizer.iterations, "float32")
        decay = ops.minimum(self.ema_decay, (1.0 + steps) / (10.0 + steps))
        for average, current in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * ops.stop_gradient(current))

    # Keras calls train_step(data) on TensorFlow and PyTorch and
    # train_step(state, data) on JAX; cgan.training.backends adapts one step to both.
    def train_step(self, *args):
        return self._backend.run_step(self, self._train_step, args)

    def test_step(self, *args):
        return self._backend.run_step(self, self._test_step, args)

    def _train_step(self, data, minimize):
        real, labels = self._unpack(data)
        batch = ops.shape(real)[0]
        for _ in range(self.d_steps):  # SNGAN-style recipes train D several times per G step
            noise, fake_labels = self.sample_latent(batch)
            d_loss = minimize(lambda: self.discriminator_loss(real, labels, noise, fake_labels),
                              self.discriminator.trainable_variables, self.d_optimizer)
        noise, fake_labels = self.sample_latent(batch)
        g_loss = minimize(lambda: self.generator_loss(noise, fake_labels),
                          self.generator.trainable_variables, self.g_optimizer)
        if self.ema_generator is not None:
            self._update_ema()
        return self._report(d_loss, g_loss)

    def _test_step(self, data, minimize=None):
        real, labels = self._unpack(data)
        noise, fake_labels = self.sample_latent(ops.shape(real)[0])
        d_loss = self.discriminator_loss(real, labels, noise, fake_labels, training=False)
        g_loss = self.generator_loss(noise, fake_labels, training=False)
        return self._report(d_loss, g_loss)

    @staticmethod
    def _unpack(data):
        # Un-jitted JAX hands over numpy batches; Keras refuses numpy mixed with tensors in one call.
        real, labels = data
        return ops.convert_to_tensor(real), ops.reshape(ops.cast(labels, "int32"), (-1, 1))

    def _report(self, d_loss, g_loss):
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        # The *_step values feed the per-iteration CSV; the trackers give epoch means.
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result(),
                "d_loss_step": d_loss, "g_loss_step": g_loss}


def make_optimizer(spec):
    settings = spec.model_dump()
    name = settings.pop("name")
    return keras.optimizers.RMSprop(**settings) if name == "rmsprop" else keras.optimizers.Adam(**settings)


def build_gan(cfg, image_shape, num_classes: int, jit_compile=None) -> ConditionalGAN:
    """The compiled GAN of a config (cgan.config.RunConfig), as training and the benchmarks use it."""
    generator, discriminator = build_models(cfg.model, image_shape, num_classes, cfg.latent_dim, cfg.model_options)
    gan = ConditionalGAN(generator, discriminator, cfg.latent_dim, num_classes, seed=cfg.seed,
                         d_output=discriminator_output(cfg.model), loss=cfg.loss, ema_decay=cfg.ema_decay,
                         augment=cfg.augment, d_steps=cfg.d_steps, lecam_weight=cfg.lecam_weight,
                         class_loss_weight=cfg.class_loss_weight)
    gan.compile(d_optimizer=make_optimizer(cfg.d_optimizer), g_optimizer=make_optimizer(cfg.g_optimizer),
                jit_compile=jit_compile)
    return gan
