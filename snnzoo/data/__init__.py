"""Data-set readers and event-to-frame integration.

Static images: :func:`load_mnist`, :func:`load_fashion_mnist`, :func:`load_cifar10`,
:func:`load_cifar100` (original distribution files, checksum-verified).
Event streams (structured arrays with fields ``t``, ``x``, ``y``, ``p``): :func:`read_nmnist`,
:func:`load_nmnist_index`, :func:`read_aedat2`, :func:`read_aedat31`, :func:`read_dvs_gesture`,
:func:`read_aedat4`. Frames: :func:`events_to_frames`, :func:`events_to_frames_cached`.

Data sets are looked up in ``data_dir`` (argument), else ``$SNNZOO_DATA``, else
``$SNNZOO_HOME/data``, one sub-folder per data set (``mnist/``, ``fashion_mnist/``, ``nmnist/``,
``cifar10/``, ``cifar100/``).
"""
from .aedat import (
    read_aedat2,
    read_aedat2_header,
    read_aedat4,
    read_aedat4_info,
    read_aedat31,
    read_dvs_gesture,
)
from .checksums import ChecksumError, DataNotFoundError, file_hash
from .cifar import UnsafePickleError, load_cifar10, load_cifar100
from .events import EVENT_DTYPE, make_events
from .frames import events_to_frames, events_to_frames_cached, segment_indices
from .idx import read_idx
from .mnist import load_fashion_mnist, load_mnist
from .nmnist import NMNIST_SENSOR_SIZE, load_nmnist_index, read_nmnist

__all__ = [
    "ChecksumError",
    "DataNotFoundError",
    "EVENT_DTYPE",
    "NMNIST_SENSOR_SIZE",
    "UnsafePickleError",
    "events_to_frames",
    "events_to_frames_cached",
    "file_hash",
    "load_cifar10",
    "load_cifar100",
    "load_fashion_mnist",
    "load_mnist",
    "load_nmnist_index",
    "make_events",
    "read_aedat2",
    "read_aedat2_header",
    "read_aedat31",
    "read_aedat4",
    "read_aedat4_info",
    "read_dvs_gesture",
    "read_idx",
    "read_nmnist",
    "segment_indices",
]
