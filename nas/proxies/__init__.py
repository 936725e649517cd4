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
    naswot,
    snip,
    synflow,
    zen,
    zico,
)
from nas.proxies import counts  # noqa: F401, E402
from nas.proxies.common import FLOOR
from nas.proxies.data import ProxyData, cifar10_data, synthetic_data
from nas.proxies.engine import compute
from nas.proxies.ensemble import ensemble_scores, mean_rank
from nas.proxies.registry import ProxySpec, get, names, proxy

BASELINES = ("params", "macs")

# Calibration batch size per space: 64 as in the reference evaluations; MetaFormer candidates cost
# up to ~8x a MobileNetV3's multiply-adds, so they get 32.
DEFAULT_BATCH = {"nasbench201": 64, "mobilenetv3": 64, "shufflenetv2": 64, "metaformer": 32}

__all__ = [
    "BASELINES",
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
