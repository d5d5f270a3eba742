"""Every ```python block of README.md runs as written, in order, in one namespace (as a reader
pastes them into one session); the cheap ``snnzoo list`` / ``snnzoo info`` lines of its bash
blocks run through the CLI.

Only two things are made small or local, both listed here: ``epochs=200`` in the CSBP example
becomes ``epochs=1``, and the CSBP authors' checkpoint that ``snnzoo.load`` would download is
placed in the cache first (from the shared data folder), as a user without network would do
following the error message. On torch the chaotic loss's compiled CPU kernel (a one-time compile
of ~40 s, covered by tests/test_chaos_fused_torch.py) is switched off, so the eager path runs.
"""
import re
import shlex
import shutil
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SMALLER = [("epochs=200", "epochs=1")]


def _blocks(language):
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_has_the_documented_examples():
    python = _blocks("python")
    assert len(python) >= 3
    joined = "\n".join(python)
    for name in ("attach_chaos", "chaos_scale", "snnzoo.load", "import snnzoo"):
        assert name in joined


def test_readme_python_blocks_run_in_order(shared_data, monkeypatch, capsys, tmp_path):
    import snnzoo

    monkeypatch.chdir(tmp_path)  # the export examples write files into the working folder
    from snnzoo.zoo import weights as zoo_weights

    if keras.backend.backend() == "torch":
        from snnzoo.backend import torch_chaos

        monkeypatch.setattr(torch_chaos, "COMPILE_MIN_ELEMENTS", float("inf"))
    spec = snnzoo.model_info("sew7bnet_csbp_dvsgesture")["weights"]
    cache = zoo_weights.checkpoint_cache_path("sew7bnet_csbp_dvsgesture", spec)
    cache.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(shared_data / "checkpoints" / "csbp_sew7bnet_dvsgesture" / cache.name, cache)

    namespace = {"__name__": "__readme__"}
    for i, block in enumerate(_blocks("python")):
        for old, new in SMALLER:
            block = block.replace(old, new)
        keras.utils.set_random_seed(i)
        exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)
        if "chaos_scale" in block:
            # the CSBP example prints the scale: mean reduction, z0 = 15 -> a few times the BP loss
            printed = capsys.readouterr().out
            ratio = float(re.search(r"ChaosScale\(z=15, .*ratio=([0-9.e+-]+)", printed).group(1))
            assert 1.0 < ratio < 20.0, printed
    # the last block's output: logits of the 11 DVS128 Gesture classes for the stand-in frames
    logits = keras.ops.convert_to_numpy(namespace["logits"])
    assert logits.shape == (1, 11) and np.all(np.isfinite(logits))


def test_readme_scale_claim_for_the_quick_start_model(monkeypatch):
    """README: z0=10 with the default (paper, summed) reduction on the Quick-start model gives a
    chaotic term of ~5e5 (about 0.69 z per neuron, 65,536 neurons) against a cross-entropy ~2.3."""
    from snnzoo.chaos import attach_chaos, chaos_scale

    if keras.backend.backend() == "torch":
        from snnzoo.backend import torch_chaos

        monkeypatch.setattr(torch_chaos, "COMPILE_MIN_ELEMENTS", float("inf"))
    namespace = {}
    keras.utils.set_random_seed(0)
    exec(compile(_blocks("python")[0], "README.md python block 1", "exec"), namespace)
    model = namespace["model"]
    import snnzoo

    attach_chaos(model, layers=snnzoo.layers.BaseNeuron, z0=10.0)
    rng = np.random.default_rng(0)
    x = rng.random((8, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, 8)
    scale = chaos_scale(model, x, y)
    per_neuron = scale.unscaled / (32 * 32 * 64)
    assert 0.6 < per_neuron < 0.9, per_neuron  # ln 2 = 0.693 at u = 0
    assert 3e5 < scale.chaos < 7e5 and 1.5 < scale.bp < 3.5, scale


def _cli_lines():
    lines = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words[:2] in (["snnzoo", "list"], ["snnzoo", "info"]):
                lines.append(words[1:])
    return lines


@pytest.mark.parametrize("argv", _cli_lines(), ids=" ".join)
def test_readme_cli_list_and_info_lines_run(argv, capsys):
    from snnzoo.cli import main

    assert main(argv) == 0
    assert capsys.readouterr().out.strip()


def _docstring_examples():
    """(qualified name, code) of every ```python block in the docstrings of the classes of the
    layer and method packages (their Keras-style "Example:" sections), found by walking the
    packages, so that a class moved to another module is still found."""
    import importlib
    import inspect
    import pkgutil

    out = []
    for package in ("snnzoo.layers", "snnzoo.chaos", "snnzoo.ide", "snnzoo.bpsta"):
        pkg = importlib.import_module(package)
        names = [package] + [m.name for m in pkgutil.walk_packages(pkg.__path__, package + ".")]
        for name in names:
            with warnings.catch_warnings():  # deprecated alias modules define no class of their own
                warnings.simplefilter("ignore", DeprecationWarning)
                module = importlib.import_module(name)
            for attr, obj in vars(module).items():
                if inspect.isclass(obj) and obj.__module__ == name and obj.__doc__:
                    doc = inspect.cleandoc(obj.__doc__)
                    for i, block in enumerate(re.findall(r"^```python\n(.*?)^```", doc, re.S | re.M)):
                        out.append((f"{name}.{attr}[{i}]", block))
    names = {n.rsplit(".", 1)[-1].split("[")[0] for n, _ in out}
    assert {"LIF", "IF", "FeedbackEquilibrium", "ChaoticRegularizer"} <= names, sorted(names)
    return out


@pytest.mark.parametrize("name,code", [pytest.param(n, c, id=n) for n, c in _docstring_examples()])
def test_docstring_examples_run(name, code):
    namespace = {}
    exec(compile(code, name, "exec"), namespace)


def test_every_public_layer_docstring_has_the_keras_sections():
    from snnzoo.layers import IF, LIF, PLIF, TEBN, BaseNeuron, MeanOverTime, RepeatTime, TDBatchNorm, TimeFold
    from snnzoo.layers import FeedbackEquilibrium, NDropout, VotingLayer

    for cls in (BaseNeuron, IF, LIF, PLIF, TimeFold, RepeatTime, MeanOverTime, TDBatchNorm, TEBN,
                VotingLayer, NDropout, FeedbackEquilibrium):
        doc = cls.__doc__
        for section in ("Args:", "Call arguments:", "Returns:"):
            assert section in doc, (cls.__name__, section)
        assert cls is BaseNeuron or "Example:" in doc, cls.__name__


def test_docstring_example_values_by_hand():
    """The values the examples state in their comments, derived by hand."""
    from snnzoo.layers import IF, MeanOverTime
    from snnzoo.layers.voting import VotingLayer

    def np_(v):
        return keras.ops.convert_to_numpy(v)

    # IF, V_th 1, hard reset to 0, X = 0.6: H = 0.6, 1.2 (spike, V -> 0), 0.6, 1.2 (spike)
    np.testing.assert_array_equal(np_(IF()(np.full((1, 4, 1), 0.6, "float32")))[0, :, 0],
                                  [0, 1, 0, 1])
    np.testing.assert_allclose(np_(MeanOverTime()(np.array([[[0.0], [1.0], [1.0], [0.0]]],
                                                           "float32"))), [[0.5]])
    np.testing.assert_allclose(np_(VotingLayer(voters=2)(np.array([[1.0, 0.0, 1.0, 1.0]],
                                                                   "float32"))), [[0.5, 1.0]])


def test_chaos_docstring_example_values_by_hand():
    import math

    from snnzoo.chaos import ChaoticRegularizer

    # pre-activation 0: h = 1/2, ℓ = ln 2 per neuron; 3 neurons summed, batch mean
    value = float(keras.ops.convert_to_numpy(ChaoticRegularizer(z0=1.0)(np.zeros((2, 4, 3), "float32"))))
    assert abs(value - 3 * math.log(2.0)) < 1e-5
