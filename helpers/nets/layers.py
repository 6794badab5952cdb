"""Layer names of InceptionV1 (inception5h), without torch: the study's 144 layers and how they group.

Everything here is about names, so the statistics and ratings modules can read them without importing
torch (1.85 s) or the network:

==========================  ===============================================================
name                        what
==========================  ===============================================================
:data:`LAYERS`              the 144 layers of the emotion study, in the study's order
:data:`CLASS_LAYERS`        20 of them spanning the network (the class profile of notebook 01)
:func:`layer_type`          coarse type of a layer (conv, 3x3, reduce, mixed output, head, ...)
:func:`layer_family`        a layer and its ``_pre_relu`` twin share a family
:data:`GROUP_PATTERNS`      Figure 11's layer types as regular expressions
:func:`layers_matching`     the layers (in study order) that match a pattern
==========================  ===============================================================
"""
from __future__ import annotations

import re

_BRANCHES = ("1x1_pre_relu", "1x1", "3x3_bottleneck_pre_relu", "3x3_bottleneck", "3x3_pre_relu", "3x3",
             "5x5_bottleneck_pre_relu", "5x5_bottleneck", "5x5_pre_relu", "5x5", "pool", "pool_reduce_pre_relu",
             "pool_reduce", "")


def _mixed_layers(block: str) -> list[str]:
    return [f"{block}_{b}" if b else block for b in _BRANCHES]


LAYERS: tuple[str, ...] = tuple(
    ["conv2d0_pre_relu", "conv2d0", "maxpool0", "localresponsenorm0", "conv2d1_pre_relu", "conv2d1",
     "conv2d2_pre_relu", "conv2d2", "localresponsenorm1", "maxpool1"]
    + _mixed_layers("mixed3a") + _mixed_layers("mixed3b") + ["maxpool4"]
    + [n for b in ("mixed4a", "mixed4b", "mixed4c", "mixed4d", "mixed4e") for n in _mixed_layers(b)] + ["maxpool10"]
    + _mixed_layers("mixed5a") + _mixed_layers("mixed5b")
    + ["head0_pool", "head0_bottleneck_pre_relu", "head0_bottleneck", "head1_pool", "head1_bottleneck_pre_relu",
       "head1_bottleneck"]
)
"""The 144 layers of the emotion study, in the study's order (every one a node of :mod:`helpers.nets.inception`)."""
assert len(LAYERS) == 144 and len(set(LAYERS)) == 144

# 20 layers spanning the network, one or two per stage, for the class profile (first conv to aux head)
CLASS_LAYERS = ("conv2d0", "localresponsenorm0", "conv2d2", "maxpool1", "mixed3a_3x3_bottleneck_pre_relu", "mixed3a",
                "mixed3b_5x5", "mixed3b", "mixed4a_1x1", "mixed4a", "mixed4b_3x3", "mixed4c", "mixed4c_pool_reduce",
                "mixed4d_3x3_bottleneck_pre_relu", "mixed4d", "mixed4e_5x5", "mixed5a", "mixed5b_3x3", "mixed5b",
                "head1_bottleneck")


def layer_type(layer: str) -> str:
    """Coarse type of an InceptionV1 (inception5h) layer name, for grouping the dream stimuli.

    From the layer naming scheme of :data:`LAYERS`: the stem's ``conv2d*`` -> "conv",
    ``maxpool*`` -> "maxpool", ``localresponsenorm*`` -> "lrn"; a mixed block's branches
    ``*_1x1`` -> "1x1", ``*_3x3`` -> "3x3", ``*_5x5`` -> "5x5", their 1x1 reductions
    ``*_bottleneck``/``*_pool_reduce`` -> "reduce", ``*_pool`` -> "pool branch", the block
    output ``mixedNx`` -> "mixed output"; the auxiliary ``head*`` layers -> "head".
    ``_pre_relu`` variants get the type of their layer.

    Used in: notebook 02 through :func:`helpers.measures.table.stimuli`.
    """
    name = str(layer).removesuffix("_pre_relu")
    if name.startswith("head"):
        return "head"
    if re.fullmatch(r"conv2d\d+", name):
        return "conv"
    if re.fullmatch(r"maxpool\d+", name):
        return "maxpool"
    if re.fullmatch(r"localresponsenorm\d+", name):
        return "lrn"
    m = re.fullmatch(r"mixed\d[a-e](?:_(.*))?", name)
    if not m:
        return "other"
    branch = m.group(1)
    if branch is None:
        return "mixed output"
    if branch.endswith("bottleneck") or branch == "pool_reduce":
        return "reduce"
    return {"1x1": "1x1", "3x3": "3x3", "5x5": "5x5", "pool": "pool branch"}.get(branch, "other")


def layer_family(name: str) -> str:
    """A layer and its ``_pre_relu`` twin (near-identical images) share a family: ``conv2d0_pre_relu`` -> ``conv2d0``.

    Used in: notebook 04 through :func:`helpers.study.density.nearest_corners`.
    """
    return name.removesuffix("_pre_relu")


GROUP_PATTERNS = {
    "mixed{N}{m}_pool": r"mixed[345][a-e]_pool",
    "mixed{N}{m}_{K}x{K}_pre_relu": r"mixed[345][a-e]_(3x3|5x5)_pre_relu",
    "conv2d{L}": r"conv2d[012]",
    "mixed{N}{m}": r"mixed[345][a-e]",
}
"""Figure 11's layer types as full-match regular expressions over layer names."""


def layers_matching(pattern: str, layers=None) -> list[str]:
    """Layers (in study order) whose name fully matches a ``GROUP_PATTERNS`` key or a regex.

    Used in: notebook 03 through :func:`helpers.study.simulate.ratings`; notebook 04 (Figure 11,
        p1-group-tests.csv) through :func:`helpers.study.effects.group_tests`; notebook 08 (key-numbers.json,
        study/power.csv) through :func:`helpers.study.simulate.power_analysis`.
    """
    regex = re.compile(GROUP_PATTERNS.get(pattern, pattern))
    return [name for name in (layers or LAYERS) if regex.fullmatch(name)]
