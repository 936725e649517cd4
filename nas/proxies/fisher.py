"""Fisher (Theis et al., "Faster gaze prediction with dense networks and Fisher pruning", 2018;
Turner et al., BlockSwap, ICLR 2020), as a NAS proxy (Abdelfattah et al., ICLR 2021).

Score: for each conv/linear output activation a (before any norm or non-linearity), per channel
0.5 * mean over the batch of (sum over space of a * dL/da)^2, summed over channels and layers;
train mode, cross-entropy. Always >= 0.
"""

from __future__ import annotations

from nas.proxies.registry import proxy


@proxy("fisher", description="sum over channels of 0.5 * E[(sum act * dLoss/dact)^2]", labels=True,
       shared=("fisher",))
def fisher(context) -> float:
    return sum(per_channel.sum().item() for per_channel in context.shared.fisher)
