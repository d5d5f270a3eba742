"""Atomic file writes, the one implementation for the whole package (exports, converted and
published weights, run records): everything is written to a temporary path beside the target
and renamed into place only once complete, so an error or Ctrl-C never leaves a half-written
file or folder at the target (an existing one stays as it was), nor a folder created for it."""
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["atomic_output", "copy_file_atomic", "write_text_atomic"]


@contextlib.contextmanager
def atomic_output(path, directory=False):
    """Yield a temporary path (same folder and file name as ``path``, not yet existing) to
    write; on success it replaces ``path``. ``directory``: the output is a folder (SavedModel)."""
    path = Path(path)
    if directory and path.exists() and not path.is_dir():
        raise ValueError(f"{path} exists and is a file; a SavedModel is a folder: choose a new path")
    if directory and path.is_dir() and any(path.iterdir()) and not (path / "saved_model.pb").exists():
        raise ValueError(f"{path} exists and is not a SavedModel folder; choose a new path "
                         "(snnzoo export replaces only an earlier SavedModel)")
    if not directory and path.is_dir():
        raise ValueError(f"{path} is a folder; give a file path")
    created = []
    parent = path.parent
    while not parent.exists():
        created.append(parent)
        parent = parent.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp = scratch / path.name
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"nothing was written to {tmp}")
        if directory and path.exists():
            old = scratch / (path.name + ".old")
            os.replace(path, old)  # a folder cannot be replaced by rename in one step
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)
                raise
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if not path.exists():
            for folder in created:  # failed: no empty folders left behind either
                with contextlib.suppress(OSError):
                    folder.rmdir()


def write_text_atomic(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def copy_file_atomic(src, path):
    """Copy file ``src`` to ``path`` atomically; returns the path."""
    with atomic_output(path) as tmp:
        shutil.copyfile(src, tmp)
    return Path(path)
