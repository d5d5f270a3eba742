"""Package layout that ``pyproject.toml`` cannot express on its own (everything else is there).

The zoo's manifests and shipped weights live in the top-level ``zoo_weights/`` folder (the source
of truth, read directly in a source checkout); the wheel carries them as the package
``snnzoo.zoo_weights`` (``package_dir`` maps it onto that folder), so an installed snnzoo finds
its zoo at ``snnzoo/zoo_weights/``. The package list is computed, so new sub-packages ship without
editing this file.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["snnzoo", "snnzoo.*"]) + ["snnzoo.zoo_weights"],
    package_dir={"snnzoo.zoo_weights": "zoo_weights"},
    package_data={"snnzoo.zoo_weights": ["*.json", "*.weights.h5", "README.md"]},
)
