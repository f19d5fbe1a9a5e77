"""Run in a subprocess by tests/models/test_spectral_norm.py with KERAS_BACKEND set.

    python tests/sn_gradient.py

Builds one spectrally normalized Dense layer (cgan.models.common.spectral_norm_wrapper) with fixed
weights, power-iteration vector u and input, takes one step of SGD with learning rate 1 through
cgan's own backend code (cgan.training.backends: the gradient the optimizer really sees), and prints the
gradient (weights before minus after), u after the step, and the layer's output, as one JSON line.
"""
import json

import keras
import numpy as np
from keras import ops

from cgan.models.common import spectral_norm_wrapper
from cgan.training.backends import backend_module

IN, OUT, BATCH = 5, 3, 4


def fixed_values():
    rng = np.random.default_rng(7)
    return {"kernel": rng.normal(0, 1, (IN, OUT)), "bias": rng.normal(0, 1, OUT), "u": rng.normal(0, 1, (1, OUT)),
            "x": rng.normal(0, 1, (BATCH, IN)), "cotangent": rng.normal(0, 1, (BATCH, OUT))}


def sgd_step(layer, loss_fn, optimizer):
    """New values of (trainable weights, vector_u) after one `minimize` of cgan's active backend."""
    variables = layer.trainable_variables
    if keras.backend.backend() != "jax":
        backend_module().minimize(loss_fn, variables, optimizer)
        return [ops.convert_to_numpy(v) for v in variables], ops.convert_to_numpy(layer.vector_u)
    from cgan.training.backends.jax_grads import _StepScope, minimize  # JAX's minimize runs inside the step's scope

    state = layer.weights + optimizer.variables
    with _StepScope(state, [v.value for v in state]) as scope:
        minimize(loss_fn, variables, optimizer)
    return [np.asarray(v) for v in scope.values(variables)], np.asarray(scope.values([layer.vector_u])[0])


def main() -> dict:
    values = {k: v.astype("float32") for k, v in fixed_values().items()}
    layer = spectral_norm_wrapper(True)(keras.layers.Dense(OUT, name="dense"))
    layer.build((None, IN))
    layer.layer.kernel.assign(values["kernel"])
    layer.layer.bias.assign(values["bias"])
    layer.vector_u.assign(values["u"])
    x, cotangent = ops.convert_to_tensor(values["x"]), ops.convert_to_tensor(values["cotangent"])
    output = ops.convert_to_numpy(layer(x, training=False))
    optimizer = keras.optimizers.SGD(learning_rate=1.0)
    optimizer.build(layer.trainable_variables)
    (kernel, bias), u = sgd_step(layer, lambda: ops.sum(cotangent * layer(x, training=True)), optimizer)
    return {"backend": keras.backend.backend(), "output": output.tolist(),
            "kernel_grad": (values["kernel"] - kernel).tolist(), "bias_grad": (values["bias"] - bias).tolist(),
            "u_after": u.tolist()}


if __name__ == "__main__":
    print("REPORT " + json.dumps(main()))
