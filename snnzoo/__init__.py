"""snnzoo: spiking neural networks for Keras 3 on TensorFlow, PyTorch and JAX."""
import os as _os

__version__ = "0.1.0"
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before keras may import TensorFlow

__all__ = ["__version__", "layers", "surrogates", "list_models", "model_info", "load", "export", "profile"]

from snnzoo import config  # noqa: E402

config.choose_keras_backend()  # before Keras is imported: a torch-only install needs no setting

from snnzoo import layers, surrogates  # noqa: E402,F401

# Every module that defines a Keras-serializable class (each registered as "snnzoo>ClassName"
# with keras.saving.register_keras_serializable), imported here so that
# ``keras.saving.load_model("m.keras")`` works after a plain ``import snnzoo``. Each is light:
# together about 0.1 s on top of Keras' own import (measured on every backend), and none
# imports a backend library. tests/test_saving.py checks that no such class is left out.
_SERIALIZABLE_MODULES = (
    "snnzoo.layers.neurons",               # IF, LIF, PLIF
    "snnzoo.layers.normalization",         # TDBatchNorm, TEBN
    "snnzoo.layers.time",                  # TimeFold, RepeatTime, MeanOverTime
    "snnzoo.layers.voting",                # VotingLayer
    "snnzoo.layers.ndropout",              # NDropout
    "snnzoo.layers.warmup_switch",         # WarmupSwitch
    "snnzoo.layers.sew_connect",           # SEWConnect
    "snnzoo.bpsta",                        # ANNWarmup
    "snnzoo.ide",                          # FeedbackEquilibrium, RateBatchNorm, UnitNormUniform
    "snnzoo.surrogates",                   # ATan, Sigmoid, ... (also resolved by name)
    "snnzoo.chaos",                        # ChaoticRegularizer, ChaosProbe, ChaosAnnealing
    "snnzoo.losses",                       # TETLoss, RateMSE
    "snnzoo.zoo.image_model",              # ZooImageModel
    "snnzoo.nir.graph_layer",              # NIRGraphLayer (imports keras and numpy, not nir)
)


def _register_serializable():
    import importlib

    for module in _SERIALIZABLE_MODULES:
        importlib.import_module(module)


_register_serializable()


def __getattr__(name):
    # Heavier sub-packages load on first use.
    import importlib

    if name in ("bpsta", "chaos", "ide", "losses", "data", "models", "zoo", "convert", "nir", "streaming",
                "deploy", "profiling", "plot"):
        return importlib.import_module(f"snnzoo.{name}")
    if name in ("list_models", "model_info", "load"):
        return getattr(importlib.import_module("snnzoo.zoo"), name)
    if name == "export":
        return importlib.import_module("snnzoo.deploy").export
    if name == "profile":
        return importlib.import_module("snnzoo.profiling").profile
    raise AttributeError(f"module 'snnzoo' has no attribute {name!r}")
