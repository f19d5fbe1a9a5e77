"""PyTorch: autograd with `backward()`; the optimizer update runs without grad tracking."""
import torch

from cgan.training.backends import run_stateful_step as run_step  # noqa: F401  (the module's step protocol)


def minimize(loss_fn, variables, optimizer):
    # The G step back-propagates through D too; clearing here keeps those stray
    # gradients from leaking into the next D update.
    for v in variables:
        v.value.grad = None
    loss = loss_fn()
    loss.backward()
    grads = [v.value.grad for v in variables]
    with torch.no_grad():
        optimizer.apply(grads, variables)
    return loss.detach()
