"""MeCo (Jiang et al., "MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum
Eigenvalue of Correlation", NeurIPS 2023).

Score: the sum over every module (the reference hooks ``named_modules()``: containers and the model
itself too) of the smallest eigenvalue of the Pearson correlation matrix of the module's output for the
first sample of the batch, reshaped to (first dimension, -1): for feature maps, the C x C correlation
of the channels over the pixels. As in the reference, an undefined correlation (a constant channel)
counts as 0 in the matrix, and outputs that are not tensors of two or more dimensions are skipped;
a flat output (a classifier's logits, one value per row) gives a zero matrix and adds nothing.

Where ours differs: the forward is the engine's shared train-mode pass over the whole batch (the
reference also forwards a batch and reads its first sample; batch statistics of the norms therefore
come from the batch), and the eigenvalues are those of the symmetric matrix in float64 (``eigvalsh``;
the reference takes the real parts of a general eigensolver's). MeCo-opt (8 sampled channels per
module, scaled by C / 8) is not offered: it trades exactness for GPU time we do not spend here.
"""

from __future__ import annotations

import math

from nas.proxies.common import FLOOR
from nas.proxies.registry import proxy


@proxy("meco", description="sum over modules of the least eigenvalue of the channel correlation (one sample)",
       shared=("features",))
def meco(context) -> float:
    values = [v for v in context.shared.min_eigenvalues if math.isfinite(v)]
    return float(sum(values)) if values else FLOOR
