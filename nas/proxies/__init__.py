"""Zero-cost proxies: one file per proxy, a registry, one engine that shares passes, and a rank
ensemble. Every proxy returns one finite float, higher is better; see each module's docstring.

    scores = nas.proxies.compute(build, inputs, targets, ["synflow", "naswot", "params"])
"""

# Importing a proxy module registers it; the baselines (counts) come last in listings.
from nas.proxies import (  # noqa: F401, I001
    fisher,
    grad_norm,
    grasp,
    jacob_cov,
    meco,
    naswot,
    snip,
    swap,
    synflow,
    zen,
    zico,
    aznas,  # three proxies: az_expressivity, az_progressivity, az_trainability
)
from nas.proxies import counts  # noqa: F401, E402
from nas.proxies.common import FLOOR
from nas.proxies.data import ProxyData, cifar10_data, synthetic_data
from nas.proxies.engine import compute
from nas.proxies.ensemble import ensemble_scores, mean_rank
from nas.proxies.registry import ProxySpec, get, names, proxy

BASELINES = ("params", "macs")

# The ensemble to reach for (log-rank sum, ``ensemble_scores``): on 1,000 NAS-Bench-201 cells with real
# CIFAR-10 images it ranks above each of its members and every other set measured, on all three
# datasets (bench/nb201_proxies.py; docs/benchmarks.md, "Proxies against NAS-Bench-201").
DEFAULT_ENSEMBLE = ("meco", "synflow", "jacob_cov")

# Calibration batch size per space: 64 as in the reference evaluations; MetaFormer candidates cost
# up to ~8x a MobileNetV3's multiply-adds, so they get 32.
DEFAULT_BATCH = {"nasbench201": 64, "mobilenetv3": 64, "shufflenetv2": 64, "metaformer": 32}

__all__ = [
    "BASELINES",
    "DEFAULT_ENSEMBLE",
    "DEFAULT_BATCH",
    "FLOOR",
    "ProxyData",
    "ProxySpec",
    "cifar10_data",
    "compute",
    "ensemble_scores",
    "get",
    "mean_rank",
    "names",
    "proxy",
    "synthetic_data",
]
