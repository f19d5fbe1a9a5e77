"""JAX: the same stateful step, run inside a `StatelessScope`.

Keras's JAX trainer is functional: `fit` calls `train_step(state, data)` with
the values of (trainable, non-trainable, optimizer, metric) variables and
expects `(logs, new_state)` back, usually under `jax.jit`. Rather than
rewriting the GAN step in that style, `run_step` maps every variable to its
value in one `StatelessScope`, runs the ordinary step, and collects the new
values from the scope. Two consequences the tests pin down:

* `state` holds `model.optimizer.variables` only (keras issue 19358), so
  `ConditionalGAN.optimizer` exposes the variables of *both* optimizers;
  otherwise their updates would be dropped after every step.
* Random sampling (`keras.random` with a `SeedGenerator`, Dropout) updates
  seed variables, which must happen inside the scope so the new seeds travel
  with the state instead of being baked into the traced function.
"""
from __future__ import annotations

import jax
from keras import StatelessScope
from keras.src.backend.common.stateless_scope import get_stateless_scope


class _StepScope(StatelessScope):
    """A StatelessScope that also remembers which variables it maps."""

    def __init__(self, variables, values):
        super().__init__(state_mapping=list(zip(variables, values)))
        self.variables = list(variables)

    def values(self, variables):
        return [self.get_current_value(v) for v in variables]


def _groups(model, state):
    """The variable lists matching `state`, in the trainer's order."""
    if len(state) == 4:  # train: trainable, non-trainable, optimizer, metrics
        return [model.trainable_variables, model.non_trainable_variables, model.optimizer.variables,
                model.metrics_variables]
    return [model.trainable_variables, model.non_trainable_variables, model.metrics_variables]


def run_step(model, step, args):
    state, data = args
    groups = _groups(model, state)
    variables = [v for group in groups for v in group]
    values = [value for group_values in state for value in group_values]
    with _StepScope(variables, values) as scope:
        logs = step(data, minimize=minimize)
    return logs, tuple(scope.values(group) for group in groups)


def minimize(loss_fn, variables, optimizer):
    outer = get_stateless_scope()
    if not isinstance(outer, _StepScope):
        raise RuntimeError("cgan's JAX minimize must run inside ConditionalGAN.train_step")
    differentiated = {id(v) for v in variables}
    others = [v for v in outer.variables if id(v) not in differentiated]

    def loss_of(trainable_values):
        with _StepScope(variables + others, trainable_values + outer.values(others)) as inner:
            loss = loss_fn()
        # Batch-norm statistics and seeds that the forward pass moved.
        return loss, inner.values(others)

    (loss, moved), grads = jax.value_and_grad(loss_of, has_aux=True)(outer.values(variables))
    for variable, value in zip(others, moved):
        outer.add_update((variable, value))
    optimizer.apply(grads, variables)  # assigns into `outer`, like every update in the step
    return loss
