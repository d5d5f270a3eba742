"""Resolve, download, verify and cache zoo weights.

Resolution order for a registry entry's weights (``snnzoo.load(name)``):

1. shipped file ``zoo_weights/<file>`` (sha256-checked);
2. converted weights in the cache: ``$SNNZOO_HOME/weights/<name>-<sourcehash[:12]>.weights.h5``;
3. the original checkpoint in the cache: ``$SNNZOO_HOME/checkpoints/<name>/<filename>``
   (a user without internet may place the file there by hand);
4. download from ``origin`` to a temporary file.

A checkpoint is verified (size, then ``sha256`` or git blob sha1 =
sha1(b"blob " + str(len).encode() + b"\\0" + data), both by :mod:`snnzoo.data.checksums`)
BEFORE it is used (:func:`verify_weights`); a mismatching download
is deleted and refused, a mismatching file found in the cache (e.g. placed there by hand) is kept
as ``<file>.rejected`` for inspection and refused. Downloads and converted weights are written to
a temporary file and renamed, and folders created for a download or a save that fails are removed
again, so neither half-written files nor empty folders stay in the cache.
"""
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from snnzoo._deprecation import warn_deprecated
from snnzoo.config import home_dir

CHUNK = 1 << 20
DOWNLOAD_TIMEOUT_S = 60


class WeightsUnavailableError(ConnectionError):
    """The weights' origin cannot be reached (offline); the message says where to put the file."""


class WeightsIntegrityError(RuntimeError):
    """A file's size or hash differs from the registry's; the file has been deleted (a download)
    or renamed to ``<file>.rejected`` (a file found in the cache)."""


# -- hashes --------------------------------------------------------------------------------------
def _hashing():
    # imported on use: ``import snnzoo`` must not import snnzoo.data (tests/test_saving.py)
    from snnzoo.data import checksums

    return checksums


def expected_hash(spec):
    """``(kind, hexdigest)`` of a weights spec: sha256 if given, else git_blob_sha1."""
    if spec.get("sha256"):
        return "sha256", spec["sha256"].lower()
    if spec.get("git_blob_sha1"):
        return "git_blob_sha1", spec["git_blob_sha1"].lower()
    raise ValueError(f"weights spec has no sha256 / git_blob_sha1: {spec}")


def verify_weights(path, spec, delete=True, what="file", reject=False):
    """Check ``path`` against the spec's ``size`` and hash. On mismatch raise
    :class:`WeightsIntegrityError` after deleting the file (``delete``) or renaming it to
    ``<file>.rejected`` (``reject``: a file someone placed by hand is kept for inspection)."""
    path = Path(path)
    kind, want = expected_hash(spec)
    checksums = _hashing()
    try:
        checksums.verify_file(path, want, kind, size=spec.get("size"))
    except checksums.ChecksumError as err:
        if reject:
            rejected = path.with_name(path.name + ".rejected")
            os.replace(path, rejected)
            fate = f"it has been renamed to {rejected} (delete it once checked)"
        elif delete:
            path.unlink(missing_ok=True)
            fate = "it has been deleted"
        else:
            fate = "refusing to use it"
        raise WeightsIntegrityError(
            f"{what} {path} does not match the registry ({err.problem}); {fate}"
            + (f". Get the original from {spec['origin']}" if spec.get("origin") else "")
        ) from None
    return path


def verify_file(path, spec, delete=True, what="file", reject=False):
    """Deprecated alias of :func:`verify_weights`."""
    warn_deprecated("snnzoo.zoo.weights.verify_file", "snnzoo.zoo.weights.verify_weights")
    return verify_weights(path, spec, delete=delete, what=what, reject=reject)


def file_hash(path, kind):
    """Deprecated: :func:`snnzoo.data.checksums.file_hash` (``path, kind``)."""
    warn_deprecated("snnzoo.zoo.weights.file_hash", "snnzoo.data.checksums.file_hash")
    return _hashing().file_hash(path, kind)


def sha256_file(path):
    """Deprecated: ``snnzoo.data.checksums.file_hash(path, "sha256")``."""
    warn_deprecated("snnzoo.zoo.weights.sha256_file", 'snnzoo.data.checksums.file_hash(path, "sha256")')
    return _hashing().file_hash(path, "sha256")


def git_blob_sha1_file(path):
    """Deprecated: ``snnzoo.data.checksums.file_hash(path, "git_blob_sha1")``."""
    warn_deprecated("snnzoo.zoo.weights.git_blob_sha1_file", 'snnzoo.data.checksums.file_hash(path, "git_blob_sha1")')
    return _hashing().file_hash(path, "git_blob_sha1")


# -- cache layout --------------------------------------------------------------------------------
def source_hash(spec):
    return expected_hash(spec)[1]


def converted_weights_path(name, spec):
    """``$SNNZOO_HOME/weights/<name>-<sourcehash[:12]>.weights.h5``."""
    return home_dir() / "weights" / f"{name}-{source_hash(spec)[:12]}.weights.h5"


def checkpoint_cache_path(name, spec):
    """``$SNNZOO_HOME/checkpoints/<name>/<filename>``: where a downloaded (or hand-placed)
    original checkpoint lives."""
    filename = spec.get("filename") or Path(urllib.parse.urlparse(spec["origin"]).path).name
    return home_dir() / "checkpoints" / name / Path(filename).name


# -- download ------------------------------------------------------------------------------------
def _offline_error(name, spec, dest, reason):
    kind, want = expected_hash(spec)
    return WeightsUnavailableError(
        f"cannot download the weights of '{name}' from {spec['origin']} ({reason}). Without network "
        f"access, download that file by hand and place it at {dest} ({kind} {want}); it is verified "
        "before use."
    )


def download(name, spec, dest=None, progress=True):
    """Download ``spec['origin']`` to ``dest`` (default: the checkpoint cache path), verifying
    it before the final rename. Returns the path."""
    url = spec["origin"]
    dest = Path(dest) if dest is not None else checkpoint_cache_path(name, spec)
    scheme = urllib.parse.urlparse(url).scheme
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"unsupported weights origin {url!r} (http, https or file URLs only)")
    from snnzoo._atomic import atomic_output

    with atomic_output(dest) as tmp:  # renamed into place only once downloaded and verified
        try:
            response = urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S)
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise _offline_error(name, spec, dest, getattr(err, "reason", err)) from err
        total = response.headers.get("Content-Length")
        from tqdm.auto import tqdm

        with response, open(tmp, "wb") as out, tqdm(
            total=int(total) if total else None, unit="B", unit_scale=True, unit_divisor=1024,
            desc=f"downloading {name}", disable=not progress, leave=False,
        ) as bar:
            try:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
            except (OSError, urllib.error.URLError) as err:
                raise _offline_error(name, spec, dest, f"connection lost: {err}") from err
        verify_weights(tmp, spec, delete=True, what=f"download of {url} saved as")
    return dest


def fetch_checkpoint(name, spec, progress=True):
    """The verified original checkpoint: from the cache if present (verified; a mismatching file,
    e.g. one placed by hand, is renamed ``<file>.rejected`` and refused), else downloaded from the
    origin."""
    path = checkpoint_cache_path(name, spec)
    if path.is_file():
        return verify_weights(path, spec, delete=False, reject=True, what="cached checkpoint")
    return download(name, spec, path, progress=progress)


def save_weights_atomic(model, path):
    """``model.save_weights(path)`` through a temporary file + rename (:mod:`snnzoo._atomic`)."""
    from snnzoo._atomic import atomic_output

    path = Path(path)
    with atomic_output(path) as tmp:
        model.save_weights(str(tmp))
    return path
