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
