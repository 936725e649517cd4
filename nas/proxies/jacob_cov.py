"""Jacobian covariance (Mellor et al., "Neural Architecture Search without Training", v1, 2020), as
evaluated by Abdelfattah et al. (ICLR 2021).

Score: -sum(log(l + k) + 1 / (l + k)), k = 1e-5, l the eigenvalues of the correlation matrix of the
per-sample input Jacobians d(sum logits)/dx (train mode). The correlation matrix is symmetric, so a
symmetric eigensolver gives real eigenvalues; round-off negatives are clipped to 0. If a Jacobian row
is constant (the output ignores that input) the correlation is undefined: the floor is reported.
"""

from __future__ import annotations

import numpy as np

from nas.proxies.common import FLOOR
from nas.proxies.registry import proxy

K = 1e-5


@proxy("jacob_cov", description="eigenvalue score of the correlation of input Jacobians",
       shared=("jacobian",))
def jacob_cov(context) -> float:
    jacobian = context.shared.jacobian.reshape(context.inputs.shape[0], -1).double().numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(jacobian)
    if not np.isfinite(corr).all():
        return FLOOR
    eigenvalues = np.clip(np.linalg.eigvalsh(corr), 0.0, None)
    return float(-np.sum(np.log(eigenvalues + K) + 1.0 / (eigenvalues + K)))
