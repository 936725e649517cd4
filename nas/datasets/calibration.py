"""Calibration datasets users upload: a small ``.npz`` of images and labels, checked before it is kept.

The data-dependent proxies (snip, grasp, fisher, jacob_cov, naswot, zico, grad_norm) score a network
on one batch of images; a user whose task is not CIFAR-10 uploads a sample of their own images for
that batch. The file is a NumPy ``.npz`` archive (read without pickle) holding two arrays:

- ``images``: ``uint8`` (0-255) or ``float32`` / ``float64`` (already normalised, finite), shaped
  ``(N, H, W, 3)`` or ``(N, 3, H, W)``, with 1 <= N <= ``MAX_IMAGES`` and 8 <= H, W <= ``MAX_SIDE``;
- ``labels``: integers, shaped ``(N,)``, each in ``[0, num_classes)``.

``read_npz`` returns a ``CalibrationSet`` (images as ``uint8`` or ``float32`` NCHW) or raises
``DatasetError`` listing every problem, each naming its field. ``uint8`` images are normalised with
their own per-channel mean and standard deviation when a batch is drawn (``nas.proxies.data``).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass

import numpy as np

from nas.errors import InvalidField, Problem

MAX_IMAGES = 10_000
MAX_SIDE = 512
FLOAT_DTYPES = (np.float32, np.float64)


class DatasetError(InvalidField):
    """A dataset that cannot be admitted: ``problems`` lists each reason, naming its field."""

    kind = "dataset"

    @classmethod
    def of(cls, *problems: Problem) -> DatasetError:
        return cls.many(problems, what="dataset")


@dataclass(frozen=True)
class CalibrationSet:
    images: np.ndarray  # (N, 3, H, W), uint8 or float32
    labels: np.ndarray  # (N,), int64
    num_classes: int
    sha256: str  # of the file as uploaded

    @property
    def size(self) -> int:
        return len(self.labels)

    def describe(self) -> dict:
        n, _, height, width = self.images.shape
        return {"num_images": n, "height": height, "width": width, "num_classes": self.num_classes,
                "dtype": str(self.images.dtype), "sha256": self.sha256}


def read_npz(content: bytes, num_classes: int | None = None) -> CalibrationSet:
    """Check and read an uploaded ``.npz``; ``num_classes`` defaults to the largest label + 1."""
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                    or not 1 <= num_classes <= 100_000):
        raise DatasetError.of(Problem("num_classes", f"must be an integer from 1 to 100000, got {num_classes!r}"))
    try:
        archive = np.load(io.BytesIO(content), allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise DatasetError.of(Problem("file", f"not a NumPy .npz archive ({error.__class__.__name__}: {error})")) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetError.of(Problem("file", "a single .npy array; upload an .npz archive holding 'images' and 'labels'"))
    with archive:
        present = sorted(archive.files)
        problems = [Problem(key, f"missing from the archive (it holds {', '.join(present) or 'nothing'})")
                    for key in ("images", "labels") if key not in present]
        if problems:
            raise DatasetError.of(*problems)
        try:
            images, labels = archive["images"], archive["labels"]
        except (ValueError, OSError, zipfile.BadZipFile) as error:  # object arrays need pickle: refused
            raise DatasetError.of(Problem("file", f"an array could not be read without pickle ({error})")) from None
    images, problems = _check_images(images)
    labels, label_problems = _check_labels(labels, num_classes)
    problems += label_problems
    if images is not None and labels is not None and len(images) != len(labels):
        problems.append(Problem("labels", f"{len(labels)} labels for {len(images)} images"))
    if problems:
        raise DatasetError.of(*problems)
    classes = num_classes if num_classes is not None else int(labels.max()) + 1
    return CalibrationSet(np.ascontiguousarray(images), labels, classes, hashlib.sha256(content).hexdigest())


def _check_images(images: np.ndarray) -> tuple[np.ndarray | None, list[Problem]]:
    problems = []
    if images.dtype != np.uint8 and images.dtype.type not in FLOAT_DTYPES:
        problems.append(Problem("images", f"dtype {images.dtype} is not uint8, float32 or float64"))
    if images.ndim != 4 or 3 not in (images.shape[1], images.shape[-1]):
        problems.append(Problem("images", f"shape {images.shape} is not (N, H, W, 3) or (N, 3, H, W)"))
        return None, problems
    if images.shape[-1] == 3 and images.shape[1] != 3:
        images = images.transpose(0, 3, 1, 2)
    n, _, height, width = images.shape
    if not 1 <= n <= MAX_IMAGES:
        problems.append(Problem("images", f"{n} images; from 1 to {MAX_IMAGES} are accepted"))
    if not (8 <= height <= MAX_SIDE and 8 <= width <= MAX_SIDE):
        problems.append(Problem("images", f"{height}x{width} pixels; each side must be from 8 to {MAX_SIDE}"))
    if images.dtype.type in FLOAT_DTYPES and n and not np.isfinite(images).all():
        problems.append(Problem("images", "holds NaN or infinite values"))
    if problems:
        return None, problems
    return (images if images.dtype == np.uint8 else images.astype(np.float32)), []


def _check_labels(labels: np.ndarray, num_classes: int | None) -> tuple[np.ndarray | None, list[Problem]]:
    if not np.issubdtype(labels.dtype, np.integer):
        return None, [Problem("labels", f"dtype {labels.dtype} is not an integer type")]
    if labels.ndim != 1 or labels.size == 0:
        return None, [Problem("labels", f"shape {labels.shape} is not (N,) with N >= 1")]
    low, high = int(labels.min()), int(labels.max())
    if low < 0:
        return None, [Problem("labels", f"{low} is negative; labels run from 0 to num_classes - 1")]
    if num_classes is not None and high >= num_classes:
        return None, [Problem("labels", f"{high} is out of range for num_classes={num_classes} (0 to {num_classes - 1})")]
    if high >= 100_000:
        return None, [Problem("labels", f"{high} is over the largest class index accepted, 99999")]
    return labels.astype(np.int64), []
