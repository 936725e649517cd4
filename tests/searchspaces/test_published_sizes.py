"""Published networks written in our spaces have their published sizes."""

from __future__ import annotations

import pytest

import searchspaces
from nas.counting import count_macs, count_params
from searchspaces.mobilenetv3 import MOBILENETV3_LARGE


def test_mobilenetv3_large_has_the_published_size():
    """Howard et al. 2019, Table 3: MobileNetV3-Large 1.0 at 224 has 5.4M params and 219M MACs."""
    space = searchspaces.get("mobilenetv3")
    model = space.build(MOBILENETV3_LARGE, num_classes=1000)
    params = count_params(model)
    macs = count_macs(model, (1, 3, 224, 224))
    assert params == pytest.approx(5.4e6, rel=0.03)
    assert macs == pytest.approx(219e6, rel=0.05)


# NAS-Bench-201 parameter counts for CIFAR-10 (10 classes), in millions, as published with the benchmark
# and stored in NASLib's zc_nasbench201.json (../shared/zc_ground_truth/data/naslib_zc). Our network
# matches all 725 archs in that file exactly; these six span the range.
NB201_PARAMS_M = {
    "|none~0|+|none~0|skip_connect~1|+|skip_connect~0|skip_connect~1|none~2|": 0.073306,
    "|nor_conv_1x1~0|+|none~0|nor_conv_3x3~1|+|none~0|skip_connect~1|nor_conv_1x1~2|": 0.372346,
    "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_1x1~1|none~2|": 0.615386,
    "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_3x3~2|": (
        1.073466
    ),
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|": (
        1.531546
    ),
    "|nor_conv_1x1~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|": (
        0.101306
    ),
}


@pytest.mark.parametrize("arch_str", sorted(NB201_PARAMS_M))
def test_nasbench201_cells_have_the_benchmark_parameter_counts(arch_str):
    space = searchspaces.get("nasbench201")
    model = space.build(space.decode(arch_str), num_classes=10)
    assert count_params(model) / 1e6 == pytest.approx(NB201_PARAMS_M[arch_str], abs=1e-6)


def test_nasbench201_string_is_the_benchmark_string():
    """Index 0 of NAS-Bench-201, as written in the benchmark (SOURCES.md of the ground truth)."""
    space = searchspaces.get("nasbench201")
    text = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    arch = space.decode(text)
    assert arch == ("avg_pool_3x3", "nor_conv_1x1", "skip_connect", "nor_conv_1x1", "skip_connect",
                    "skip_connect")
    assert space.encode(arch) == text
    assert space.size() == 15625
