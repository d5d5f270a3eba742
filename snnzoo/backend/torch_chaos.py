"""The CSBP chaotic loss of many tensors as one torch autograd function (torch backend fast path,
reached through :func:`snnzoo.backend.torch.chaotic_loss_entry` / ``chaotic_loss_batch``;
formerly ``snnzoo.chaos.fused_torch``).

Same value and gradient as the generic ``keras.ops`` path of
:class:`snnzoo.chaos.ChaoticRegularizer` (tested in tests/test_chaos_fused_torch.py). In a
training step the probes of one regularizer (:func:`snnzoo.chaos.attach_chaos`) only record their
tensor; the loss of all of them is then computed in one call, with torch's multi-tensor
(``_foreach_*``) kernels: a handful of kernel launches and Python calls per step instead of ~20
per probe, which is what a launch-bound GPU step pays for (measured with
benchmarks/chaos_overhead.py, see README).

For every entry k, a tensor ``v_k`` (the SUM over time of a probe's [B, T, ...] input in the
paper form, the input itself in the code form; Wang, Tao & Chen, NSR 2024, Eq. 2–5)::

    a_k = v_k · s_k                       (s_k = 1/T_k: the time mean)
    a_k = clamp(a_k, lo, hi)              (code form: zero gradient outside, the authors' ``where``)
    a_k = a_k / temperature,  a_k = clip(a_k, ±LINEAR_FROM)
    L_k = z · f_k · Σ ℓ(a_k),  ℓ(a) = softplus(a) − I0·a ≥ 0     (f_k: 1/B, 1/N or 1)
    L   = Σ_k L_k

Backward: ∂L/∂v_k = z · f_k · s_k · (σ(a_k) − I0) · 1[lo < a_k < hi] / temperature; the time sum's
own backward (torch's C++ ``SumBackward``) broadcasts it over t.
"""
import torch

_FLOATS = (torch.float32, torch.float64)


class Entry(tuple):
    """``(v, s, f)`` of one tensor for the eager multi-tensor path (:func:`chaos_entry`)."""

    @property
    def key(self):
        """Entries with equal keys (dtype, device) are computed in one fused call."""
        return self[0].dtype, self[0].device

    time_slices = None


class Precomputed(Entry):
    """An entry whose loss was already computed at record time: ``(loss, slices)``, ``slices``
    the time slices of x returned with it (``split_time``) or None."""

    @property
    def time_slices(self):
        return self[1]


def fused_ok(x):
    """True when the fused path applies: a floating torch tensor (float32/float64)."""
    return isinstance(x, torch.Tensor) and x.dtype in _FLOATS


def chaos_entry(x, time_axis, reduction):
    """``(v, s, f)`` for one tensor x: v the sum over ``time_axis`` (or x itself when None),
    s = 1/T, f the reduction's factor (1/B for "batch_mean", 1/N for "mean", else 1)."""
    if time_axis is None:
        v, scale = x, 1.0
    else:
        v, scale = x.sum(dim=time_axis), 1.0 / x.shape[time_axis]
    return Entry((v, scale, _reduction_factor(reduction, v.numel(), v.dim(),
                                              v.shape[0] if v.dim() else 1)))


def _reduction_factor(reduction, numel, rank, batch):
    """1/N for "mean", 1 for "sum" (or a 0-d tensor), 1/B for "batch_mean" (sum over the
    non-batch axes, mean over the batch)."""
    if reduction == "mean":
        return 1.0 / max(numel, 1)
    if reduction == "sum" or rank == 0:
        return 1.0
    return 1.0 / max(batch, 1)


class _ChaoticLossBatch(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, config, *vs):
        i0, clamp, temperature, linear_from, scales, factors = config
        if clamp is None:
            a = torch._foreach_mul(vs, [s / temperature for s in scales])
            masks = None
        else:
            low, high = clamp
            a = torch._foreach_mul(vs, list(scales))
            masks = [(t > low) & (t < high) for t in a]
            a = [torch.where(t > low, torch.where(t < high, t, high), low) for t in a]
            if temperature != 1.0:
                torch._foreach_div_(a, temperature)
        torch._foreach_clamp_min_(a, -linear_from)
        torch._foreach_clamp_max_(a, linear_from)
        ell = [torch.nn.functional.softplus(t) for t in a]
        torch._foreach_add_(ell, a, alpha=-i0)  # ℓ = softplus(a) − I0·a, one temporary
        # Σ ℓ per entry (ℓ ≥ 0, so its 1-norm), accumulated in float64: in float32 torch's CPU
        # foreach norm is off by up to ~1e-4 relative on 10⁶ elements (its sum: ~1e-8)
        sums = torch._foreach_norm(ell, 1, dtype=torch.float64)
        del ell
        torch._foreach_mul_(sums, list(factors))
        unscaled = torch.stack(sums).to(z.dtype)  # L_k / z
        per_entry = unscaled * z
        ctx.config = (i0, [f * s / temperature for f, s in zip(factors, scales)])
        ctx.save_for_backward(z, unscaled, *a, *(masks or ()))
        ctx.mark_non_differentiable(per_entry)
        return per_entry.sum(), per_entry

    @staticmethod
    def backward(ctx, upstream, _unused):
        z, unscaled, *saved = ctx.saved_tensors
        i0, gains = ctx.config
        n = len(gains)
        a, masks = saved[:n], saved[n:]
        grad_z = None
        if ctx.needs_input_grad[0]:
            grad_z = upstream * unscaled.sum()
        if not any(ctx.needs_input_grad[2:]):
            return (grad_z, None) + (None,) * n
        grads = torch._foreach_sigmoid(a)
        torch._foreach_sub_(grads, i0)
        torch._foreach_mul_(grads, gains)
        torch._foreach_mul_(grads, upstream * z)
        for grad, mask in zip(grads, masks):  # code form: zero gradient outside the clamp
            grad.mul_(mask)
        return (grad_z, None) + tuple(grads)


def _z_like(z, x):
    """z (a float or a tensor) as a 0-d tensor of x's dtype on x's device."""
    if not isinstance(z, torch.Tensor):
        z = torch.as_tensor(z, device=x.device)
    if z.dtype != x.dtype or z.device != x.device:
        z = z.to(device=x.device, dtype=x.dtype)
    return z


def fused_chaotic_loss_batch(entries, z, i0, clamp, temperature, linear_from):
    """``(L, [L_k])`` for ``entries`` = [(v, s, f), ...] from :func:`chaos_entry` (one dtype and
    device); z a 0-d tensor or a float. ``L`` is differentiable w.r.t. every v and z; the
    per-entry values are not (statistics)."""
    vs = [e[0] for e in entries]
    z = _z_like(z, vs[0])
    config = (float(i0), clamp, float(temperature), float(linear_from),
              tuple(e[1] for e in entries), tuple(e[2] for e in entries))
    return _ChaoticLossBatch.apply(z, config, *vs)


# -- CPU: one compiled kernel per tensor -----------------------------------------------------
#: Tensors at least this large (elements) take the compiled CPU path (below); smaller ones the
#: multi-tensor eager path (compiling costs ~12 s once per process, worth it only for large layers).
COMPILE_MIN_ELEMENTS = 1 << 20
#: At most this many input layouts (shapes, strides) are compiled per kernel; tensors of further
#: layouts take the eager path (see _compiled_fn).
STATIC_LAYOUTS_MAX = 6
_compiled = {}  # function -> its compiled version
_layouts = {}  # function -> the input layouts compiled for it
_compiler_broken = False


def _kernel(x, time_axis, scale, i0, linear_from):
    """Σ ℓ(a) and σ(a) − I0 for a = clip(scale · Σ_t x, ±linear_from), in one pass over x, from
    one exponential: r = σ(|a|) = 1 / (1 + e^{−|a|}), σ(a) = r or e^{−|a|}·r, and
    softplus(a) = relu(a) − ln r (a log of r, already computed, is cheaper than log1p(e^{−|a|}):
    4.5 against 5.0 ms for [32, 2, 32, 32, 128] here; ℓ ≥ 0.647, the entropy of I0 = 0.65, so
    ln r's absolute error from rounding r, ≤ 6e-8, is about one float32 rounding of ℓ)."""
    v = x if time_axis is None else x.sum(dim=time_axis)
    a = (v * scale).clamp(-linear_from, linear_from)
    e = torch.exp(-a.abs())
    r = 1.0 / (1.0 + e)
    grad = torch.where(a >= 0, r, e * r) - i0
    return (torch.relu(a) - torch.log(r) - i0 * a).sum(), grad


def _stack_plus_kernel(slices, grad, coef, time_axis):
    """stack(slices, time_axis) + coef · grad broadcast over time, written in one pass."""
    g = grad * coef
    return torch.stack([s + g for s in slices], dim=time_axis)


def _compiled_fn(fn, layout):
    """``torch.compile(fn, dynamic=False)`` (built once per process) to be called on inputs of
    ``layout`` (shapes, strides, dtype and constants: what its guards check), or None once
    STATIC_LAYOUTS_MAX other layouts were compiled for ``fn`` (then the caller's eager path).

    Static shapes: torch's inductor then fuses the time sum into the one pass over x (the time
    axis unrolled); with ``dynamic=True`` it writes the sum out and reads it back in a second
    loop. Measured for [32, 2, 32, 32, 128] on the 2-core CPU: 4.1 ms against 7.8 ms.
    Dynamo recompiles the function once per new layout, up to its ``recompile_limit`` (8)."""
    seen = _layouts.setdefault(fn, set())
    if layout not in seen:
        if len(seen) >= STATIC_LAYOUTS_MAX:
            return None
        seen.add(layout)
    if fn not in _compiled:
        _compiled[fn] = torch.compile(fn, dynamic=False)
    return _compiled[fn]


def forget_compiled_layouts():
    """Forget the layouts compiled so far (and dynamo's compiled versions of the kernels), e.g.
    between tests: the next STATIC_LAYOUTS_MAX layouts compile again."""
    reset_code = getattr(torch._dynamo, "reset_code", None)
    for fn in _layouts:
        if reset_code is not None:
            reset_code(fn.__code__)
    if reset_code is None and _layouts:  # pragma: no cover - older/newer torch: forget all
        torch._dynamo.reset()
    _layouts.clear()


def _layout(tensor):
    return tuple(tensor.shape), tensor.stride(), tensor.dtype


def _stack_plus(slices, grad, coef, time_axis):
    try:
        kernel = _compiled_fn(_stack_plus_kernel,
                              (_layout(slices[0]), len(slices), _layout(grad), time_axis))
        if kernel is not None:
            return kernel(list(slices), grad, coef, time_axis)
    except Exception:  # noqa: BLE001 - the compiler broke after the forward kernel worked
        pass
    return torch.stack(slices, dim=time_axis).add_((grad * coef).unsqueeze(time_axis))


class _CompiledChaoticLoss(torch.autograd.Function):
    """L = z·f·Σℓ of one tensor x; with ``split`` also the time slices of x (views), so that
    x's gradient is written once in backward: stack(∂/∂slices) + ∂L/∂x. A layer that consumes
    the slices instead of unstacking x itself (the spiking neurons' time loop) then pays for the
    chaotic loss's gradient only one read of σ − I0, not a second pass over its input gradient."""

    @staticmethod
    def forward(ctx, x, z, kernel, time_axis, scale, factor, i0, linear_from, split):
        total, grad = kernel(x, time_axis, scale, i0, linear_from)
        unscaled = total * factor
        ctx.save_for_backward(grad, z, unscaled)
        ctx.config = (time_axis, tuple(x.shape), factor * scale)
        loss = unscaled * z
        return (loss,) + x.unbind(time_axis) if split else loss

    @staticmethod
    def backward(ctx, upstream, *grad_slices):
        grad, z, unscaled = ctx.saved_tensors
        time_axis, shape, gain = ctx.config
        grad_x = grad_z = None
        if ctx.needs_input_grad[0]:
            coef = upstream * z * gain
            if grad_slices:
                grad_x = _stack_plus(grad_slices, grad, coef, time_axis)
            else:
                grad_x = grad * coef
                if time_axis is not None:
                    grad_x = grad_x.unsqueeze(time_axis).expand(shape)
        if ctx.needs_input_grad[1]:
            grad_z = upstream * unscaled
        return grad_x, grad_z, None, None, None, None, None, None, None


def compiled_chaotic_loss(x, time_axis, reduction, z, i0, clamp, temperature, linear_from,
                          split_time=False):
    """``Precomputed((L, slices))`` from one compiled CPU kernel (x read once, σ and ℓ from one
    exponential), or None where it does not apply: not on CPU, smaller than
    COMPILE_MIN_ELEMENTS, a clamp, inside an outer torch.compile, a layout beyond the first
    STATIC_LAYOUTS_MAX, or no working compiler (then never tried again). ``split_time`` (and a
    time axis): ``slices`` = x unbound along it, to be used in place of x's own time slices (see
    :class:`_CompiledChaoticLoss`); else None.
    Measured: all 18 ResNet-19 layers (T=2, B=32) 0.072 s forward + backward on the 2-core CPU
    (static-shape kernels, slices used), against 0.23 s for the eager multi-tensor path."""
    global _compiler_broken
    if (_compiler_broken or clamp is not None or x.device.type != "cpu"
            or x.numel() < COMPILE_MIN_ELEMENTS or torch.compiler.is_compiling()):
        return None
    steps = x.shape[time_axis] if time_axis is not None else 1
    scale = 1.0 / (steps * temperature)
    factor = _reduction_factor(reduction, x.numel() // steps, x.dim() - (time_axis is not None),
                               x.shape[0 if time_axis != 0 else 1])
    split = bool(split_time and time_axis is not None)
    i0, linear_from = float(i0), float(linear_from)
    kernel = _compiled_fn(_kernel, (_layout(x), time_axis, scale, i0, linear_from))
    if kernel is None:  # STATIC_LAYOUTS_MAX layouts compiled already
        return None
    z = _z_like(z, x)
    try:
        out = _CompiledChaoticLoss.apply(x, z, kernel, time_axis, scale, factor, i0, linear_from,
                                         split)
    except Exception:  # noqa: BLE001 - no C++ compiler, unsupported platform: eager path
        _compiler_broken = True
        return None
    return Precomputed((out[0], out[1:])) if split else Precomputed((out, None))
