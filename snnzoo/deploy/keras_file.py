"""``format="keras"``: the Keras ``.keras`` archive (config + weights), with the snnzoo metadata
as ``snnzoo_metadata.json`` inside the zip (``keras.saving.load_model`` ignores the extra file)."""
import json
import zipfile

from snnzoo.deploy.metadata import METADATA_FILE

__all__ = ["write_keras"]


def write_keras(model, path, metadata):
    """Save ``model`` to ``path`` (a temporary ``.keras`` path) and add the metadata."""
    model.save(str(path))
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_FILE, json.dumps(metadata, indent=2))
    return path
