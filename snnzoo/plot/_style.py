"""Shared pieces of the :mod:`snnzoo.plot` functions: the lazy matplotlib import, figure creation
and saving, input conversion and layer lookup.

Figures are made with ``matplotlib.figure.Figure`` (not ``pyplot``): no GUI backend is touched, no
global figure list grows, and the functions work in scripts, notebooks and headless CI alike.
"""
import numpy as np

__all__ = ["figure", "finish", "find_layer", "record_layer", "suptitle", "to_numpy"]

_INSTALL = 'snnzoo.plot needs matplotlib: pip install "snnzoo[plot]"'


def _matplotlib_figure():
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # one clear message instead of a bare ModuleNotFoundError
        raise ImportError(_INSTALL) from err
    return Figure


def figure(nrows=1, ncols=1, figsize=(6.4, 4.0), **kwargs):
    """A new ``(Figure, axes)`` pair, axes as ``Figure.subplots`` returns them."""
    fig = _matplotlib_figure()(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, **kwargs)
    return fig, axes


def finish(fig, path=None, dpi=100):
    """Write ``fig`` as a PNG to ``path`` (if given) and return it."""
    if path is not None:
        fig.savefig(path, dpi=dpi, format="png")
    return fig


def suptitle(fig, text, width=72):
    """The figure title, wrapped to lines of ``width`` characters."""
    import textwrap

    fig.suptitle(textwrap.fill(str(text), width), fontsize="medium")


def to_numpy(x, name="input"):
    """``x`` (array, tensor, list) as a float64 numpy array."""
    try:
        import keras

        arr = keras.ops.convert_to_numpy(x) if not isinstance(x, np.ndarray) else x
        return np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected an array or tensor of numbers, got {type(x).__name__}") from err


def find_layer(model, layer, types=None, what="layer"):
    """The layer of ``model`` that ``layer`` names: a layer object, its name, or its path
    (``"outer/inner/lif"``, as :mod:`snnzoo.metrics` keys rates). ``types`` restricts the choice;
    the error lists the candidates."""
    from snnzoo.layers.find import find_layers
    from snnzoo.metrics import layer_paths

    candidates = find_layers(model, types) if types is not None else list(
        model._flatten_layers(include_self=False, recursive=True))
    paths = layer_paths(model, candidates)
    if not isinstance(layer, str):
        if any(c is layer for c in candidates):
            return layer
        raise ValueError(f"{getattr(layer, 'name', layer)!r} is not a {what} of model '{model.name}'; "
                         f"choose one of {[paths[id(c)] for c in candidates]}")
    for c in candidates:
        if layer in (c.name, paths[id(c)]):
            return c
    other = [c for c in model._flatten_layers(include_self=False, recursive=True) if c.name == layer]
    kind = f" ('{layer}' is a {type(other[0]).__name__})" if other else ""
    raise ValueError(f"model '{model.name}' has no {what} named {layer!r}{kind}; choose one of "
                     f"{[paths[id(c)] for c in candidates]}")


def record_layer(model, x, layer, which="output"):
    """The output (or, ``which="input"``, the input) of ``layer`` when ``model`` runs on ``x``
    (inference), as numpy, recorded by :func:`snnzoo.profiling.record.record_calls`: the model is
    not changed. A layer called several times gives its last call."""
    from snnzoo.profiling.record import record_calls

    _, calls = record_calls(model, x, [layer], inputs=which == "input")
    recs = next(iter(calls.values()))
    if not recs:
        raise ValueError(f"layer '{layer.name}' was not called by model '{model.name}' on this input")
    arg, out = recs[-1]
    value = arg if which == "input" else out
    if isinstance(value, (list, tuple)):  # (spikes, membrane) of a return_membrane neuron
        value = value[0]
    return to_numpy(value, f"{which} of layer '{layer.name}'")
