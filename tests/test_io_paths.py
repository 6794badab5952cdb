"""Atomic writes, robust image reading, and path resolution."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import helpers
from helpers import io, paths


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "t.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_outputs_follow_the_umask_not_mkstemps_0600(tmp_path, mask):
    import os
    import stat

    old = os.umask(mask)
    try:
        out = io.write_bytes(tmp_path / "a.txt", b"x")
        io.save_table(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
        (tmp_path / "ref.txt").write_bytes(b"x")  # what open() makes under this umask
    finally:
        os.umask(old)
    want = stat.S_IMODE((tmp_path / "ref.txt").stat().st_mode)
    assert want == 0o666 & ~mask
    assert stat.S_IMODE(out.stat().st_mode) == want and stat.S_IMODE((tmp_path / "t.csv").stat().st_mode) == want


def test_tables_and_json_round_trip(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for suffix in (".csv", ".parquet"):
        io.save_table(df, tmp_path / f"t{suffix}")
        pd.testing.assert_frame_equal(io.load_table(tmp_path / f"t{suffix}"), df)
    io.save_json({"r2": np.float64(0.37), "v": np.arange(2)}, tmp_path / "k.json")
    assert io.load_json(tmp_path / "k.json") == {"r2": 0.37, "v": [0, 1]}
    with pytest.raises(ValueError, match="unsupported suffix"):
        io.save_table(df, tmp_path / "t.xlsx")


def test_read_image_normalises_modes(tmp_path):
    rgb = (np.arange(32 * 32 * 3) % 251).astype(np.uint8).reshape(32, 32, 3)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert np.array_equal(io.read_image(tmp_path / "rgb.png"), rgb)
    Image.fromarray(rgb[..., 0]).save(tmp_path / "gray.png")
    g = io.read_image(tmp_path / "gray.png")
    assert g.shape == (32, 32, 3) and np.array_equal(g[..., 0], g[..., 2])
    rgba = np.dstack([rgb, np.zeros((32, 32), np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "clear.png")
    assert (io.read_image(tmp_path / "clear.png") == 255).all()  # fully transparent -> white
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(tmp_path / "deep.png")
    assert np.abs(io.read_image(tmp_path / "deep.png")[..., 0].astype(int) - rgb[..., 0]).max() <= 1


def test_read_image_errors_name_the_file(tmp_path):
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.png").write_text("not an image")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "tiny.png")
    for name, why in [("trunc.png", "cannot be read"), ("text.png", "cannot be read"), ("tiny.png", "smaller than")]:
        with pytest.raises(io.ImageReadError, match=why) as err:
            io.read_image(tmp_path / name)
        assert name in str(err.value)


def test_paths_are_per_profile_and_overridable(tmp_path, monkeypatch):
    monkeypatch.setenv("NA_RESULTS_DIR", str(tmp_path / "r"))
    assert paths.results("smoke") == tmp_path / "r" / "smoke"
    assert paths.results("paper") != paths.results("smoke")
    assert (paths.notebooks() / "00-setup-check.ipynb").exists()
    with pytest.raises(ValueError, match="PROFILE must be one of"):
        paths.figures("fast")


def test_setup_seeds_and_resolves_device():
    import torch

    dev = helpers.setup(seed=5, style=False)
    a = torch.rand(3)
    helpers.setup(seed=5, style=False)
    assert torch.equal(a, torch.rand(3)) and dev.type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA"):
            helpers.resolve_device("cuda")


def test_exclusive_lets_one_process_at_a_time_through(tmp_path):
    """Two processes converting the same cache file: the second must wait for the first (helpers.io.exclusive)."""
    import subprocess
    import sys
    import time

    target, log = tmp_path / "cache.pt", tmp_path / "log.txt"
    code = ("import sys, time\nfrom helpers import io\n"
            "with io.exclusive(sys.argv[1]):\n"
            "    open(sys.argv[2], 'a').write('in\\n'); time.sleep(0.5); open(sys.argv[2], 'a').write('out\\n')\n")
    env = {**__import__("os").environ, "PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(target), str(log)], env=env) for _ in range(2)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    assert log.read_text().split() == ["in", "out", "in", "out"]  # never in, in
