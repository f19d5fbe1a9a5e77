"""`ConditionalGAN`: a Keras model that trains a conditional G/D pair with `fit`.

The losses are the conditional minimax game of Mirza & Osindero (2014) with the
non-saturating generator loss: D minimises BCE on real (label 1) and generated
(label 0) images, G minimises BCE of D's verdict on its images against label 1.
Fake images are generated for uniformly random labels.
"""
from __future__ import annotations

import keras
from keras import ops

from cgan.backends import backend_module

_EPSILON = 1e-7


def binary_crossentropy(targets, probs):
    """BCE on probabilities, written with keras.ops so a NaN propagates to the loss
    (torch's own BCE raises on it) and the divergence guard can report the step."""
    probs = ops.clip(probs, _EPSILON, 1.0 - _EPSILON)
    return ops.negative(ops.multiply(targets, ops.log(probs)) + ops.multiply(1.0 - targets, ops.log(1.0 - probs)))


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
    def __init__(self, generator, discriminator, latent_dim: int, num_classes: int, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.seed_generator = keras.random.SeedGenerator(seed)
        # G and D are built functional models; marking the wrapper built stops
        # fit() from tracing call() on an image batch to "build" it.
        self.built = True

    def compile(self, d_optimizer, g_optimizer, jit_compile=None, **kwargs):
        """jit_compile=None compiles where it pays: JAX only (un-jitted, it dispatches every op separately).

        TensorFlow still builds a graph without it, and XLA did not speed m1 up on CPU
        (issue 6); torch.compile kept recompiling in a trial (benchmarks/README.md).
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

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def sample_latent(self, batch_size):
        noise = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        labels = keras.random.randint((batch_size, 1), 0, self.num_classes, seed=self.seed_generator)
        return noise, ops.cast(labels, "int32")

    def discriminator_loss(self, real, labels, noise, fake_labels, training=True):
        fake = ops.stop_gradient(self.generator([noise, fake_labels], training=training))
        p_real = self.discriminator([real, labels], training=training)
        p_fake = self.discriminator([fake, fake_labels], training=training)
        # float32 losses even when the networks compute in bfloat16 (mixed precision).
        probs = ops.cast(ops.concatenate([p_real, p_fake], axis=0), "float32")
        targets = ops.concatenate([ops.ones_like(p_real), ops.zeros_like(p_fake)], axis=0)
        return ops.mean(binary_crossentropy(ops.cast(targets, "float32"), probs))

    def generator_loss(self, noise, fake_labels, training=True):
        fake = self.generator([noise, fake_labels], training=training)
        p_fake = ops.cast(self.discriminator([fake, fake_labels], training=training), "float32")
        return ops.mean(binary_crossentropy(ops.ones_like(p_fake), p_fake))

    # Keras calls train_step(data) on TensorFlow and PyTorch and
    # train_step(state, data) on JAX; cgan.backends adapts one step to both.
    def train_step(self, *args):
        return self._backend.run_step(self, self._train_step, args)

    def test_step(self, *args):
        return self._backend.run_step(self, self._test_step, args)

    def _train_step(self, data, minimize):
        real, labels = self._unpack(data)
        batch = ops.shape(real)[0]
        noise, fake_labels = self.sample_latent(batch)
        d_loss = minimize(lambda: self.discriminator_loss(real, labels, noise, fake_labels),
                          self.discriminator.trainable_variables, self.d_optimizer)
        noise, fake_labels = self.sample_latent(batch)
        g_loss = minimize(lambda: self.generator_loss(noise, fake_labels),
                          self.generator.trainable_variables, self.g_optimizer)
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
