"""``python -m training.ide_fsnn RECIPE ...`` from the repository root: the IDE feedback-SNN
training loop of :mod:`snnzoo.training.ide_fsnn` (used by ``snnzoo train fsnn_fmnist_ide``)."""
from snnzoo.training.ide_fsnn import *  # noqa: F401,F403  (the public names, see its __all__)
from snnzoo.training.ide_fsnn import main

if __name__ == "__main__":  # pragma: no cover
    main()
