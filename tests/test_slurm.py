"""Cluster jobs (helpers/cluster.py): the generated sbatch scripts, their options and config, without a scheduler.

The end-to-end runs on a real slurmctld/slurmd are in ``tests/test_slurm_cluster.py`` (marker ``slurm``).
"""
from __future__ import annotations

import io as _io
import json
import shutil
import subprocess

import pytest

from helpers import cluster, pipeline, registry
from helpers.search import index_shards


def _dry_run(argv) -> str:
    buf = _io.StringIO()
    parser = pipeline.argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd")
    cluster.add_submit_arguments(sub.add_parser("submit"))
    args = parser.parse_args(["submit", *argv, "--dry-run"])
    res = cluster.resources_for(args.config, partition=args.partition, account=args.account,
                                cpus_per_task=args.cpus_per_task, gpus_per_task=args.gpus_per_task, mem=args.mem,
                                time=args.time, extra=args.extra)
    cluster.submit(args.notebook, args.profile, n_shards=args.shards, params=cluster._parse_params(args.param),
                   resources=res, dry_run=True, prepare=args.prepare, max_parallel=args.max_parallel, stream=buf)
    return buf.getvalue()


def _scripts(text: str) -> dict[str, str]:
    """``{step: script}`` from a dry run's output."""
    out, step = {}, None
    for line in text.splitlines():
        if line.startswith("# ---- "):
            step = line.split()[2]
            out[step] = []
        elif line.startswith("# dry run"):
            step = None
        elif step:
            out[step].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def test_dry_run_prints_three_jobs_with_resources_and_writes_nothing():
    text = _dry_run(["01", "--profile", "paper", "--shards", "24", "--partition", "gpu", "--gpus-per-task", "1",
                     "--time", "2:00:00", "--sbatch=--qos=normal", "--max-parallel", "8", "-p", "SIZE", "512",
                     "-p", "START_IMAGES", "study"])
    s = _scripts(text)
    assert list(s) == ["prepare", "shards", "notebook"]  # paper: pretrained weights and the study's start images
    for script in s.values():
        assert script.startswith("#!/bin/bash")
        for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-task=1", "#SBATCH --time=2:00:00",
                     "#SBATCH --qos=normal", "#SBATCH --requeue", "#SBATCH --ntasks=1"):
            assert line in script.splitlines()
    assert "#SBATCH --array=0-23%8" in s["shards"].splitlines()
    assert "#SBATCH --dependency=afterok:<prepare job id>" in s["shards"]
    assert "#SBATCH --dependency=afterok:<shards job id>" in s["notebook"]
    assert ('task shard 01 --profile paper --n-shards 24 --shard "$SLURM_ARRAY_TASK_ID" -p SIZE 512 '
            "-p START_IMAGES study") in s["shards"]
    assert "-m helpers.pipeline run --profile paper --only 01 --no-check-inputs -p SIZE 512" in s["notebook"]
    assert "nothing written or submitted" in text
    assert not cluster.job_dir("01", "paper").exists()


def test_generated_scripts_are_valid_bash():
    bash = shutil.which("bash")
    for step, script in _scripts(_dry_run(["07", "--profile", "class", "--shards", "3"])).items():
        proc = subprocess.run([bash, "-n"], input=script, text=True, capture_output=True)
        assert proc.returncode == 0, f"{step}: {proc.stderr}"


def test_smoke_01_has_no_prepare_job_and_07_always_has_one():
    assert list(_scripts(_dry_run(["01", "--profile", "smoke", "--shards", "2"]))) == ["shards", "notebook"]
    assert list(_scripts(_dry_run(["07", "--profile", "smoke", "--shards", "2"]))) == ["prepare", "shards", "notebook"]
    assert list(_scripts(_dry_run(["07", "--profile", "smoke", "--shards", "2", "--no-prepare"]))) == ["shards", "notebook"]


def test_config_file_per_job_and_options_on_top(tmp_path):
    cfg = tmp_path / "cluster.toml"
    cfg.write_text('partition = "cpu"\naccount = "lab"\nextra = ["--qos=low"]\n'
                   '[shards]\npartition = "gpu"\ngpus_per_task = 1\ncpus_per_task = 8\nmem = "16G"\n'
                   '[notebook]\ntime = "0-01:00"\n')
    res = cluster.load_config(cfg)
    assert res["shards"] == cluster.Resources(partition="gpu", account="lab", cpus_per_task=8, gpus_per_task="1",
                                              mem="16G", extra=("--qos=low",))
    assert res["prepare"] == cluster.Resources(partition="cpu", account="lab", extra=("--qos=low",))
    assert res["notebook"].time == "0-01:00" and res["notebook"].partition == "cpu"
    over = cluster.resources_for(cfg, time="30", extra=["--constraint=a100"])
    assert over["shards"].time == "30" and over["shards"].extra == ("--qos=low", "--constraint=a100")
    s = _scripts(_dry_run(["01", "--profile", "smoke", "--shards", "2", "--config", str(cfg)]))
    assert "#SBATCH --gpus-per-task=1" in s["shards"] and "gpus-per-task" not in s["notebook"]


@pytest.mark.parametrize("text, needle", [
    ('partiton = "gpu"\n', "unknown key(s) ['partiton']"),
    ('[shard]\ncpus_per_task = 2\n', "unknown table(s) ['shard']"),
    ('time = "2h"\n', "time must be one of sbatch's formats"),
    ('mem = "16GB"\n', "mem must be a number"),
    ('extra = "--qos=x"\n', "extra must be a list"),
    ('[shards]\nextra = ["qos=x"]\n', "[shards]: each extra line must be one sbatch option"),
    ('cpus_per_task = 0\n', "cpus_per_task must be a whole number"),
    ('partition = "gpu\n', "not valid TOML"),
])
def test_config_errors_name_the_file_and_key(tmp_path, text, needle):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ValueError) as exc:
        cluster.load_config(cfg)
    assert needle in str(exc.value) and str(cfg) in str(exc.value)


def test_bad_arguments_fail_clearly():
    with pytest.raises(SystemExit, match="notebook '02' has no sharded job; these do: 01"):
        _dry_run(["02", "--shards", "2"])
    with pytest.raises(SystemExit, match="-p SIZES: not a parameter of 01-dream-synthesis.ipynb; did you mean SIZE"):
        _dry_run(["01", "--shards", "2", "-p", "SIZES", "5"])
    with pytest.raises(SystemExit, match="use --shards N"):
        _dry_run(["01", "--shards", "2", "-p", "SHARD", "1"])
    with pytest.raises(SystemExit, match="--shards must be >= 1"):
        _dry_run(["07", "--shards", "0"])
    with pytest.raises(ValueError, match="time must be one of"):
        _dry_run(["07", "--shards", "2", "--time", "2 hours"])


def test_notebook_parameters_are_read_from_the_parameters_cell():
    p = cluster.notebook_parameters("01-dream-synthesis.ipynb")
    assert p["SHARD"] == 0 and p["N_SHARDS"] == 1 and p["OCTAVE_LAYER"] == "mixed4c" and p["SIZE"] is None
    full = cluster.task_parameters("07", "smoke", {"K": 3})
    assert full["PROFILE"] == "smoke" and full["K"] == 3 and full["INDEX"] is None
    # a value goes through the script's command line and back unchanged
    for v in (512, "study", [0, 1], None, 1.5, "1"):
        assert cluster._parse_params([("X", cluster._param_text(v))])["X"] == v


def test_array_spec():
    assert cluster.array_spec([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert cluster.array_spec([3]) == "3"
    assert cluster.array_spec(range(24)) == "0-23"


@pytest.mark.parametrize("n, shards, batch", [(20, 2, 8), (60000, 24, 32), (5, 4, 8), (17, 3, 1)])
def test_index_shards_are_disjoint_whole_batches_covering_the_corpus(n, shards, batch):
    ranges = index_shards.shard_ranges(n, shards, batch)
    assert len(ranges) == shards and ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # contiguous, disjoint
    assert all(lo % batch == 0 or lo == n for lo, hi in ranges)  # every batch as in the single-process build
    batches = [-(-(hi - lo) // batch) for lo, hi in ranges]
    assert max(batches) - min(batches) <= 1  # whole batches dealt out evenly


def test_a_finished_job_is_not_submitted_again(monkeypatch, tmp_path):
    """Markers with the same fingerprint and the registered outputs on disk: nothing to submit, and it says so."""
    for var in ("NA_RESULTS_DIR", "NA_FIGURES_DIR", "NA_BUILD_DIR"):
        monkeypatch.setenv(var, str(tmp_path / var))
    key, profile, params = "01", "smoke", {"SIZE": 96}
    d = cluster.job_dir(key, profile, create=True)
    fp = cluster.fingerprint(key, profile, params)
    for item in registry.for_notebook(cluster.JOBS[key]["notebook"]):
        item.path(profile).parent.mkdir(parents=True, exist_ok=True)
        item.path(profile).write_bytes(b"x")
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    cluster._write_marker(d / "complete.json", fp)
    buf = _io.StringIO()
    assert cluster.submit(key, profile, n_shards=2, params=params, stream=buf) == {}
    assert "already complete (notebook job 77" in buf.getvalue() and "nothing submitted" in buf.getvalue()
    buf = _io.StringIO()  # --force: every shard again
    cluster.submit(key, profile, n_shards=2, params=params, dry_run=True, force=True, stream=buf)
    assert "#SBATCH --array=0-1" in buf.getvalue() and (d / "complete.json").exists()  # a dry run deletes nothing
    # other parameters are another job: its scripts would be printed
    buf = _io.StringIO()
    cluster.submit(key, profile, n_shards=2, params={"SIZE": 64}, dry_run=True, stream=buf)
    assert "#SBATCH --array=0-1" in buf.getvalue()
    # one shard of three finished: only the other two run
    cluster._write_marker(cluster.shard_marker(d, 1, 3), cluster.fingerprint(key, profile, {"SIZE": 64}))
    buf = _io.StringIO()
    cluster.submit(key, profile, n_shards=3, params={"SIZE": 64}, dry_run=True, stream=buf)
    assert "1 shard(s) already finished; running 2" in buf.getvalue() and "#SBATCH --array=0,2" in buf.getvalue()
    # a missing output makes the job incomplete again
    next(iter(registry.for_notebook(cluster.JOBS[key]["notebook"]))).path(profile).unlink()
    buf = _io.StringIO()
    cluster.submit(key, profile, n_shards=2, params=params, dry_run=True, stream=buf)
    assert "#SBATCH --array=0-1" in buf.getvalue()


def _fake_shard(folder, rows, settings, *, complete=True, sketch_dim=3, channels=2, rank=1):
    """A shard folder as build_index leaves it: raw row-ordered memmaps, items.parquet, meta.json."""
    import numpy as np
    import pandas as pd

    folder.mkdir(parents=True)
    n = len(rows)
    arrays = {"sketch.f16": np.array([[r] * (1 + sketch_dim) for r in rows], dtype=np.float16),
              "factors.f16": np.array([[[r] * rank] * channels for r in rows], dtype=np.float16),
              "ok.u8": np.ones(n, dtype=np.uint8), "energy.f32": np.array(rows, dtype=np.float32) / 10}
    for name, a in arrays.items():
        mm = np.memmap(folder / name, dtype=a.dtype, mode="w+", shape=a.shape)
        mm[:] = a
        mm.flush()
    pd.DataFrame({"item": [f"i{r}" for r in rows], "path": [f"/x/{r}.jpg" for r in rows]}).to_parquet(
        folder / "items.parquet")
    (folder / "meta.json").write_text(json.dumps({**settings, "n": n, "complete": complete}))


def test_index_merge_concatenates_the_shards_rows_and_refuses_a_missing_one(tmp_path):
    import numpy as np

    out = tmp_path / "artsearch-index"
    d = index_shards.shards_dir(out)
    settings = {"version": 1, "n": 5, "sketch_dim": 3, "rank": 1, "seed": 0, "n_fit": 256, "channels": 2,
                "corpus": "abc", "encoder": {"size": 64}}
    d.mkdir()
    (d / "plan.json").write_text(json.dumps({"settings": settings, "n": 5, "n_shards": 3, "batch_size": 2,
                                             "ranges": [[0, 4], [4, 5], [5, 5]]}))
    np.save(d / "mean.npy", np.ones(3, dtype=np.float32))
    _fake_shard(d / "shard-0000-of-0003", [0, 1, 2, 3], settings)
    p = {"PROFILE": "smoke", "REBUILD": None, "INDEX": str(out)}
    with pytest.raises(SystemExit, match="shard 1 .* is missing, incomplete or of other settings"):
        index_shards.merge(p, n_shards=3)
    assert not (out / "meta.json").exists()
    _fake_shard(d / "shard-0001-of-0003", [4], settings)
    index_shards.merge(p, n_shards=3)
    # read back as build_index's memmaps of the whole corpus (Index.load's shapes): row r holds r
    sk = np.memmap(out / "sketch.f16", dtype=np.float16, mode="r", shape=(5, 4))
    fa = np.memmap(out / "factors.f16", dtype=np.float16, mode="r", shape=(5, 2, 1))
    assert sk[:, 0].tolist() == [0, 1, 2, 3, 4] and fa[:, 1, 0].tolist() == [0, 1, 2, 3, 4]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["complete"] and meta["position"] == 5 and meta["merged_from"]["n_shards"] == 3
    assert {k: meta[k] for k in settings} == settings
    index_shards.verify(p, n_shards=3)
    (out / "meta.json").write_text(json.dumps({**settings, "complete": True}))  # as a rebuild by the notebook leaves it
    with pytest.raises(SystemExit, match="did not use the index assembled from the 3 shards"):
        index_shards.verify(p, n_shards=3)
