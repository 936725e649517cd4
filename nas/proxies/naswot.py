"""NASWOT (Mellor et al., "Neural Architecture Search without Training", ICML 2021).

Score: log|det K|, K = sum over activation layers of c c^T + (1 - c)(1 - c)^T, c the binary codes
(pre-activation > 0) of each sample's units, from one train-mode forward of the batch (no labels).
The reference hooks ReLUs; other activations (h-swish, GELU) are hooked with the same test. slogdet
gives the log; a singular K reports the floor.
"""

from __future__ import annotations

import numpy as np

from nas.proxies.common import FLOOR
from nas.proxies.registry import proxy


@proxy("naswot", description="log-determinant of the activation-pattern Hamming kernel",
       shared=("codes",))
def naswot(context) -> float:
    sign, logdet = np.linalg.slogdet(context.shared.kernel)
    return float(logdet) if sign != 0 else FLOOR
