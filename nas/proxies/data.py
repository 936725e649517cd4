"""Data for the proxies: a calibration batch of real images, or synthetic data, and which it was.

The built-in batch is the shipped sample of 550 real CIFAR-10 images (``nas/datasets``), normalised
with the CIFAR-10 channel statistics and resized (bilinear) to the space's resolution. Synthetic data
is standard Gaussian images with uniformly drawn labels; data-dependent proxies lose correlation on
it, so results record which data they were computed on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import torch
import torch.nn.functional as F

from nas.datasets.calibration import CalibrationSet, channel_statistics

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class ProxyData:
    inputs: torch.Tensor  # float32 (N, 3, H, W)
    targets: torch.Tensor  # int64 (N,)
    source: str  # "synthetic", "cifar10_sample", or the name of an uploaded dataset


def synthetic_data(batch_size: int, resolution: int, num_classes: int, seed: int = 0) -> ProxyData:
    _check(batch_size, resolution)
    if num_classes < 1:
        raise ValueError(f"num_classes: must be at least 1, got {num_classes}")
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn((batch_size, 3, resolution, resolution), generator=generator)
    targets = torch.randint(0, num_classes, (batch_size,), generator=generator)
    return ProxyData(inputs, targets, "synthetic")


@lru_cache(maxsize=1)
def _cifar10_arrays() -> tuple[np.ndarray, np.ndarray]:
    with resources.files("nas.datasets").joinpath("cifar10_sample.npz").open("rb") as handle:
        data = np.load(handle)
        images = np.concatenate([data["x_train"], data["x_test"]])
        labels = np.concatenate([data["y_train"], data["y_test"]])
    return images, labels


def cifar10_sample_size() -> int:
    """Images in the shipped CIFAR-10 sample."""
    return len(_cifar10_arrays()[1])


def cifar10_data(batch_size: int = 64, resolution: int = 32, seed: int = 0) -> ProxyData:
    """A seeded draw of ``batch_size`` of the 550 shipped CIFAR-10 images (labels 0-9)."""
    _check(batch_size, resolution)
    images, labels = _cifar10_arrays()
    if batch_size > len(images):
        raise ValueError(f"batch_size: the CIFAR-10 sample holds {len(images)} images, asked {batch_size}")
    order = np.random.default_rng(seed).permutation(len(images))[:batch_size]
    return ProxyData(normalise(images[order], resolution), torch.from_numpy(labels[order]).long(),
                     "cifar10_sample")


def calibration_data(dataset: CalibrationSet, name: str, batch_size: int, resolution: int,
                     seed: int = 0) -> ProxyData:
    """A seeded draw of ``batch_size`` images of an uploaded dataset, at ``resolution``.

    ``uint8`` images are normalised with the dataset's own channel statistics (computed once when it
    was read); float images were normalised by their owner and are only resized. Only the drawn
    images are copied and made float32: memory grows with the batch, not with the dataset.
    """
    _check(batch_size, resolution)
    if batch_size > dataset.size:
        raise ValueError(f"batch_size: dataset {name!r} holds {dataset.size} images, asked {batch_size}")
    order = np.sort(np.random.default_rng(seed).permutation(dataset.size)[:batch_size])
    images = np.ascontiguousarray(dataset.images[order])  # the batch only, NCHW (a fancy index copies its rows)
    if images.dtype == np.uint8:
        mean, std = ((dataset.mean, dataset.std) if dataset.mean is not None and dataset.std is not None
                     else channel_statistics(dataset.images))
        inputs = normalise(images, resolution, mean, std)
    else:
        inputs = resize_to(torch.from_numpy(images).float(), resolution)
    return ProxyData(inputs, torch.from_numpy(dataset.labels[order]).long(), name)


def normalise(images: np.ndarray, resolution: int,
              mean: tuple[float, ...] = CIFAR10_MEAN, std: tuple[float, ...] = CIFAR10_STD) -> torch.Tensor:
    """uint8 NCHW images -> normalised float32 at ``resolution`` x ``resolution``."""
    x = torch.from_numpy(images).float().div_(255.0)
    x = (x - torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)) / torch.tensor(
        std, dtype=torch.float32).view(1, 3, 1, 1)
    return resize_to(x, resolution)


def resize_to(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Float NCHW images at ``resolution`` x ``resolution`` (bilinear), contiguous."""
    if x.shape[-1] != resolution or x.shape[-2] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
    return x.contiguous()


def _check(batch_size: int, resolution: int) -> None:
    if batch_size < 1:
        raise ValueError(f"batch_size: must be at least 1, got {batch_size}")
    if resolution < 8:
        raise ValueError(f"resolution: must be at least 8, got {resolution}")
