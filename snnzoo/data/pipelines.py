"""Input pipelines for every snnzoo data set, for ``model.fit`` / ``evaluate`` on any backend.

:func:`make_dataset` returns batches ``(x, y)`` of RAW model inputs, the layout every zoo model
expects:

* images: float32 [B, H, W, C] in [0, 1] (uint8 / 255; normalisation happens inside the models);
* event frames: float32 [B, T, H, W, 2] event counts (channel 0 = OFF, 1 = ON), integrated with
  :func:`snnzoo.data.events_to_frames` (SpikingJelly's ``split_by="number"`` slicing by default)
  and cached on disk by :func:`snnzoo.data.events_to_frames_cached`;
* labels: int32 [B].

Two formats: ``format="tf"`` gives a ``tf.data.Dataset`` (TensorFlow must be installed; works
with ``fit`` on every backend), ``format="py"`` a ``keras.utils.PyDataset`` (numpy only, no
TensorFlow needed). Un-augmented, un-shuffled, both yield the same batches.

Data sets (``DATASETS``), looked up in ``data_dir`` (else ``$SNNZOO_DATA``, else
``$SNNZOO_HOME/data``), one sub-folder each:

==============  ============  =====================================================================
name            folder        files
==============  ============  =====================================================================
mnist           mnist/        the 4 idx ``.gz`` files (see :func:`snnzoo.data.load_mnist`)
fashion_mnist   fashion_mnist/ the 4 idx ``.gz`` files (also Debian's re-gzipped copies)
cifar10         cifar10/      ``cifar-10-python.tar.gz`` or its extracted batches
cifar100        cifar100/     ``cifar-100-python.tar.gz`` or its extracted files (fine labels)
nmnist          nmnist/       ``Train|Test/<digit>/*.bin`` or the flat ``*.bs2`` + ``train*.txt``
dvs_gesture     dvs_gesture/  ``DvsGesture/`` (or the files directly): ``trials_to_train.txt``,
                              ``trials_to_test.txt``, ``userNN_<lighting>.aedat`` + ``_labels.csv``
cifar10dvs      cifar10dvs/   ``<class>/cifar10_<class>_<i>.aedat`` (AEDAT 2.0) or ``.aedat4``
==============  ============  =====================================================================

Splits: the official ones; CIFAR10-DVS has none, so the first ceil(0.9·n) recordings of every
class (file names sorted as strings, the order of SpikingJelly's data-set folder) are ``train``
and the rest ``test`` (SpikingJelly ``split_to_train_test_set(0.9, ...)``, used by SEW, TET,
TEBN and CSBP). DVS Gesture recordings are cut into their labelled gestures, the windows and
labels read by one parser (:func:`snnzoo.data.aedat.read_gesture_labels`, also used by
:func:`snnzoo.data.read_dvs_gesture`).

``limit=N`` keeps N samples spread evenly over the split (indices ``i·n // N``), so a limited run
still sees every class even where the files are sorted by class.
"""
from __future__ import annotations

import functools
import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from snnzoo import config
from snnzoo.data import augment as aug
from snnzoo.data.checksums import DataNotFoundError, file_hash

__all__ = ["DATASETS", "DatasetInfo", "EpochStream", "SnnPyDataset", "class_names", "data_fingerprint",
           "dataset_for", "make_dataset", "make_source", "resize_frames"]

GESTURE_URL = "https://research.ibm.com/interactive/dvsgesture/"
CIFAR10DVS_URL = "https://figshare.com/articles/dataset/CIFAR10-DVS_New/4724671"

_DIGITS = tuple(str(i) for i in range(10))
_CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
            "Bag", "Ankle boot")
_CIFAR100 = tuple("""apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy
bridge bus butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach
couch crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo
keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse
mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy
porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail
snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger
tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm""".split())
_GESTURES = ("hand_clapping", "right_hand_wave", "left_hand_wave", "right_arm_clockwise",
             "right_arm_counter_clockwise", "left_arm_clockwise", "left_arm_counter_clockwise",
             "arm_roll", "air_drums", "air_guitar", "other_gestures")


@dataclass(frozen=True)
class DatasetInfo:
    """What a pipeline knows about a data set."""

    name: str
    title: str
    kind: str            # "image" | "events"
    shape: tuple         # image (H, W, C); events: sensor (H, W, 2)
    num_classes: int
    augment: str | None  # the standard training augmentation (``augment=True``)
    classes: tuple


DATASETS = {
    "mnist": DatasetInfo("mnist", "MNIST", "image", (28, 28, 1), 10, None, _DIGITS),
    "fashion_mnist": DatasetInfo("fashion_mnist", "Fashion-MNIST", "image", (28, 28, 1), 10, None,
                                 _FASHION),
    "cifar10": DatasetInfo("cifar10", "CIFAR-10", "image", (32, 32, 3), 10, "crop_flip", _CIFAR10),
    "cifar100": DatasetInfo("cifar100", "CIFAR-100", "image", (32, 32, 3), 100, "crop_flip",
                            _CIFAR100),
    "nmnist": DatasetInfo("nmnist", "N-MNIST", "events", (34, 34, 2), 10, "roll", _DIGITS),
    "dvs_gesture": DatasetInfo("dvs_gesture", "DVS128 Gesture", "events", (128, 128, 2), 11, "roll",
                               _GESTURES),
    "cifar10dvs": DatasetInfo("cifar10dvs", "CIFAR10-DVS", "events", (128, 128, 2), 10, "flip_roll",
                              _CIFAR10),
}

_ALIASES = {
    "mnist": "mnist", "fashionmnist": "fashion_mnist", "fmnist": "fashion_mnist",
    "cifar10": "cifar10", "cifar100": "cifar100", "nmnist": "nmnist",
    "dvs128gesture": "dvs_gesture", "dvsgesture": "dvs_gesture", "gesture": "dvs_gesture",
    "cifar10dvs": "cifar10dvs", "dvscifar10": "cifar10dvs",
}


def dataset_for(name) -> str:
    """The pipeline name of a data set named as in a zoo manifest (``"Fashion-MNIST"`` →
    ``"fashion_mnist"``, ``"DVS128 Gesture"`` → ``"dvs_gesture"``, ...)."""
    key = re.sub(r"[^a-z0-9]", "", str(name).lower())
    if key not in _ALIASES:
        raise ValueError(f"no input pipeline for data set {name!r}; snnzoo has pipelines for "
                         f"{', '.join(DATASETS)}")
    return _ALIASES[key]


def _info(name) -> DatasetInfo:
    if name in DATASETS:
        return DATASETS[name]
    return DATASETS[dataset_for(name)]


def class_names(name):
    """Class names of a data set, in label order."""
    return _info(name).classes


def _check_split(split, title):
    if split not in ("train", "test"):
        raise ValueError(f"{title}: split must be 'train' or 'test', got {split!r}")


def _limit_indices(n, limit):
    if limit is None or limit >= n:
        return np.arange(n)
    if int(limit) < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    return (np.arange(int(limit)) * n) // int(limit)


def resize_frames(frames, size):
    """Bilinear resize of frames [..., H, W, C] to ``size`` = (h, w), half-pixel centres, no
    anti-aliasing (PyTorch ``F.interpolate(mode="bilinear", align_corners=False)``, which
    torchvision's ``Resize`` applies to frame tensors in TET/TEBN)."""
    h, w = int(size[0]), int(size[1])
    H, W = frames.shape[-3], frames.shape[-2]
    if (H, W) == (h, w):
        return frames

    def axis(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, (src - i0).astype(np.float32)

    y0, y1, wy = axis(H, h)
    x0, x1, wx = axis(W, w)
    rows = (frames[..., y0, :, :] * (1 - wy)[:, None, None]
            + frames[..., y1, :, :] * wy[:, None, None])
    out = rows[..., x0, :] * (1 - wx)[:, None] + rows[..., x1, :] * wx[:, None]
    return out.astype(np.float32)


# ----------------------------------------------------------------------------- sources
class ImageSource:
    """A split of an image data set held in memory (uint8)."""

    def __init__(self, info, images, labels, files):
        self.info = info
        self.images = images
        self.labels = np.asarray(labels, dtype=np.int32)
        self.files = files
        self.element_shape = tuple(images.shape[1:])

    def __len__(self):
        return int(self.labels.shape[0])

    def get(self, indices):
        """(x float32 in [0, 1], y int32) for ``indices``."""
        idx = np.asarray(indices)
        return self.images[idx].astype(np.float32) / 255.0, self.labels[idx]


@functools.lru_cache(maxsize=1)
def _gesture_events(path: str, mtime: float):
    from snnzoo.data.aedat import read_aedat31

    return read_aedat31(path)


def read_gesture_segment(path, start: int, end: int):
    """Events of a DVS Gesture recording with ``start <= t < end`` (one labelled gesture, as
    :func:`snnzoo.data.aedat.read_gesture_labels` lists them; the last recording read is kept in
    memory, so reading its gestures one after the other parses it once)."""
    from snnzoo.data.aedat import gesture_window

    path = Path(path)
    return gesture_window(_gesture_events(str(path), path.stat().st_mtime), start, end)


def _read_cifar10dvs(path):
    from snnzoo.data.aedat import read_aedat2, read_aedat4

    path = Path(path)
    if path.suffix == ".aedat4":
        return read_aedat4(path)
    return read_aedat2(path, layout="cifar10dvs")


class EventSource:
    """A split of an event data set: ``items`` = [(path, reader, label)], integrated lazily."""

    def __init__(self, info, items, time_steps, split_by="number", frame_size=None,
                 cache_dir=None, files=None):
        if time_steps is None:
            raise ValueError(f"{info.title} is an event data set: pass time_steps (the number of "
                             "frames T the model expects)")
        self.info = info
        self.items = items
        self.labels = np.asarray([lab for _, _, lab in items], dtype=np.int32)
        self.time_steps = int(time_steps)
        self.split_by = split_by
        self.frame_size = tuple(int(s) for s in (frame_size or info.shape[:2]))
        self.cache_dir = cache_dir
        self.files = files if files is not None else sorted({str(p) for p, _, _ in items})
        self.element_shape = (self.time_steps,) + self.frame_size + (2,)

    def __len__(self):
        return len(self.items)

    def frames(self, i, cached=True):
        """Frames [T, h, w, 2] of sample ``i`` (through the on-disk frame cache by default)."""
        from snnzoo.data.frames import events_to_frames, events_to_frames_cached, read_recording

        path, reader, _ = self.items[int(i)]
        if cached:
            frames = events_to_frames_cached(path, reader, self.info.shape, self.time_steps,
                                             split_by=self.split_by, cache_dir=self.cache_dir)
        else:
            events = read_recording(path, reader)
            frames = events_to_frames(events, self.info.shape, self.time_steps,
                                      split_by=self.split_by)
        return resize_frames(frames, self.frame_size)

    def get(self, indices):
        idx = np.asarray(indices).reshape(-1)
        x = np.stack([self.frames(i) for i in idx]) if idx.size else \
            np.zeros((0,) + self.element_shape, np.float32)
        return x, self.labels[idx]


def _nmnist_items(split, data_dir):
    from snnzoo.data.nmnist import load_nmnist_index, read_nmnist

    return [(Path(p), read_nmnist, int(lab)) for p, lab in load_nmnist_index(split, data_dir)]


def _gesture_root(data_dir):
    base = config.data_dir(data_dir) / "dvs_gesture"
    for cand in (base, base / "DvsGesture"):
        if (cand / "trials_to_train.txt").is_file() or (cand / "trials_to_test.txt").is_file():
            return cand
    return None


def _gesture_items(split, data_dir):
    from snnzoo.data.aedat import read_gesture_labels

    root = _gesture_root(data_dir)
    base = config.data_dir(data_dir) / "dvs_gesture"
    listing = f"trials_to_{split}.txt"
    if root is None or not (root / listing).is_file():
        raise DataNotFoundError(
            "DVS128 Gesture",
            [(f"DvsGesture/{listing}", "from DvsGesture.tar.gz"),
             ("DvsGesture/userNN_<lighting>.aedat + userNN_<lighting>_labels.csv",
              "the recordings listed in it")],
            base, GESTURE_URL, "The folder may be dvs_gesture/ itself or dvs_gesture/DvsGesture/.")
    names = [ln.strip() for ln in (root / listing).read_text().splitlines() if ln.strip()]
    items, missing = [], []
    for name in names:
        rec = root / name
        csv = rec.with_name(f"{rec.stem}_labels.csv")
        for f in (rec, csv):
            if not f.is_file():
                missing.append((f.name, f"listed in {listing}"))
        if rec.is_file() and csv.is_file():
            # one parser for labels and windows; the window is part of the reader (and so of the
            # frame-cache key), so an edited label file never meets stale frames
            for lab, start, end in read_gesture_labels(csv):
                items.append((rec, functools.partial(read_gesture_segment, start=start, end=end),
                              lab))
    if missing:
        raise DataNotFoundError("DVS128 Gesture", missing, root, GESTURE_URL)
    return items, [str(root / listing)] + sorted({str(p) for p, _, _ in items})


def _cifar10dvs_root(data_dir):
    base = config.data_dir(data_dir) / "cifar10dvs"
    cands = [base] + (sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else [])
    for cand in cands:
        if all((cand / c).is_dir() for c in _CIFAR10):
            return cand
    return None


def _cifar10dvs_items(split, data_dir):
    root = _cifar10dvs_root(data_dir)
    if root is None:
        base = config.data_dir(data_dir) / "cifar10dvs"
        raise DataNotFoundError(
            "CIFAR10-DVS", [(f"{c}/cifar10_{c}_<i>.aedat", "AEDAT 2.0 (or .aedat4)") for c in _CIFAR10],
            base, CIFAR10DVS_URL, "One folder per class, 1,000 recordings each.")
    items = []
    for label, cls in enumerate(_CIFAR10):
        files = sorted((p for p in (root / cls).iterdir()
                        if p.is_file() and p.suffix in (".aedat", ".aedat4")), key=lambda p: p.name)
        if not files:
            raise DataNotFoundError("CIFAR10-DVS", [(f"{cls}/*.aedat", "no recordings found")],
                                    root, CIFAR10DVS_URL)
        cut = math.ceil(len(files) * 0.9)
        chosen = files[:cut] if split == "train" else files[cut:]
        items += [(p, _read_cifar10dvs, label) for p in chosen]
    return items, [str(p) for p, _, _ in items]


def make_source(name, split="train", data_dir=None, time_steps=None, split_by="number",
                frame_size=None, limit=None, cache_dir=None):
    """The samples of one split: an object with ``len()``, ``labels`` (int32), ``get(indices)``
    → (x float32, y int32), ``element_shape`` and ``files`` (the data files it reads)."""
    info = _info(name)
    _check_split(split, info.title)
    if info.kind == "image":
        from snnzoo.data import cifar, mnist

        if info.name in ("mnist", "fashion_mnist"):
            loader = mnist.load_mnist if info.name == "mnist" else mnist.load_fashion_mnist
            images, labels = loader(split, data_dir)
            table = mnist.MNIST_FILES if info.name == "mnist" else mnist.FASHION_MNIST_FILES
            folder = config.data_dir(data_dir) / info.name
            prefix = "train" if split == "train" else "t10k"
            files = [str(p) for n in table if n.startswith(prefix)
                     for p in (folder / n, folder / n[:-3]) if p.is_file()]
        else:
            loader = cifar.load_cifar10 if info.name == "cifar10" else cifar.load_cifar100
            images, labels = loader(split, data_dir)
            folder = config.data_dir(data_dir) / info.name
            files = sorted(str(p) for p in folder.rglob("*") if p.is_file()
                           and (p.name.endswith(".tar.gz") or re.match(
                               r"(data_batch_\d|test_batch|train|test|meta|batches\.meta)$", p.name)))
        idx = _limit_indices(len(labels), limit)
        return ImageSource(info, images[idx], labels[idx], files)
    if info.name == "nmnist":
        items = _nmnist_items(split, data_dir)
        files = None
    elif info.name == "dvs_gesture":
        items, files = _gesture_items(split, data_dir)
    else:
        items, files = _cifar10dvs_items(split, data_dir)
    idx = _limit_indices(len(items), limit)
    items = [items[i] for i in idx]
    if files is None or limit is not None:
        files = sorted({str(p) for p, _, _ in items})
        if info.name == "nmnist":  # the flat layout's label lists define the labels
            files += sorted(str(p) for p in (config.data_dir(data_dir) / "nmnist").glob(
                f"{split}*.txt") if p.is_file())
    return EventSource(info, items, time_steps, split_by, frame_size, cache_dir, files)


def data_fingerprint(source) -> dict:
    """{file: sha256} of the data files a source reads (event sets: one combined digest over the
    sorted (name, sha256) pairs, plus the file count, so 70,000 recordings stay one entry)."""
    files = list(source.files)
    if source.info.kind == "image" or len(files) <= 16:
        return {Path(f).name: file_hash(f) for f in files}
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: Path(f).name):
        h.update(f"{Path(f).name}\t{file_hash(f)}\n".encode())
    return {f"{source.info.name}: {len(files)} files, sha256 of the sorted 'name<TAB>sha256' "
            "lines": h.hexdigest()}


# ----------------------------------------------------------------------------- PyDataset
class SnnPyDataset(keras.utils.PyDataset):
    """Batches of a source as a ``keras.utils.PyDataset`` (numpy; every backend).

    Shuffling and augmentation draw from ``numpy.random.default_rng([seed, epoch, batch])``,
    so a batch depends only on the seed, the epoch and its index (not on worker scheduling).
    :meth:`batch_at` is that pure function of (epoch, index); ``__getitem__`` serves
    ``self.epoch``, which ``on_epoch_end`` advances. Keras' calls of ``on_epoch_end`` and its
    prefetching differ between code paths (a plain TensorFlow ``fit`` peeks at two batches and
    resets, a ``MirroredStrategy`` one reads ahead into the next epoch), so training uses
    :class:`EpochStream`, which names the epoch of every batch by its index.
    """

    def __init__(self, source, batch_size, shuffle=False, augment=None, sample_frames=None,
                 seed=0, drop_remainder=False, **kwargs):
        super().__init__(**kwargs)
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.source = source
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.augment = aug.check_policy(augment)
        self.sample_frames = sample_frames
        self.seed = int(seed)
        self.drop_remainder = bool(drop_remainder)
        self.epoch = 0
        self._orders = {}

    def __len__(self):
        n = len(self.source)
        return n // self.batch_size if self.drop_remainder else -(-n // self.batch_size)

    def set_epoch(self, epoch):
        """Continue the shuffle/augmentation sequence at ``epoch`` (e.g. after a resume)."""
        self.epoch = int(epoch)

    def _indices(self, epoch, index):
        n = len(self.source)
        order = self._orders.get(epoch)
        if order is None:
            order = (np.random.default_rng([self.seed, epoch, 2**31]).permutation(n)
                     if self.shuffle else np.arange(n))
            self._orders = {**{k: v for k, v in self._orders.items() if k >= epoch - 1},
                            epoch: order}  # this epoch and the one before (read-ahead)
        return order[index * self.batch_size:min((index + 1) * self.batch_size, n)]

    def __getitem__(self, index):
        return self.batch_at(self.epoch, index)

    def batch_at(self, epoch, index):
        """Batch ``index`` of epoch ``epoch`` (a pure function of seed, epoch and index)."""
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range [0, {len(self)})")
        x, y = self.source.get(self._indices(int(epoch), index))
        if self.augment or self.sample_frames:
            rng = np.random.default_rng([self.seed, int(epoch), int(index)])
            if self.sample_frames:
                x = aug.sample_frames_numpy(x, int(self.sample_frames), rng)
            x = aug.augment_numpy(x, self.augment, rng)
        return np.ascontiguousarray(x, dtype=np.float32), y

    def on_epoch_end(self):
        if self.shuffle or self.augment or self.sample_frames:
            self.set_epoch(self.epoch + 1)


class EpochStream(keras.utils.PyDataset):
    """Epochs ``start_epoch … epochs − 1`` of ``sequence`` (an :class:`SnnPyDataset`) as one
    sequence of batches: item i is ``sequence.batch_at(start_epoch + i // n, i % n)`` with n
    batches per epoch. Train with ``fit(stream, epochs=epochs, steps_per_epoch=n)``: Keras then
    keeps one iterator across epochs, and every batch is named by its index, whatever Keras'
    prefetching and ``on_epoch_end`` calls do on a code path (single device or distributed)."""

    def __init__(self, sequence, epochs, start_epoch=0):
        super().__init__()
        self.sequence = sequence
        self.epochs, self.start_epoch = int(epochs), int(start_epoch)
        self.steps_per_epoch = len(sequence)

    def __len__(self):
        return self.steps_per_epoch * max(0, self.epochs - self.start_epoch)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range [0, {len(self)})")
        epoch, batch = divmod(int(index), self.steps_per_epoch)
        return self.sequence.batch_at(self.start_epoch + epoch, batch)


# ----------------------------------------------------------------------------- tf.data
def _tf_dataset(source, batch_size, shuffle, augment, sample_frames, seed, drop_remainder):
    import tensorflow as tf

    n = len(source)
    shape = tuple(source.element_shape)
    if isinstance(source, ImageSource):
        ds = tf.data.Dataset.from_tensor_slices((source.images, source.labels))
    else:
        def load(i):
            x, y = source.get([int(i)])
            return x[0], y[0]

        def load_tf(i):
            x, y = tf.numpy_function(load, [i], (tf.float32, tf.int32), stateful=False)
            x.set_shape(shape)
            y.set_shape(())
            return x, y

        ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(max(n, 1), seed=seed, reshuffle_each_iteration=True)
    if isinstance(source, EventSource):
        ds = ds.map(load_tf, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        ds = ds.map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if augment or sample_frames:
        noise = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

        def apply(xy, r):
            x, y = xy
            key = tf.stack([r, tf.constant(seed, tf.int64)])
            k1, k2 = tf.unstack(tf.random.experimental.stateless_split(key, num=2))
            if sample_frames:
                x = aug.sample_frames_tf(x, int(sample_frames), k1)
            return aug.augment_tf(x, augment, k2), y

        ds = tf.data.Dataset.zip((ds, noise)).map(apply, num_parallel_calls=tf.data.AUTOTUNE,
                                                  deterministic=True)
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


def make_dataset(name, split="train", batch_size=32, time_steps=None, augment=False, format="tf",
                 data_dir=None, limit=None, seed=0, shuffle=None, split_by="number",
                 frame_size=None, sample_frames=None, drop_remainder=False, cache_dir=None,
                 **pydataset_kwargs):
    """Batches ``(x, y)`` of a data set split, ready for ``model.fit`` / ``evaluate``.

    Args:
        name: ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``, ``"cifar100"``, ``"nmnist"``,
            ``"dvs_gesture"``, ``"cifar10dvs"`` (manifest spellings such as ``"Fashion-MNIST"``
            are accepted).
        split: ``"train"`` or ``"test"``.
        batch_size: samples per batch.
        time_steps: frames T per sample (event data sets; required there, ignored for images).
        augment: ``False``/``None`` (none), ``True`` (the data set's standard augmentation:
            CIFAR ``"crop_flip"``, CIFAR10-DVS ``"flip_roll"``, N-MNIST and DVS Gesture
            ``"roll"``, MNIST/Fashion-MNIST none) or a policy of :mod:`snnzoo.data.augment`.
        format: ``"tf"`` (``tf.data.Dataset``) or ``"py"`` (``keras.utils.PyDataset``).
        data_dir: data root (default ``$SNNZOO_DATA``, else ``$SNNZOO_HOME/data``).
        limit: keep N samples spread evenly over the split (smoke runs, quick evaluations).
        seed: seed of the shuffling and the augmentation.
        shuffle: default ``True`` for ``"train"``, ``False`` for ``"test"``.
        split_by: event slicing, ``"number"`` (default) or ``"time"``.
        frame_size: (h, w) to bilinearly resize event frames to (e.g. (48, 48) for TEBN/TET
            CIFAR10-DVS models); default the sensor size.
        sample_frames: keep this many of the T frames per sample (random, in order; training).
        drop_remainder: drop the last incomplete batch.
        cache_dir: frame cache root (default ``$SNNZOO_HOME/frames``).
        **pydataset_kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` (``"py"``).

    Raises:
        DataNotFoundError: files missing (one message naming them, their checksums and the
            folder); ValueError: bad arguments.
    """
    info = _info(name)
    if format not in ("tf", "py"):
        raise ValueError(f"format must be 'tf' or 'py', got {format!r}")
    if augment is True:
        augment = info.augment
    elif augment is False:
        augment = None
    aug.check_policy(augment)
    if sample_frames is not None and info.kind != "events":
        raise ValueError("sample_frames only applies to event data sets")
    source = make_source(info.name, split, data_dir, time_steps, split_by, frame_size, limit,
                         cache_dir)
    if shuffle is None:
        shuffle = split == "train"
    if format == "py":
        return SnnPyDataset(source, batch_size, shuffle=shuffle, augment=augment,
                            sample_frames=sample_frames, seed=seed,
                            drop_remainder=drop_remainder, **pydataset_kwargs)
    return _tf_dataset(source, batch_size, shuffle, augment, sample_frames, seed, drop_remainder)
