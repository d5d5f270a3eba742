"""``format="saved_model"`` and ``"saved_model_step"``: TensorFlow SavedModel folders for TF
Serving / ``tf.saved_model.load``.

``saved_model``: the whole model, time loop inside: signature ``serving_default`` (and
``serve``) with input ``image`` [batch, H, W, C] (float32 in [0, 1]; or the model's own input)
and output ``output_0`` (logits). Written by Keras' ``model.export(format="tf_saved_model")``
on TensorFlow or JAX (jax2tf).

``saved_model_step``: the streaming step (:mod:`snnzoo.deploy.step_spec`): signature
``serving_default`` with inputs ``x_t``, ``state_0`` … and outputs ``outputs``,
``state_out_0`` …, built with ``keras.export.ExportArchive`` around the pure
``Streamer.step``.

The metadata goes to ``assets.extra/snnzoo_metadata.json`` (TF Serving's folder for files
beside the model).
"""
import inspect
import json

from snnzoo.deploy.metadata import METADATA_FILE

__all__ = ["write_metadata_file", "write_saved_model", "write_saved_model_step"]


def write_metadata_file(path, metadata):
    """``assets.extra/snnzoo_metadata.json`` in the SavedModel folder ``path``."""
    from pathlib import Path

    extra = Path(path) / "assets.extra"
    extra.mkdir(parents=True, exist_ok=True)
    (extra / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    return path


def write_saved_model(model, path, metadata):
    """Whole-sequence SavedModel of ``model`` at ``path`` (current backend TF or JAX)."""
    model.export(str(path), format="tf_saved_model", verbose=False)
    return write_metadata_file(path, metadata)


def write_saved_model_step(model, streamer, path, metadata, step_spec):
    """SavedModel of ``streamer.step`` at ``path`` (current backend TF or JAX)."""
    import keras

    specs = [step_spec["x_t"]] + step_spec["state"]
    signature = [keras.InputSpec(shape=tuple(s["shape"]), dtype=s["dtype"], name=s["name"])
                 for s in specs]
    names = [s["name"] for s in step_spec["state_out"]]

    def step(*args):
        outputs, new_state = streamer.step(args[0], tuple(args[1:]))
        result = {"outputs": outputs}
        result.update(zip(names, new_state))
        return result

    step.__signature__ = inspect.Signature(
        [inspect.Parameter(s["name"], inspect.Parameter.POSITIONAL_OR_KEYWORD) for s in specs])
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", step, input_signature=signature)
    archive.write_out(str(path), verbose=False)
    return write_metadata_file(path, metadata)
