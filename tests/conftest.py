"""Test set-up: the real data in ``../shared/data`` is reached through ``SNNZOO_DATA``; the
cache (``SNNZOO_HOME``) is a fresh temporary folder so tests never touch a user's cache."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()

os.environ.setdefault("SNNZOO_DATA", str(SHARED_DATA))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data sets and checkpoints shipped beside the project."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real data folder missing: {SHARED_DATA} (the project expects ../shared/data)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNZOO_HOME", str(tmp_path / "snnzoo_home"))
    yield


@pytest.fixture
def float64():
    """Build and run in float64 on every backend: JAX with x64 switched on and Keras' float64 →
    float32 demotion of ``ops.mean`` & co. lifted for the test (as ``keep_float64_on_torch``
    does on torch), so that a reference model's own reductions stay float64 too."""
    import keras

    restore = []
    if keras.backend.backend() == "jax":
        import jax

        from snnzoo.backend._keras_compat import float64_demotion_table

        x64 = jax.config.read("jax_enable_x64")
        jax.config.update("jax_enable_x64", True)
        restore.append(lambda: jax.config.update("jax_enable_x64", x64))
        table = float64_demotion_table()
        if table is not None and "float64" in table:
            old = table["float64"]
            table["float64"] = "float64"
            restore.append(lambda: table.__setitem__("float64", old))
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        yield
    finally:
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy("float32")
        for undo in reversed(restore):
            undo()


# JAX without jit dispatches op by op (3-10x slower than jit). These heavy model tests run their
# jit_compile=True variant on JAX and both variants on TF and torch; the core layers' eager-JAX
# training is still covered by tests/test_fit_jit.py on every backend.
_JAX_EAGER_SKIP = {
    "test_bpsta_convnet_trains_with_rate_mse",
    "test_ann_warmup_callback_switches_compiled_training",
    "test_fit_updates_feedback_input_and_bn_weights",
}


def pytest_collection_modifyitems(config, items):
    if os.environ.get("KERAS_BACKEND") != "jax":
        return
    for item in items:
        callspec = getattr(item, "callspec", None)
        if (item.originalname in _JAX_EAGER_SKIP and callspec is not None
                and callspec.params.get("jit") is False):
            item.add_marker(pytest.mark.skip(reason="eager JAX is slow; jit variant runs on JAX"))


@pytest.fixture
def fresh_compiled_layouts():
    """Torch: the chaotic loss's compiled CPU kernels start with no layout compiled, so a test
    that needs the compiled path is not sent to the eager one by the layouts earlier tests
    compiled (snnzoo.backend.torch_chaos.STATIC_LAYOUTS_MAX)."""
    from snnzoo.backend import torch_chaos

    torch_chaos.forget_compiled_layouts()
    yield
    torch_chaos.forget_compiled_layouts()
