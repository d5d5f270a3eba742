"""Training: recipes named after the zoo entries (:mod:`snnzoo.training.recipes`), one entry point
for all of them (:mod:`snnzoo.training.train`: ``snnzoo train RECIPE``; the IDE recipes included)
and publishing a finished run into a zoo folder (:mod:`snnzoo.training.publish`: ``snnzoo publish
RUN_DIR NAME``). :mod:`snnzoo.training.ide_fsnn` is a deprecated shim onto ``snnzoo train``.

In a source checkout the same entry points also run as ``python -m training.train`` /
``python -m training.publish`` from the repository root (``python -m training.ide_fsnn``:
deprecated).
The sub-modules are imported on use (``import snnzoo`` does not import them).
"""

__all__ = ["ide_fsnn", "publish", "recipes", "train"]
