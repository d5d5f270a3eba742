"""Streaming inference: run any snnzoo model one time step at a time.

``Streamer(model)``; ``state = streamer.initial_state(batch_size)``;
``outputs, state = streamer.step(x_t, state)`` — pure, so it can be compiled on every backend;
after T steps the outputs equal ``model(x)``.
"""

__all__ = ["Streamer"]


def __getattr__(name):
    if name == "Streamer":
        from snnzoo.streaming.streamer import Streamer

        return Streamer
    raise AttributeError(f"module 'snnzoo.streaming' has no attribute {name!r}")
