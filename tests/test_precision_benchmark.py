"""benchmarks/precision.py's statistics against an independent implementation (statsmodels' paired TOST)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.weightstats import ttost_paired

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def precision():
    spec = importlib.util.spec_from_file_location("precision_benchmark", ROOT / "benchmarks" / "precision.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _frame(shift, rng):
    rows = []
    for layer in ("a", "b", "c", "d"):
        base = rng.normal(10, 3)
        for seed in range(5):
            v = base + rng.normal(0, 1.0)
            for way, d in (("fp32_2t", 0.0), ("fp32_1t", rng.normal(0, 0.01)), ("bf16", shift + rng.normal(0, 0.1))):
                rows.append({"way": way, "layer": layer, "seed": seed, "m": v + d, "width": 8.0})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.4])
def test_tost_matches_statsmodels(precision, shift):
    df = _frame(shift, np.random.default_rng(7))
    tab = precision.compare(df).set_index("measure")
    assert list(tab.index) == ["m"]  # width (an image-size column) is not a measure
    wide = df.pivot_table(index=["layer", "seed"], columns="way", values="m")
    sd = float(np.sqrt(df[df.way == "fp32_2t"].groupby("layer")["m"].var(ddof=1).mean()))
    assert tab.loc["m", "between_seed_sd"] == pytest.approx(sd)
    delta = precision.MARGIN * sd
    p, _, _ = ttost_paired(wide["bf16"].to_numpy(), wide["fp32_2t"].to_numpy(), -delta, delta)
    assert tab.loc["m", "tost_p"] == pytest.approx(p, rel=1e-9)
    assert tab.loc["m", "tost"] == ("pass" if p < 0.05 else "FAIL")
    assert (tab.loc["m", "tost"] == "pass") == (shift < 0.1)  # 0.4 is two margins away; 0 and 0.05 inside
    assert tab.loc["m", "thread_abs_sd"] < tab.loc["m", "bf16_abs_sd"]
