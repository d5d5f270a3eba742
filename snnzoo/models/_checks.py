"""Argument checks shared by the model builders, so a bad value fails at build time with one
line instead of as a shape error deep inside a backend."""
import operator

__all__ = ["check_time_steps"]


def check_time_steps(time_steps, builder):
    """``time_steps`` as a Python int after checking it is an integer >= 1.

    Args:
        time_steps: the number of simulation steps T (a Python or NumPy integer; ``bool`` and
            floats such as ``4.0`` are refused rather than silently truncated).
        builder: the builder's name, shown in the message.

    Raises:
        ValueError: ``time_steps`` is not an integer, or is < 1.
    """
    try:
        if isinstance(time_steps, bool):
            raise TypeError
        value = operator.index(time_steps)
    except TypeError:
        raise ValueError(f"{builder}: time_steps must be an integer >= 1 (the number of "
                         f"simulation steps T), got {time_steps!r}") from None
    if value < 1:
        raise ValueError(f"{builder}: time_steps must be an integer >= 1 (the number of "
                         f"simulation steps T), got {time_steps!r}")
    return value
