"""Value and gradients of a Keras model on the active backend, through each backend's own autodiff
(test-only helper)."""
import keras
import numpy as np


def value_and_grads(model, x, loss_fn):
    """loss = loss_fn(model(x)) → (outputs as numpy, loss, d loss/d x, [d loss/d w for trainable w])."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        xt = torch.tensor(x, requires_grad=True)
        out = model(xt, training=False)
        loss = loss_fn(out)
        for v in model.trainable_variables:
            v.value.grad = None
        loss.backward()
        grads = [v.value.grad.detach().cpu().numpy() for v in model.trainable_variables]
        outs = out if isinstance(out, (list, tuple)) else [out]
        return ([o.detach().cpu().numpy() for o in outs], float(loss.detach()), xt.grad.detach().cpu().numpy(), grads)
    if backend == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            out = model(xt, training=False)
            loss = loss_fn(out)
        g = tape.gradient(loss, [xt] + [v.value for v in model.trainable_variables])
        outs = out if isinstance(out, (list, tuple)) else [out]
        return ([np.asarray(o) for o in outs], float(loss), np.asarray(g[0]), [np.asarray(a) for a in g[1:]])
    if backend == "jax":
        import jax

        tv = [v.value for v in model.trainable_variables]
        ntv = [v.value for v in model.non_trainable_variables]

        def f(xv, tvv):
            out, _ = model.stateless_call(tvv, ntv, xv, training=False)
            return loss_fn(out), out

        (loss, out), (gx, gw) = jax.value_and_grad(f, argnums=(0, 1), has_aux=True)(x, tv)
        outs = out if isinstance(out, (list, tuple)) else [out]
        return ([np.asarray(o) for o in outs], float(loss), np.asarray(gx), [np.asarray(a) for a in gw])
    raise RuntimeError(backend)


def variable_value_and_grads(loss_fn, variables, jit=False):
    """Backend-native autodiff of ``loss_fn()`` (no arguments) w.r.t. keras Variables →
    (loss, [grads]) as numpy. JAX: inside a StatelessScope that collects added losses, so
    ``model.losses`` works in ``loss_fn``; ``jit=True`` compiles it."""
    from keras import ops

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        grads = tape.gradient(loss, [v.value for v in variables])
    elif backend == "torch":
        import torch

        loss = loss_fn()
        grads = torch.autograd.grad(loss, [v.value for v in variables])
    elif backend == "jax":
        import jax

        def f(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values)), collect_losses=True):
                return loss_fn()

        grad_fn = jax.value_and_grad(f)
        loss, grads = (jax.jit(grad_fn) if jit else grad_fn)([v.value for v in variables])
    else:
        raise RuntimeError(f"no autodiff for backend {backend}")
    return float(ops.convert_to_numpy(loss)), [np.asarray(ops.convert_to_numpy(g)) for g in grads]
