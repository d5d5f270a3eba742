"""Training: recipes named after the zoo entries (:mod:`snnzoo.training.recipes`), one entry point
for all of them (:mod:`snnzoo.training.train`: ``snnzoo train RECIPE``), the IDE feedback-SNN loop
(:mod:`snnzoo.training.ide_fsnn`) and publishing a finished run into a zoo folder
(:mod:`snnzoo.training.publish`: ``snnzoo publish RUN_DIR NAME``).

In a source checkout the same entry points also run as ``python -m training.train`` /
``python -m training.publish`` / ``python -m training.ide_fsnn`` from the repository root.
The sub-modules are imported on use (``import snnzoo`` does not import them).
"""
