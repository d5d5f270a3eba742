"""``format="nir"``: a NIR graph file (``.nir``, HDF5) written by :func:`snnzoo.nir.to_nir` and
``nir.write``; the export metadata goes into ``graph.metadata`` (top-level string entries, beside
the ``"snnzoo"`` entry ``to_nir`` writes). Options of ``to_nir`` (``subtract_reset``,
``per_step_readout``, ``pooling``, ``input_normalization``) pass through."""

import json

import numpy as np

from snnzoo.deploy.metadata import tensor_spec

__all__ = ["write_nir"]


def write_nir(model, path, metadata, dt=1e-4, **nir_options):
    """``nir.write(path, to_nir(model, dt, **nir_options))`` with ``metadata`` merged into the
    graph's."""
    from snnzoo.nir import require_nir, to_nir

    nir = require_nir()
    try:
        graph = to_nir(model, dt=dt, **nir_options)
    except ImportError as err:
        if "snnzoo.nir.export" in str(err) or getattr(err, "name", "") == "snnzoo.nir.export":
            raise ValueError("NIR export is not available in this snnzoo (snnzoo.nir.export is "
                             "missing)") from err
        raise
    metadata = dict(metadata, dt=str(dt), input_range=(
        "the NIR graph's own conventions: graph.metadata['snnzoo'] (input layout, normalisation, "
        "time repetition, readout)"))
    for key, node_name, port in (("inputs", "input", "input_type"), ("outputs", "output", "output_type")):
        node = graph.nodes.get(node_name)
        types = dict(getattr(node, port, None) or {})
        if types:  # the graph's own port shapes (one sample, one time step)
            metadata[key] = json.dumps([tensor_spec(name, np.asarray(shape).tolist(), "float32")
                                        for name, shape in types.items()])
    graph.metadata = {**dict(getattr(graph, "metadata", None) or {}), **metadata}
    nir.write(str(path), graph)
    return path
