"""TensorFlow: gradients through a GradientTape."""
import tensorflow as tf


def minimize(loss_fn, variables, optimizer):
    with tf.GradientTape() as tape:
        loss = loss_fn()
    grads = tape.gradient(loss, variables)
    optimizer.apply(grads, variables)
    return loss
