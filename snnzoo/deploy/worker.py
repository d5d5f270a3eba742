"""Export in a child process under another Keras backend: ``python -m snnzoo.deploy.worker
JOB.json``. The parent (:mod:`snnzoo.deploy.exporter`) saves the model as a ``.keras`` file and
names the format, the output path and the metadata in ``JOB.json``; the child, started with
``KERAS_BACKEND`` set to a backend that can write the format, rebuilds the model from the
``.keras`` file (same layers, same weights) and writes the format itself. On failure it prints
one line ``snnzoo-export-error: ...`` on stderr and exits with 1."""
import json
import sys

__all__ = ["ERROR_PREFIX", "main"]

ERROR_PREFIX = "snnzoo-export-error: "


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        with open(argv[0]) as f:
            job = json.load(f)
        import keras

        from snnzoo.deploy.exporter import write_native  # imports snnzoo: registers its layers

        try:
            model = keras.saving.load_model(job["keras_file"], compile=False)
        except Exception as err:
            raise ValueError(f"the model could not be rebuilt from its .keras file under "
                             f"{keras.backend.backend()}: {str(err).strip().splitlines()[0]} (register "
                             "custom layers with keras.saving.register_keras_serializable)") from err
        write_native(job["format"], model, job["out"], job["metadata"], **job.get("options", {}))
    except Exception as err:  # one line for the parent
        text = str(err).strip()
        print(ERROR_PREFIX + (text.splitlines()[0] if text else type(err).__name__), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a child process
    sys.exit(main())
