"""Baselines reported beside every proxy: the parameter count and the multiply-adds ("macs", the
NAS-paper convention: NAS-Bench-201's and MobileNetV3's FLOPs are multiply-adds) of one image.
Larger networks tend to be more accurate, which is what these baselines measure."""

from __future__ import annotations

from nas.counting import count_macs, count_params
from nas.proxies.registry import proxy


@proxy("params", description="number of parameters (baseline)", data=False)
def params(context) -> float:
    return float(count_params(context.model))


@proxy("macs", description="multiply-adds of one image (baseline)", data=False)
def macs(context) -> float:
    return float(count_macs(context.model, (1, *context.inputs.shape[1:])))
