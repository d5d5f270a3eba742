"""Seeded training augmentations of the seed methods, in numpy (for ``keras.utils.PyDataset``) and
in TensorFlow ops (for ``tf.data``).

Policies (one sample = an image [H, W, C] or event frames [T, H, W, 2]; the same transform is
applied to every frame of a sample):

* ``"crop_flip"``: zero-pad ``pad`` = 4 pixels on each side, crop back to H x W at a uniformly
  random offset in [0, 2·pad]², then flip horizontally with probability 1/2 (torchvision
  ``RandomCrop(size, padding=4)`` + ``RandomHorizontalFlip()``; CIFAR in TET/IDE, and the whole
  frame tensor in CSBP's TEBN reproduction).
* ``"flip_roll"``: flip horizontally with probability 1/2, then roll (cyclic shift) by
  (dy, dx), each uniform in {−5, …, 5} (TET's DVS augmentation: ``torch.flip`` on the width
  axis, ``torch.roll`` on height and width).
* ``"roll"``: the roll alone (for data whose classes are not mirror-symmetric, e.g. DVS Gesture's
  left/right hand waves, or digits).
* ``"flip"``: the flip alone.

:func:`sample_frames_numpy` / :func:`sample_frames_tf` keep ``k`` of the ``T`` frames, chosen
uniformly without replacement and kept in temporal order (SEW's DVS Gesture training with
``T_train=12`` of ``T=16``).

Randomness: numpy functions take a ``numpy.random.Generator``; the TF functions take a stateless
seed (int tensor of shape [2]) so ``tf.data`` pipelines are reproducible under a seed.
"""
from __future__ import annotations

import numpy as np

__all__ = ["POLICIES", "PAD", "ROLL", "augment_numpy", "augment_tf", "check_policy",
           "sample_frames_numpy", "sample_frames_tf"]

POLICIES = ("crop_flip", "flip_roll", "roll", "flip")
PAD = 4
ROLL = 5


def check_policy(policy):
    """Validate a policy name (``None`` = no augmentation)."""
    if policy is not None and policy not in POLICIES:
        raise ValueError(f"unknown augmentation {policy!r}; use one of {POLICIES} (or True for the "
                         "data set's standard one, False for none)")
    return policy


# ----------------------------------------------------------------------------- numpy
def _crop_numpy(x, dy, dx, pad):
    h, w = x.shape[-3], x.shape[-2]
    widths = [(0, 0)] * (x.ndim - 3) + [(pad, pad), (pad, pad), (0, 0)]
    padded = np.pad(x, widths)
    return padded[..., dy:dy + h, dx:dx + w, :]


def augment_numpy(x, policy, rng, pad=PAD, roll=ROLL):
    """Augment one batch ``x`` [B, ..., H, W, C] sample by sample (returns a new float32 array).

    Args:
        x: images [B, H, W, C] or frames [B, T, H, W, C].
        policy: one of :data:`POLICIES`, or ``None`` (returns ``x`` unchanged).
        rng: ``numpy.random.Generator``.
    """
    check_policy(policy)
    if policy is None:
        return x
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        s = x[i]
        if policy == "crop_flip":
            dy, dx = rng.integers(0, 2 * pad + 1, size=2)
            s = _crop_numpy(s, int(dy), int(dx), pad)
            if rng.random() < 0.5:
                s = s[..., ::-1, :]
        else:
            if policy in ("flip_roll", "flip") and rng.random() < 0.5:
                s = s[..., ::-1, :]
            if policy in ("flip_roll", "roll"):
                dy, dx = rng.integers(-roll, roll + 1, size=2)
                s = np.roll(s, (int(dy), int(dx)), axis=(-3, -2))
        out[i] = s
    return out


def sample_frames_numpy(x, k, rng):
    """Keep ``k`` of the T frames of every sample of ``x`` [B, T, ...] (sorted random subset)."""
    T = x.shape[1]
    if not 1 <= k <= T:
        raise ValueError(f"sample_frames must lie in [1, T={T}], got {k}")
    idx = np.stack([np.sort(rng.choice(T, size=k, replace=False)) for _ in range(x.shape[0])])
    return np.take_along_axis(x, idx.reshape(idx.shape + (1,) * (x.ndim - 2)), axis=1)


# ----------------------------------------------------------------------------- TensorFlow
def augment_tf(x, policy, seed, pad=PAD, roll=ROLL):
    """Augment ONE sample ``x`` [..., H, W, C] with TF ops; ``seed`` is a stateless seed [2]."""
    import tensorflow as tf

    check_policy(policy)
    if policy is None:
        return x
    s1, s2, s3 = tf.unstack(tf.random.experimental.stateless_split(seed, num=3))
    flip = tf.random.stateless_uniform([], s1) < 0.5
    if policy == "crop_flip":
        h, w = x.shape[-3], x.shape[-2]
        off = tf.random.stateless_uniform([2], s2, minval=0, maxval=2 * pad + 1, dtype=tf.int32)
        rank = len(x.shape)
        paddings = [[0, 0]] * (rank - 3) + [[pad, pad], [pad, pad], [0, 0]]
        padded = tf.pad(x, paddings)
        begin = tf.concat([tf.zeros([rank - 3], tf.int32), off, [0]], axis=0)
        size = tf.constant(list(x.shape[:-3]) + [h, w, x.shape[-1]], tf.int32)
        x = tf.slice(padded, begin, size)
        return tf.where(flip, tf.reverse(x, axis=[-2]), x)
    if policy in ("flip_roll", "flip"):
        x = tf.where(flip, tf.reverse(x, axis=[-2]), x)
    if policy in ("flip_roll", "roll"):
        shift = tf.random.stateless_uniform([2], s3, minval=-roll, maxval=roll + 1, dtype=tf.int32)
        x = tf.roll(x, shift=shift, axis=[-3, -2])
    return x


def sample_frames_tf(x, k, seed):
    """Keep ``k`` of the T frames of ONE sample ``x`` [T, ...] (sorted random subset)."""
    import tensorflow as tf

    T = x.shape[0]
    if not 1 <= k <= T:
        raise ValueError(f"sample_frames must lie in [1, T={T}], got {k}")
    order = tf.argsort(tf.random.stateless_uniform([T], seed))
    return tf.gather(x, tf.sort(order[:k]), axis=0)
