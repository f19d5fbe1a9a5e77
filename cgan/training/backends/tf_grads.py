"""TensorFlow: gradients through a GradientTape."""
import tensorflow as tf

from cgan.training.backends import run_stateful_step as run_step  # noqa: F401  (the module's step protocol)


def minimize(loss_fn, variables, optimizer):
    with tf.GradientTape() as tape:
        loss = loss_fn()
    grads = tape.gradient(loss, variables)
    optimizer.apply(grads, variables)
    return loss
