"""One module traced to ONNX bytes: the exporter call that ``nas.export`` (a found network's file) and
``nas.latency.measure`` (ONNX Runtime timings of blocks and networks) share.

PyTorch's TorchScript exporter (``dynamo=False``) at opset ``ONNX_OPSET``. It lives below both users so
that the latency package, which the storage layer imports, does not import ``nas.export``, which
knows the storage layer.
"""

from __future__ import annotations

import io
import threading
import warnings

import torch
from torch import nn

ONNX_OPSET = 17
# Seeding the global RNG and the TorchScript exporter's global state are not thread-safe, and the
# API exports in its thread pool: every use of either holds this lock.
TORCH_LOCK = threading.Lock()


def onnx_bytes(module: nn.Module, example: torch.Tensor, *, input_name: str = "input",
               output_name: str = "output", dynamic_batch: bool = False) -> bytes:
    """``module`` traced on ``example`` and exported as an ONNX model (serialised bytes)."""
    buffer = io.BytesIO()
    axes = {input_name: {0: "batch"}, output_name: {0: "batch"}} if dynamic_batch else None
    with TORCH_LOCK, warnings.catch_warnings():
        # The TorchScript exporter exports a block in ~0.4 s against ~6 s for the torch.export
        # one, which matters when a space has hundreds of block keys; it is deprecated, not gone.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (example,), buffer, dynamo=False, opset_version=ONNX_OPSET,
            input_names=[input_name], output_names=[output_name], dynamic_axes=axes,
        )
    return buffer.getvalue()
