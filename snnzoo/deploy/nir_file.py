"""``format="nir"``: a NIR graph file (``.nir``, HDF5) written by :func:`snnzoo.nir.to_nir` and
``nir.write``; the snnzoo metadata goes into ``graph.metadata``."""

__all__ = ["write_nir"]


def write_nir(model, path, metadata, dt=1e-4):
    """``nir.write(path, to_nir(model, dt))`` with ``metadata`` merged into the graph's."""
    from snnzoo.nir import require_nir, to_nir

    nir = require_nir()
    try:
        graph = to_nir(model, dt=dt)
    except ImportError as err:
        if "snnzoo.nir.export" in str(err) or getattr(err, "name", "") == "snnzoo.nir.export":
            raise ValueError("NIR export is not available in this snnzoo (snnzoo.nir.export is "
                             "missing)") from err
        raise
    graph.metadata = {**dict(getattr(graph, "metadata", None) or {}), **metadata, "dt": str(dt)}
    nir.write(str(path), graph)
    return path
