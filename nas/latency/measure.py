"""Timing one module on one runtime: PyTorch eager (CPU or CUDA) or ONNX Runtime (CPU), batch 1 by default.

On an NVIDIA GPU a module runs either eagerly (``cuda``: Python launches each kernel, so at batch 1 the
host sets the time) or captured once as a CUDA graph and replayed (``cuda-graph``: one launch for the
whole module, so the time is the kernels', as with a deployed engine that removes launch cost).

Practice follows once-for-all's and HW-NAS-Bench's latency tables: every measurement runs its own
warm-up iterations first, then ``repeats`` timed calls, each timed on its own with a monotonic
clock; a timing keeps the median, mean, standard deviation and minimum, and a profile names the one
its predictions use (see ``nas.latency.profiler`` for why the minimum is its default). The thread
count is fixed for the whole run, since intra-op parallelism changes the latency of small blocks
more than anything else does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from nas.onnx_export import onnx_bytes

RUNTIMES = ("torch", "onnxruntime")
MIN_REPEATS = 5


@dataclass(frozen=True)
class Timing:
    """Summary of ``count`` timed calls, in milliseconds."""

    p50: float
    mean: float
    std: float
    min: float
    count: int

    @classmethod
    def of(cls, samples: list[float]) -> "Timing":
        std = statistics.pstdev(samples) if len(samples) > 1 else 0.0
        return cls(statistics.median(samples), statistics.fmean(samples), std, min(samples), len(samples))

    def minus(self, overhead: float) -> "Timing":
        """The timing with a fixed cost taken off each statistic (never below zero)."""
        return Timing(
            max(self.p50 - overhead, 0.0), max(self.mean - overhead, 0.0), self.std,
            max(self.min - overhead, 0.0), self.count,
        )

    def as_entry(self) -> dict[str, float | int]:
        # 0.1 microsecond is finer than any timer jitter; more digits would be noise in the file.
        return {
            "p50": round(self.p50, 4), "mean": round(self.mean, 4), "std": round(self.std, 4),
            "min": round(self.min, 4), "count": self.count,
        }


def sample_calls(
    call: Callable[[], object], warmup: int, repeats: int, max_seconds: float | None = None
) -> list[float]:
    """Run ``call`` ``warmup`` times untimed, then up to ``repeats`` times timed one by one (ms).

    With ``max_seconds``, timing stops early once that much time was spent and at least
    ``MIN_REPEATS`` calls were timed, so a large network does not take minutes.
    """
    if warmup < 0 or repeats < 1:
        raise ValueError(f"need warmup >= 0 and repeats >= 1, got {warmup} and {repeats}")
    for _ in range(warmup):
        call()
    samples: list[float] = []
    deadline = None if max_seconds is None else time.perf_counter() + max_seconds
    for _ in range(repeats):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1e6)
        if deadline is not None and len(samples) >= MIN_REPEATS and time.perf_counter() > deadline:
            break
    return samples


def time_calls(
    call: Callable[[], object], warmup: int, repeats: int, max_seconds: float | None = None
) -> Timing:
    return Timing.of(sample_calls(call, warmup, repeats, max_seconds))


def runtime_version(runtime: str) -> str:
    """The version string of ``runtime`` as installed here; ``ValueError`` if unknown or absent."""
    if runtime == "torch":
        return torch.__version__
    if runtime == "onnxruntime":
        return _onnxruntime().__version__
    raise ValueError(f"unknown runtime {runtime!r}; choose from {list(RUNTIMES)}")


ACCELERATORS = ("cuda", "cuda-graph")


def check_accelerator(accelerator: str | None, runtime: str = "torch") -> None:
    """``ValueError`` naming the reason when ``accelerator`` (None: the CPU) cannot be used here."""
    if accelerator is None:
        return
    if accelerator not in ACCELERATORS:
        raise ValueError(f"unknown accelerator {accelerator!r}; choose from {list(ACCELERATORS)} (or none: the CPU)")
    if runtime != "torch":
        raise ValueError(f"accelerator {accelerator!r} is measured with runtime 'torch' only, not {runtime!r}")
    if not torch.cuda.is_available():
        raise ValueError(
            f"accelerator {accelerator!r} is not available here: torch {torch.__version__} sees no CUDA GPU"
        )


def accelerator_name(accelerator: str | None) -> str | None:
    """The GPU's name as the driver reports it (None on the CPU)."""
    return torch.cuda.get_device_name(0) if accelerator in ACCELERATORS else None


# glibc's mallopt parameters (malloc.h) and the values pinned; both are far above a batch-1 network's
# largest tensor, so every tensor of a call comes from, and goes back to, memory the heap already holds.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 256 << 20
_TRIM_THRESHOLD = 1 << 30
_pinned: list[str | None] = []


def steady_allocator() -> str | None:
    """Keep freed tensors in the C heap between calls, so a timed call does not fault in fresh pages.

    By default glibc serves a large block with its own ``mmap`` and returns it to the kernel when it
    is freed, and it hands the top of the heap back once more than a threshold is free; both
    thresholds then move with what the process has freed so far. So a network whose activations are
    large enough faults in fresh zeroed pages on every call (measured here with bench/allocator.py:
    400-2,900 minor page faults per call for many MobileNetV3 and ShuffleNetV2 networks, and such a
    network up to 37% slower), and whether it does depends on what the process ran before it. Page
    faults cost kernel time and memory bandwidth, the one resource the host's other tenants share
    with us. Fixed thresholds remove both effects. Returns what was set, recorded as
    ``measurement.allocator``, or None where the C library is not glibc (the setting is
    process-wide, so it is made once).
    """
    if not _pinned:
        _pinned.append(_pin_glibc())
    return _pinned[0]


def _pin_glibc() -> str | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        version = libc.gnu_get_libc_version
    except (OSError, AttributeError):  # not glibc (musl has no mallopt thresholds)
        return None
    version.restype = ctypes.c_char_p
    if not (mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)):
        return None
    return (
        f"glibc {version().decode()} malloc, mmap threshold {_MMAP_THRESHOLD >> 20} MiB, "
        f"trim threshold {_TRIM_THRESHOLD >> 20} MiB"
    )


def set_threads(threads: int) -> None:
    """Fix PyTorch's intra-op thread count (ONNX Runtime sessions take theirs per session)."""
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    torch.set_num_threads(threads)


class Runner:
    """Makes a timed callable of a module on one runtime, with a fixed thread count and batch."""

    def __init__(
        self, runtime: str = "torch", threads: int = 1, batch_size: int = 1, accelerator: str | None = None
    ) -> None:
        runtime_version(runtime)  # fails early, naming the runtime, when it cannot be used
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        check_accelerator(accelerator, runtime)
        self.runtime, self.threads, self.batch_size = runtime, threads, batch_size
        self.accelerator = accelerator
        self.allocator = steady_allocator()
        set_threads(threads)

    def prepare(self, module: nn.Module, shape: tuple[int, int, int]) -> Callable[[], object]:
        """A zero-argument callable that runs ``module`` once on a fixed random input of ``shape``.

        On CUDA the call waits for the GPU to finish, so a timing covers the kernels, not only their
        launch; with ``cuda-graph`` the call replays the module captured once as a CUDA graph.
        """
        module = module.eval()
        example = torch.randn(self.batch_size, *shape, generator=torch.Generator().manual_seed(0))
        if self.runtime == "torch":
            on_gpu = self.accelerator in ACCELERATORS
            if on_gpu:
                module, example = module.to("cuda"), example.to("cuda")
            if self.accelerator == "cuda-graph":
                return _graph_call(module, example)

            def call() -> object:
                with torch.inference_mode():
                    out = module(example)
                if on_gpu:
                    torch.cuda.synchronize()
                return out
            return call
        session = self._ort_session(module, example)
        feeds = {session.get_inputs()[0].name: example.numpy()}
        return lambda: session.run(None, feeds)

    def _ort_session(self, module: nn.Module, example: torch.Tensor):
        ort = _onnxruntime()
        model = onnx_bytes(module, example)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _graph_call(module: nn.Module, example: torch.Tensor) -> Callable[[], object]:
    """A call that replays ``module`` on ``example``, captured as one CUDA graph, and waits for it.

    The module runs a few times on a side stream first (as capture requires), so lazy initialisation
    and library handles are done before capture. A module that launches no kernel (an identity)
    gives an empty graph: its call then times the launch and the wait alone, the fixed cost.
    """
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side), torch.no_grad():
        for _ in range(3):
            module(example)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*CUDA Graph is empty.*")
        with torch.cuda.graph(graph), torch.no_grad():
            out = module(example)
    torch.cuda.synchronize()

    def call() -> object:
        graph.replay()
        torch.cuda.synchronize()
        return out
    return call


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ValueError(
            "runtime 'onnxruntime' is not installed here: pip install onnxruntime onnx"
        ) from None
    return onnxruntime
