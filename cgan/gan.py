"""`ConditionalGAN`: a Keras model that trains a conditional G/D pair with `fit`.

The losses are the conditional minimax game of Mirza & Osindero (2014) with the
non-saturating generator loss: D minimises BCE on real (label 1) and generated
(label 0) images, G minimises BCE of D's verdict on its images against label 1.
Fake images are generated for uniformly random labels.
"""
from __future__ import annotations

import keras
from keras import ops

from cgan.backends import gradient_step


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

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(jit_compile=False, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Built up front so their variables exist before the first (possibly traced) step.
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self._minimize = gradient_step()

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
        targets = ops.concatenate([ops.ones_like(p_real), ops.zeros_like(p_fake)], axis=0)
        return ops.mean(keras.losses.binary_crossentropy(targets, ops.concatenate([p_real, p_fake], axis=0)))

    def generator_loss(self, noise, fake_labels, training=True):
        fake = self.generator([noise, fake_labels], training=training)
        p_fake = self.discriminator([fake, fake_labels], training=training)
        return ops.mean(keras.losses.binary_crossentropy(ops.ones_like(p_fake), p_fake))

    def train_step(self, data):
        real, labels = data
        labels = ops.reshape(ops.cast(labels, "int32"), (-1, 1))
        batch = ops.shape(real)[0]
        noise, fake_labels = self.sample_latent(batch)
        d_loss = self._minimize(lambda: self.discriminator_loss(real, labels, noise, fake_labels),
                                self.discriminator.trainable_variables, self.d_optimizer)
        noise, fake_labels = self.sample_latent(batch)
        g_loss = self._minimize(lambda: self.generator_loss(noise, fake_labels),
                                self.generator.trainable_variables, self.g_optimizer)
        return self._report(d_loss, g_loss)

    def test_step(self, data):
        real, labels = data
        labels = ops.reshape(ops.cast(labels, "int32"), (-1, 1))
        noise, fake_labels = self.sample_latent(ops.shape(real)[0])
        d_loss = self.discriminator_loss(real, labels, noise, fake_labels, training=False)
        g_loss = self.generator_loss(noise, fake_labels, training=False)
        return self._report(d_loss, g_loss)

    def _report(self, d_loss, g_loss):
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        # The *_step values feed the per-iteration CSV; the trackers give epoch means.
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result(),
                "d_loss_step": d_loss, "g_loss_step": g_loss}
