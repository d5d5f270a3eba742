"""TensorFlow Datasets builders for the neuromorphic data sets, from MANUALLY placed files.

None of these data sets can be downloaded by a script (N-MNIST sits behind a cloud-drive link,
DVS128 Gesture behind a licence form, CIFAR10-DVS on figshare), so the builders read the files a
user placed in TFDS' ``manual_dir`` and store fixed-length event-count frames::

    from snnzoo.data.tfds_builders import build
    builder = build("nmnist", data_dir="~/tensorflow_datasets", manual_dir="/data", time_steps=10)
    train = builder.as_dataset(split="train", as_supervised=True)   # (frames [T,34,34,2], label)

``manual_dir`` is either a data root with the snnzoo layout (``<manual_dir>/nmnist/``,
``dvs_gesture/``, ``cifar10dvs/``: the same folder ``SNNZOO_DATA`` points to) or the data set's
folder itself. Layouts and splits are those of :mod:`snnzoo.data.pipelines`. Every builder
configuration is one (T, split_by, frame size) choice; its name, e.g. ``t10_number_34x34``, is
part of the prepared data's path.

Features: ``frames`` float32 [T, H, W, 2] (zlib-compressed), ``label`` (ClassLabel with the class
names) and ``file`` (the recording's name, with ``#k`` for the k-th gesture of a DVS Gesture
recording). TensorFlow and ``tensorflow_datasets`` are imported only when a builder is made.
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

__all__ = ["BUILDABLE", "build", "builder", "builder_class"]

#: data set -> (folder name inside a data root, what the manual download instructions say)
BUILDABLE = {
    "nmnist": ("nmnist", """\
Download N-MNIST from https://www.garrickorchard.com/datasets/n-mnist (Train.zip, Test.zip) and
extract it so that `<manual_dir>/nmnist/Train/<digit>/NNNNN.bin` and
`<manual_dir>/nmnist/Test/<digit>/NNNNN.bin` exist. A flat subset (`<sample>.bs2` files with
`train*.txt` / `test*.txt` label lists, tab-separated `sample<TAB>class`) is read too.
"""),
    "dvs_gesture": ("dvs_gesture", """\
Request DvsGesture.tar.gz from https://research.ibm.com/interactive/dvsgesture/ and extract it
into `<manual_dir>/dvs_gesture/` (giving `dvs_gesture/DvsGesture/trials_to_train.txt`,
`trials_to_test.txt`, `userNN_<lighting>.aedat` and `userNN_<lighting>_labels.csv`).
"""),
    "cifar10dvs": ("cifar10dvs", """\
Download the ten class archives of CIFAR10-DVS from
https://figshare.com/articles/dataset/CIFAR10-DVS_New/4724671 and extract them into
`<manual_dir>/cifar10dvs/<class>/cifar10_<class>_<i>.aedat` (airplane ... truck). The first 90 %
of every class (file names sorted) form the train split, the rest the test split.
"""),
}

_CLASSES = {}


def _data_root(manual_dir, folder):
    """A data root containing ``folder``: ``manual_dir`` itself, or a temporary root whose
    ``folder`` links to ``manual_dir`` (when the user pointed at the data set's own folder)."""
    manual_dir = Path(manual_dir)
    if (manual_dir / folder).is_dir():
        return manual_dir, None
    tmp = tempfile.TemporaryDirectory(prefix="snnzoo_tfds_")
    (Path(tmp.name) / folder).symlink_to(manual_dir.resolve(), target_is_directory=True)
    return Path(tmp.name), tmp


def builder_class(name):
    """The ``tfds.core.GeneratorBasedBuilder`` subclass for data set ``name`` (created once)."""
    if name not in BUILDABLE:
        raise ValueError(f"no TFDS builder for {name!r}; available: {', '.join(BUILDABLE)}")
    if name in _CLASSES:
        return _CLASSES[name]
    import numpy as np
    import tensorflow_datasets as tfds
    from etils import epath

    from snnzoo.data.pipelines import DATASETS, make_source

    info = DATASETS[name]
    folder, instructions = BUILDABLE[name]

    @dataclasses.dataclass(eq=False)
    class EventFramesConfig(tfds.core.BuilderConfig):
        """Frame integration of one configuration: T frames, slicing, frame size (h, w)."""

        time_steps: int = 10
        split_by: str = "number"
        frame_size: tuple = info.shape[:2]

    def config(time_steps=10, split_by="number", frame_size=None):
        size = tuple(int(s) for s in (frame_size or info.shape[:2]))
        return EventFramesConfig(
            name=f"t{int(time_steps)}_{split_by}_{size[0]}x{size[1]}",
            description=f"{time_steps} event-count frames (split_by={split_by!r}), {size[0]}x{size[1]}",
            time_steps=int(time_steps), split_by=split_by, frame_size=size)

    class Builder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        __doc__ = f"{info.title} as event-count frames [T, H, W, 2], from manually placed files."
        VERSION = tfds.core.Version("1.0.0")
        RELEASE_NOTES = {"1.0.0": "First release (snnzoo)."}
        MANUAL_DOWNLOAD_INSTRUCTIONS = instructions
        BUILDER_CONFIGS = [config(10), config(16)]
        make_config = staticmethod(config)
        # The builder's code location (TFDS looks for a checksums file beside it; there is none).
        # Set explicitly: TFDS' own lookup needs the optional `importlib_resources` package.
        code_path = epath.Path(__file__)

        def _info(self):
            cfg = self.builder_config
            shape = (cfg.time_steps,) + tuple(cfg.frame_size) + (2,)
            return self.dataset_info_from_configs(
                features=tfds.features.FeaturesDict({
                    "frames": tfds.features.Tensor(shape=shape, dtype=np.float32,
                                                   encoding=tfds.features.Encoding.ZLIB),
                    "label": tfds.features.ClassLabel(names=list(info.classes)),
                    "file": tfds.features.Text(),
                }),
                supervised_keys=("frames", "label"),
                description=f"{info.title}: event-count frames (channel 0 OFF, 1 ON) built by "
                            "snnzoo from the original recordings.",
            )

        def _split_generators(self, dl_manager):
            root, keep = _data_root(dl_manager.manual_dir, folder)
            self._keep_tmp = keep  # the temporary link must outlive the generators
            cfg = self.builder_config
            return {split: self._generate_examples(root, split, cfg) for split in ("train", "test")}

        def _generate_examples(self, root, split, cfg):
            source = make_source(name, split, data_dir=root, time_steps=cfg.time_steps,
                                 split_by=cfg.split_by, frame_size=cfg.frame_size)
            seen = {}
            for i, (path, _, label) in enumerate(source.items):
                k = seen.get(path, 0)
                seen[path] = k + 1
                file = Path(path).name + (f"#{k}" if name == "dvs_gesture" else "")
                yield f"{i:07d}", {"frames": source.frames(i, cached=False),
                                   "label": int(label), "file": file}

    Builder.name = f"snnzoo_{name}"
    Builder.__name__ = Builder.__qualname__ = f"Snnzoo{name.title().replace('_', '')}"
    _CLASSES[name] = Builder
    return Builder


def builder(name, data_dir=None, manual_dir=None, time_steps=10, split_by="number",
            frame_size=None):
    """A TFDS builder instance for ``name`` with the given frame configuration (not prepared).

    ``manual_dir`` defaults to ``$SNNZOO_DATA`` (else ``$SNNZOO_HOME/data``); ``data_dir`` is the
    TFDS data directory where the prepared records go (TFDS' default if ``None``).
    """
    import tensorflow_datasets as tfds

    from snnzoo import config as snn_config

    cls = builder_class(name)
    manual = Path(manual_dir) if manual_dir is not None else snn_config.data_dir()
    b = cls(data_dir=None if data_dir is None else str(Path(data_dir).expanduser()),
            config=cls.make_config(time_steps, split_by, frame_size))
    b._snnzoo_download_config = tfds.download.DownloadConfig(manual_dir=str(manual))
    return b


def build(name, data_dir=None, manual_dir=None, time_steps=10, split_by="number",
          frame_size=None):
    """Prepare ``name`` (``download_and_prepare`` from ``manual_dir``) and return the builder."""
    b = builder(name, data_dir, manual_dir, time_steps, split_by, frame_size)
    b.download_and_prepare(download_config=b._snnzoo_download_config)
    return b
