"""Time slices handed from a producer to the next time loop over a tensor, for one layer call.

The CSBP probes use it (:func:`snnzoo.chaos.attach_chaos` on a spiking neuron): on torch the
chaotic loss's compiled CPU kernel returns the time slices of the neuron's input x with the
loss, and x's gradient is then written in one pass (:mod:`snnzoo.backend.torch_chaos`), provided
the neuron's :func:`~snnzoo.backend.time_loop` iterates over those slices instead of unstacking x
itself. The wrapped layer call offers them for its own duration::

    with offer_time_slices(x, slices):
        layer.call(x)             # its time_loop over x takes the slices (once)

The offer lives in a ``contextvars.ContextVar`` (one per thread / task), set and reset by the
context manager; a plain counter of open offers lets the loop skip the lookup in the usual case
(nothing offered, and always under ``torch.compile``, which cannot trace a ContextVar).
"""
import contextlib
import contextvars
import warnings

__all__ = ["offer_time_slices", "take_time_slices", "set_time_slices", "clear_time_slices"]

#: (tensor, slices) offered to the next time loop over ``tensor`` in this context, or None.
_OFFER = contextvars.ContextVar("snnzoo_time_slices", default=None)
#: Offers open in any context; 0 except inside a wrapped layer call.
_open = 0


@contextlib.contextmanager
def offer_time_slices(tensor, slices):
    """Offer ``slices`` (tensors equal to ``tensor[:, t]``, whose gradients their producer
    combines itself) to the first :func:`~snnzoo.backend.time_loop` over ``tensor`` run inside
    the ``with`` block; withdrawn at its end."""
    global _open
    token = _OFFER.set((tensor, tuple(slices)))
    _open += 1
    try:
        yield
    finally:
        _open -= 1
        _OFFER.reset(token)


def take_time_slices(inputs, steps):
    """The slices offered for ``inputs`` (and withdrawn: they serve one loop), or None."""
    if not _open:  # nothing offered: the usual case, and always under torch.compile
        return None
    offered = _OFFER.get()
    if offered is None or offered[0] is not inputs:
        return None
    _OFFER.set(None)
    return offered[1] if len(offered[1]) == steps else None


# -- deprecated: the former id()-keyed hand-off ---------------------------------------------------
_legacy_tokens = []


def set_time_slices(tensor, slices):
    """Deprecated: use ``with offer_time_slices(tensor, slices):``. Offers ``slices`` until
    :func:`clear_time_slices`."""
    global _open
    warnings.warn("snnzoo.backend.set_time_slices is deprecated; use the context manager "
                  "snnzoo.backend.offer_time_slices", DeprecationWarning, stacklevel=2)
    _legacy_tokens.append(_OFFER.set((tensor, tuple(slices))))
    _open += 1


def clear_time_slices(tensor):
    """Deprecated: withdraws the offer made by :func:`set_time_slices`."""
    global _open
    warnings.warn("snnzoo.backend.clear_time_slices is deprecated; use the context manager "
                  "snnzoo.backend.offer_time_slices", DeprecationWarning, stacklevel=2)
    if _legacy_tokens:
        _OFFER.reset(_legacy_tokens.pop())
        _open -= 1
