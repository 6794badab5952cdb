"""DeepDream synthesis of the emotion study's stimuli (Paper 1).

``LAYERS`` are the 144 InceptionV1 layers of the study in the study's order.
"""
from __future__ import annotations

_BRANCHES = ("1x1_pre_relu", "1x1", "3x3_bottleneck_pre_relu", "3x3_bottleneck", "3x3_pre_relu", "3x3",
             "5x5_bottleneck_pre_relu", "5x5_bottleneck", "5x5_pre_relu", "5x5", "pool", "pool_reduce_pre_relu",
             "pool_reduce", "")


def _mixed(block: str) -> list[str]:
    return [f"{block}_{b}" if b else block for b in _BRANCHES]


LAYERS: tuple[str, ...] = tuple(
    ["conv2d0_pre_relu", "conv2d0", "maxpool0", "localresponsenorm0", "conv2d1_pre_relu", "conv2d1",
     "conv2d2_pre_relu", "conv2d2", "localresponsenorm1", "maxpool1"]
    + _mixed("mixed3a") + _mixed("mixed3b") + ["maxpool4"]
    + [n for b in ("mixed4a", "mixed4b", "mixed4c", "mixed4d", "mixed4e") for n in _mixed(b)] + ["maxpool10"]
    + _mixed("mixed5a") + _mixed("mixed5b")
    + ["head0_pool", "head0_bottleneck_pre_relu", "head0_bottleneck", "head1_pool", "head1_bottleneck_pre_relu",
       "head1_bottleneck"]
)
assert len(LAYERS) == 144 and len(set(LAYERS)) == 144
