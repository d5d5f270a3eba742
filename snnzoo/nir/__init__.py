"""NIR (Neuromorphic Intermediate Representation, Pedersen et al., Nature Communications 2024):
export snnzoo models to NIR graphs and import NIR graphs written by other frameworks.

``to_nir(model, dt=1e-4)`` returns a ``nir.NIRGraph``; ``from_nir(graph_or_path, dt=1e-4)``
returns a Keras model mapping ``[batch, time, *input]`` to ``[batch, time, *output]`` (channels
last). The ``nir`` package is an optional dependency: ``pip install "snnzoo[nir]"``.
"""

__all__ = ["to_nir", "from_nir", "require_nir", "NIRGraphLayer"]

from snnzoo.nir.graph_layer import NIRGraphLayer  # noqa: E402  (keras + numpy only, not nir)


def require_nir():
    """The ``nir`` module, or one ImportError that names the install command."""
    try:
        import nir
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "snnzoo.nir needs the 'nir' package (NIR graphs): pip install \"snnzoo[nir]\" "
            "(or pip install \"nir>=1.0.4\")"
        ) from err
    return nir


def to_nir(model, dt=1e-4, **kwargs):
    """Export a Keras/snnzoo model to a ``nir.NIRGraph`` (see :mod:`snnzoo.nir.export`)."""
    from snnzoo.nir.export import to_nir as _to_nir

    return _to_nir(model, dt=dt, **kwargs)


def from_nir(graph_or_path, dt=1e-4, **kwargs):
    """Import a NIR graph (object or ``.nir`` file) as a Keras model (see :mod:`snnzoo.nir.importer`)."""
    from snnzoo.nir.importer import from_nir as _from_nir

    return _from_nir(graph_or_path, dt=dt, **kwargs)
