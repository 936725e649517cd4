"""Calibration datasets users upload: a small ``.npz`` of images and labels, checked before it is kept.

The data-dependent proxies (snip, grasp, fisher, jacob_cov, naswot, zico, grad_norm) score a network
on one batch of images; a user whose task is not CIFAR-10 uploads a sample of their own images for
that batch. The file is a NumPy ``.npz`` archive (read without pickle) holding two arrays:

- ``images``: ``uint8`` (0-255) or ``float32`` / ``float64`` (already normalised, finite), shaped
  ``(N, H, W, 3)`` or ``(N, 3, H, W)``, with 1 <= N <= ``MAX_IMAGES`` and 8 <= H, W <= ``MAX_SIDE``,
  decoding to at most ``MAX_DECODED_BYTES``;
- ``labels``: integers, shaped ``(N,)``, each in ``[0, num_classes)``.

The archive is read by ``nas.datasets.npz``: its directory and each array's ``.npy`` header are
checked (members, compression ratio, declared shape x itemsize) before anything is decompressed, so
an upload costs at most ``MAX_DECODED_BYTES`` however it was made. The caps are what a search can
use: a proxy batch is at most 512 images, and the spaces' largest resolution is 224, so 512 uint8
images at 224x224 (73.5 MiB) fit under ``MAX_DECODED_BYTES``; ``MAX_SIDE`` leaves room above 224
(images are resized to the space's resolution), and ``MAX_IMAGES`` a pool of CIFAR-sized images
larger than one batch.

``read_npz`` returns a ``CalibrationSet`` (images as ``uint8`` or ``float32``, shaped NCHW: a view,
not a copy, of channels-last data) or raises ``DatasetError`` listing every problem, each naming its
field. ``uint8`` images are normalised with their own per-channel mean and standard deviation, which
``read_npz`` computes once, from per-channel histograms counted a chunk at a time (``channel_statistics``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from nas.datasets.npz import CHUNK_BYTES, Header, NpzArchive, Refused
from nas.errors import InvalidField, Problem

MAX_IMAGES = 4_096
MAX_SIDE = 256
MAX_DECODED_BYTES = 80 * 1024 * 1024  # the images, decoded: 512 x 3 x 224 x 224 uint8 is 73.5 MiB
MAX_CLASSES = 100_000
FLOAT_DTYPES = (np.float32, np.float64)
MIN_STD = 1e-3  # a constant channel is divided by this, not by zero


class DatasetError(InvalidField):
    """A dataset that cannot be admitted: ``problems`` lists each reason, naming its field."""

    kind = "dataset"

    @classmethod
    def of(cls, *problems: Problem) -> DatasetError:
        return cls.many(problems, what="dataset")


@dataclass(frozen=True)
class CalibrationSet:
    images: np.ndarray  # (N, 3, H, W), uint8 or float32 (possibly a transposed view of channels-last data)
    labels: np.ndarray  # (N,), int64
    num_classes: int
    sha256: str  # of the file as uploaded
    # uint8 images: each channel's mean and standard deviation, scaled to [0, 1]; None: computed when needed
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    @property
    def size(self) -> int:
        return len(self.labels)

    def describe(self) -> dict:
        n, _, height, width = self.images.shape
        return {"num_images": n, "height": height, "width": width, "num_classes": self.num_classes,
                "dtype": str(self.images.dtype), "sha256": self.sha256,
                "channel_mean": self.mean, "channel_std": self.std}


def read_npz(content: bytes, num_classes: int | None = None,
             statistics: tuple[tuple[float, ...], tuple[float, ...]] | None = None) -> CalibrationSet:
    """Check and read an uploaded ``.npz``; ``num_classes`` defaults to the largest label + 1.
    ``statistics``, the channel mean and std computed at upload (stored with the dataset), spare a pass
    over a uint8 set's images; without them that pass is made here.

    Nothing is decompressed before the archive's directory and both arrays' headers pass, and then
    only the two arrays, each into an array of its declared size (``nas.datasets.npz``).
    """
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                    or not 1 <= num_classes <= MAX_CLASSES):
        raise DatasetError.of(Problem("num_classes",
                                      f"must be an integer from 1 to {MAX_CLASSES}, got {num_classes!r}"))
    if bytes(content[:6]) == b"\x93NUMPY":
        raise DatasetError.of(Problem("file", "a single .npy array; upload an .npz archive holding 'images' "
                                              "and 'labels'"))
    try:
        with NpzArchive(content, MAX_DECODED_BYTES) as archive:
            images, labels, problems = _read_arrays(archive, num_classes)
    except Refused as refused:
        raise DatasetError.of(*refused.problems) from None
    if problems:
        raise DatasetError.of(*problems)
    classes = num_classes if num_classes is not None else int(labels.max()) + 1
    mean, std = (None, None) if images.dtype != np.uint8 else statistics or channel_statistics(images)
    return CalibrationSet(images, labels, classes, hashlib.sha256(content).hexdigest(), mean, std)


def _read_arrays(archive: NpzArchive,
                 num_classes: int | None) -> tuple[np.ndarray | None, np.ndarray | None, list[Problem]]:
    present = sorted(archive.members)
    problems = [Problem(key, f"missing from the archive (it holds {', '.join(present) or 'nothing'})")
                for key in ("images", "labels") if key not in present]
    if problems:
        raise DatasetError.of(*problems)
    image_header, label_header = archive.header("images"), archive.header("labels")
    images = labels = None
    problems = _image_header_problems(image_header.shape, image_header.dtype, image_header.nbytes)
    if not problems:
        images, problems = _read(archive, "images", image_header)
    if images is not None:
        images, problems = _check_images(images)
    label_problems = _label_header_problems(label_header.shape, label_header.dtype)
    if not label_problems:
        labels, label_problems = _read(archive, "labels", label_header)
    if labels is not None:
        labels, label_problems = _check_labels(labels, num_classes)
    problems += label_problems
    if images is not None and labels is not None and len(images) != len(labels):
        problems.append(Problem("labels", f"{len(labels)} labels for {len(images)} images"))
    return images, labels, problems


def _read(archive: NpzArchive, name: str, header: Header) -> tuple[np.ndarray | None, list[Problem]]:
    try:
        return archive.read(name, header), []
    except Refused as refused:
        return None, list(refused.problems)


def _image_header_problems(shape: tuple[int, ...], dtype: np.dtype, nbytes: int) -> list[Problem]:
    """What is wrong with the images' declared shape and dtype: judged before their data is read."""
    problems = []
    if dtype != np.uint8 and dtype.type not in FLOAT_DTYPES:
        problems.append(Problem("images", f"dtype {dtype} is not uint8, float32 or float64"))
    if len(shape) != 4 or 3 not in (shape[1], shape[-1]):
        problems.append(Problem("images", f"shape {shape} is not (N, H, W, 3) or (N, 3, H, W)"))
        return problems
    n, height, width = (shape[0], *shape[2:]) if shape[1] == 3 else shape[:3]
    if not 1 <= n <= MAX_IMAGES:
        problems.append(Problem("images", f"{n} images; from 1 to {MAX_IMAGES} are accepted"))
    if not (8 <= height <= MAX_SIDE and 8 <= width <= MAX_SIDE):
        problems.append(Problem("images", f"{height}x{width} pixels; each side must be from 8 to {MAX_SIDE}"))
    if not problems and nbytes > MAX_DECODED_BYTES:
        problems.append(Problem("images", f"{nbytes:,} bytes decoded (shape {shape}, {dtype}), more than the "
                                          f"{MAX_DECODED_BYTES // 2**20} MiB a calibration set may hold; "
                                          "send fewer or smaller images, or uint8 rather than floats"))
    return problems


def stored_problems(num_images: int, height: int, width: int, dtype: str) -> list[Problem]:
    """What a dataset stored with this shape and dtype breaks of today's limits (one stored before them
    would fail the search that reads it): judged from its record, nothing read."""
    try:
        itemsize = np.dtype(dtype).itemsize
    except TypeError:
        return [Problem("images", f"dtype {dtype!r} is not uint8, float32 or float64")]
    return _image_header_problems((num_images, height, width, 3), np.dtype(dtype),
                                  num_images * height * width * 3 * itemsize)


def _check_images(images: np.ndarray) -> tuple[np.ndarray | None, list[Problem]]:
    """Admitted images as NCHW (a view of channels-last data), float64 as float32 a chunk at a time."""
    if images.shape[-1] == 3 and images.shape[1] != 3:
        images = images.transpose(0, 3, 1, 2)
    if images.dtype == np.uint8:
        return images, []
    if not all(np.isfinite(chunk).all() for chunk in _chunks(images)):
        return None, [Problem("images", "holds NaN or infinite values")]
    if images.dtype == np.float32:
        return images, []
    single, step = np.empty(images.shape, np.float32), _rows_per_chunk(images)
    for start in range(0, len(images), step):
        single[start:start + step] = images[start:start + step]
    return single, []


def _label_header_problems(shape: tuple[int, ...], dtype: np.dtype) -> list[Problem]:
    if not np.issubdtype(dtype, np.integer):
        return [Problem("labels", f"dtype {dtype} is not an integer type")]
    if len(shape) != 1 or shape[0] == 0:
        return [Problem("labels", f"shape {shape} is not (N,) with N >= 1")]
    if shape[0] > MAX_IMAGES:
        return [Problem("labels", f"{shape[0]} labels; from 1 to {MAX_IMAGES} are accepted")]
    return []


def _check_labels(labels: np.ndarray, num_classes: int | None) -> tuple[np.ndarray | None, list[Problem]]:
    low, high = int(labels.min()), int(labels.max())
    if low < 0:
        return None, [Problem("labels", f"{low} is negative; labels run from 0 to num_classes - 1")]
    if num_classes is not None and high >= num_classes:
        return None, [Problem("labels", f"{high} is out of range for num_classes={num_classes} (0 to {num_classes - 1})")]
    if high >= MAX_CLASSES:
        return None, [Problem("labels", f"{high} is over the largest class index accepted, {MAX_CLASSES - 1}")]
    return labels.astype(np.int64), []


def channel_statistics(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Each channel's mean and standard deviation (population, at least ``MIN_STD``) of uint8 NCHW
    images scaled to [0, 1], exactly, from a histogram of each channel counted a chunk at a time: no
    float copy of the set."""
    counts = np.zeros((images.shape[1], 256), np.int64)
    for chunk in _chunks(images):
        for channel in range(images.shape[1]):
            counts[channel] += np.bincount(chunk[:, channel].ravel(), minlength=256)
    values = np.arange(256, dtype=np.int64)
    count = images.shape[0] * images.shape[2] * images.shape[3]
    sums, squares = (int(s) for s in counts @ values), (int(q) for q in counts @ (values * values))
    mean, std = [], []
    for total, square in zip(sums, squares):
        mean.append(total / count / 255)
        variance = (square * count - total * total) / count ** 2 / 255 ** 2  # exact integers until here
        std.append(max(math.sqrt(variance), MIN_STD))
    return tuple(mean), tuple(std)


def _rows_per_chunk(images: np.ndarray) -> int:
    return max(1, CHUNK_BYTES // max(1, images[:1].nbytes))


def _chunks(images: np.ndarray) -> Iterator[np.ndarray]:
    """Views of ``images`` along its first axis, about ``CHUNK_BYTES`` each."""
    step = _rows_per_chunk(images)
    for start in range(0, len(images), step):
        yield images[start:start + step]
