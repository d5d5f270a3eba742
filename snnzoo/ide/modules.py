"""The linear modules of an IDE feedback network: description, geometry, forward and transpose.

A module (Xiao et al., NeurIPS 2021: the feed-forward S_i and the feedback F_s of the equivalent
map f, Eq. 5/7) is a dict ``{"kind": "dense" | "conv" | "conv_transpose", "filters", ...}``
(:func:`module_spec`). Its linear part y = W ∗ x follows PyTorch's geometry (symmetric zero
padding, implemented as explicit padding + "valid" ops, channels last), and :func:`module_vjp`
is its transpose (∂y/∂x)ᵀ g, written by hand for the adjoint solve of the implicit gradient:

    dense: gWᵀ,   conv: conv-transpose of g,   conv-transpose: conv of g (re-embedded).
"""
from keras import ops

__all__ = ["KINDS", "check_rank", "kernel_shape", "module_apply", "module_spec", "module_vjp",
           "out_shape"]

_MODULE_KEYS = {
    "kind", "filters", "kernel_size", "strides", "padding", "output_padding", "use_bias", "batch_norm",
}
KINDS = ("dense", "conv", "conv_transpose")


def module_spec(spec, name="module"):
    """Validate a module description and fill in defaults.

    A module is a dict: ``kind`` ("dense" | "conv" | "conv_transpose"), ``filters`` (units or
    output channels), ``kernel_size``, ``strides``, ``padding`` and ``output_padding`` (ints with
    PyTorch semantics: symmetric zero padding), ``use_bias``, ``batch_norm``.
    """
    if not isinstance(spec, dict):
        raise ValueError(f"{name} must be a dict like {{'kind': 'conv', 'filters': 64, "
                         f"'kernel_size': 5, 'padding': 2}}, got {spec!r}")
    unknown = set(spec) - _MODULE_KEYS
    if unknown:
        raise ValueError(f"{name}: unknown keys {sorted(unknown)}; allowed: {sorted(_MODULE_KEYS)}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{name}: 'kind' must be one of {KINDS}, got {kind!r}")
    if "filters" not in spec:
        raise ValueError(f"{name}: 'filters' (units / output channels) is required")
    out = {
        "kind": kind,
        "filters": int(spec["filters"]),
        "kernel_size": int(spec.get("kernel_size", 1 if kind == "dense" else 3)),
        "strides": int(spec.get("strides", 1)),
        "padding": int(spec.get("padding", 0)),
        "output_padding": int(spec.get("output_padding", 0)),
        "use_bias": bool(spec.get("use_bias", False)),
        "batch_norm": bool(spec.get("batch_norm", False)),
    }
    if out["filters"] < 1 or out["kernel_size"] < 1 or out["strides"] < 1 or out["padding"] < 0:
        raise ValueError(f"{name}: filters, kernel_size, strides must be >= 1, padding >= 0: {out}")
    if kind == "conv_transpose" and out["kernel_size"] < out["strides"]:
        raise ValueError(f"{name}: conv_transpose needs kernel_size >= strides")
    return out


def check_rank(spec, shape, name):
    """A dense module needs per-sample inputs of rank 1, a convolution rank 3 (H, W, C)."""
    want = 1 if spec["kind"] == "dense" else 3
    if len(shape) != want:
        raise ValueError(f"{name} ({spec['kind']}) needs inputs of rank {want} per sample "
                         f"(flatten / reshape first), got per-sample shape {shape}")


def out_shape(spec, in_shape):
    """Per-sample output shape of a module for a per-sample input shape (PyTorch arithmetic)."""
    k, s, p = spec["kernel_size"], spec["strides"], spec["padding"]
    if spec["kind"] == "dense":
        return (spec["filters"],)
    h, w = in_shape[0], in_shape[1]
    if spec["kind"] == "conv":
        return ((h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, spec["filters"])
    op = spec["output_padding"]
    return ((h - 1) * s - 2 * p + k + op, (w - 1) * s - 2 * p + k + op, spec["filters"])


def kernel_shape(spec, in_shape):
    """Keras kernel shape: dense (in, out), conv (k, k, in, out), conv-transpose (k, k, out, in)."""
    k = spec["kernel_size"]
    if spec["kind"] == "dense":
        return (in_shape[0], spec["filters"])
    if spec["kind"] == "conv":
        return (k, k, in_shape[-1], spec["filters"])
    return (k, k, spec["filters"], in_shape[-1])


def _fit_length(x, axis, start, length):
    """x[start:start+length] along a spatial axis, zero-padding the end where x is too short."""
    size = x.shape[axis]
    stop = start + length
    if stop > size:
        pads = [[0, 0]] * len(x.shape)
        pads[axis] = [0, stop - size]
        x = ops.pad(x, pads)
    idx = [slice(None)] * len(x.shape)
    idx[axis] = slice(start, stop)
    return x[tuple(idx)]


def _conv_t_valid(x, kernel, s):
    return ops.conv_transpose(x, kernel, strides=s, padding="valid")


def module_apply(spec, x, kernel):
    """Linear part of a module (PyTorch semantics), channels last."""
    kind, s, p = spec["kind"], spec["strides"], spec["padding"]
    if kind == "dense":
        return ops.einsum("bi,io->bo", x, kernel)
    if kind == "conv":
        if p:
            x = ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]])
        return ops.conv(x, kernel, strides=s, padding="valid")
    out_h, out_w, _ = out_shape(spec, x.shape[1:])
    y = _conv_t_valid(x, kernel, s)
    y = _fit_length(y, 1, p, out_h)
    return _fit_length(y, 2, p, out_w)


def module_vjp(spec, g, kernel, in_shape):
    """(∂ module_apply / ∂x)ᵀ g for an input of shape ``in_shape`` (no batch)."""
    kind, k, s, p = spec["kind"], spec["kernel_size"], spec["strides"], spec["padding"]
    if kind == "dense":
        return ops.einsum("bo,io->bi", g, kernel)
    if kind == "conv":
        y = _conv_t_valid(g, kernel, s)  # w.r.t. the padded input (up to its unused tail)
        y = _fit_length(y, 1, p, in_shape[0])
        return _fit_length(y, 2, p, in_shape[1])
    # conv_transpose: re-embed g into the un-cropped output, then convolve
    full = (in_shape[0] - 1) * s + k, (in_shape[1] - 1) * s + k
    for axis in (1, 2):
        size = g.shape[axis]
        keep = min(size, full[axis - 1] - p)
        idx = [slice(None)] * 4
        idx[axis] = slice(0, keep)
        g = g[tuple(idx)]
        pads = [[0, 0]] * 4
        pads[axis] = [p, full[axis - 1] - p - keep]
        g = ops.pad(g, pads)
    return ops.conv(g, kernel, strides=s, padding="valid")
