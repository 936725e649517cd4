"""Uploaded calibration datasets: what ``read_npz`` admits, what it refuses (naming each problem), and
the batch a search draws from an admitted one."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import searchspaces
from nas.datasets.calibration import DatasetError, read_npz
from nas.evaluate import ProxyConfig, evaluate, load_data
from nas.latency import default_profile


def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def images(n=12, side=16, channels_last=True, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n, side, side, 3) if channels_last else (n, 3, side, side)
    if dtype == np.uint8:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return rng.standard_normal(shape).astype(dtype)


def test_channels_last_uint8_is_admitted_as_nchw():
    data = read_npz(npz(images=images(), labels=np.arange(12) % 4))
    assert data.images.shape == (12, 3, 16, 16) and data.images.dtype == np.uint8
    assert data.num_classes == 4 and data.labels.dtype == np.int64
    assert data.describe()["num_images"] == 12 and len(data.sha256) == 64


def test_normalised_floats_and_a_declared_class_count():
    data = read_npz(npz(images=images(channels_last=False, dtype=np.float64), labels=np.zeros(12, np.int32)),
                    num_classes=10)
    assert data.images.dtype == np.float32 and data.num_classes == 10


@pytest.mark.parametrize("content, num_classes, expected", [
    (b"not an archive", None, ["file: not a NumPy .npz archive"]),
    (npz(pictures=images(), labels=np.zeros(12, int)), None, ["images: missing from the archive"]),
    (npz(images=images()), None, ["labels: missing"]),
    (npz(images=images().astype(np.int16), labels=np.zeros(12, int)), None, ["images: dtype int16"]),
    (npz(images=images()[:, :, :, :2], labels=np.zeros(12, int)), None, ["images: shape (12, 16, 16, 2)"]),
    (npz(images=images(side=4), labels=np.zeros(12, int)), None, ["images: 4x4 pixels"]),
    (npz(images=np.full((12, 3, 16, 16), np.nan, np.float32), labels=np.zeros(12, int)), None,
     ["images: holds NaN"]),
    (npz(images=images(), labels=np.zeros(12, np.float32)), None, ["labels: dtype float32"]),
    (npz(images=images(), labels=np.full(12, -1)), None, ["labels: -1 is negative"]),
    (npz(images=images(), labels=np.full(12, 10)), 10, ["labels: 10 is out of range for num_classes=10"]),
    (npz(images=images(), labels=np.zeros(11, int)), None, ["labels: 11 labels for 12 images"]),
    (npz(images=images().astype(np.int16), labels=np.full(12, -3)), None,
     ["images: dtype int16", "labels: -3 is negative"]),
    (npz(images=images(), labels=np.zeros(12, int)), 0, ["num_classes: must be an integer from 1"]),
])
def test_bad_files_are_refused_naming_every_problem(content, num_classes, expected):
    with pytest.raises(DatasetError) as caught:
        read_npz(content, num_classes)
    assert len(caught.value.problems) == len(expected), caught.value.problems
    for problem, start in zip(caught.value.problems, expected):
        assert str(problem).startswith(start), problem


def test_pickled_arrays_are_refused_without_unpickling():
    content = npz(images=np.array([object()], dtype=object), labels=np.zeros(1, int))
    with pytest.raises(DatasetError, match="without pickle"):
        read_npz(content)


def test_a_search_draws_its_batch_from_the_upload():
    space = searchspaces.get("nasbench201")
    uploaded = read_npz(npz(images=images(n=20, side=32), labels=np.arange(20) % 10))
    config = ProxyConfig(proxies=("naswot",), data="factory", batch_size=8)
    batch = load_data(config, space, num_classes=10, uploaded=uploaded)
    assert batch.source == "factory" and batch.inputs.shape == (8, 3, 32, 32)
    assert set(batch.targets.tolist()) <= set(range(10))
    # Normalised with the upload's own statistics: roughly zero mean, unit spread.
    assert abs(float(batch.inputs.mean())) < 0.3 and 0.7 < float(batch.inputs.std()) < 1.3
    assert torch.equal(batch.inputs, load_data(config, space, 10, uploaded).inputs), "seeded draw"
    arch = space.sample(np.random.default_rng(0))
    scores = evaluate(arch, space, config, batch, default_profile("nasbench201")).scores
    cifar = evaluate(arch, space, ProxyConfig(proxies=("naswot",), batch_size=8),
                     load_data(ProxyConfig(proxies=("naswot",), batch_size=8), space, 10),
                     default_profile("nasbench201")).scores
    assert scores["naswot"] != cifar["naswot"]


def test_an_upload_with_more_classes_than_the_networks_is_refused():
    space = searchspaces.get("nasbench201")
    uploaded = read_npz(npz(images=images(), labels=np.arange(12)))
    with pytest.raises(ValueError, match="data: dataset 'many' has 12 classes"):
        load_data(ProxyConfig(proxies=("naswot",), data="many", batch_size=8), space, 10, uploaded)
