"""Notebooks 01 and 07 as SLURM array jobs on a real slurmctld + slurmd on this machine (marker ``slurm``).

The module starts its own scheduler once (``local_slurm``: a munge key and ``munged``, a ``slurm.conf`` for one
node with this machine's CPUs as ``slurmd -C`` reports them, ``slurmctld`` and ``slurmd``, all as root, on free
ports, in a temporary folder) and runs one scenario that every test reads:

* the smoke profile's notebooks 01 and 07 in one process each (``pipeline run``, one thread), the reference;
* 01 as a 2-task array plus its notebook job; task 0 is cancelled (``scancel``) mid-way, the notebook job dies
  with it, and a second submission runs task 0 again (and only task 0) plus the notebook job;
* 07 as a prepare job, a 2-task array and the notebook job (index from the shards, then the notebook).

Needs Debian's ``slurm-wlm`` and ``munge`` and root (the daemons run as root). Without them the tests are
skipped with that one line, except under ``CI=true``, where they fail (``.ci/run`` installs both packages).
"""
from __future__ import annotations

import io as _io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from helpers import cluster, paths
from helpers.search import index_shards
from helpers.study import client
from helpers.synthesis import dream_jobs
from helpers.testing import ci

pytestmark = pytest.mark.slurm

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")
WAIT_S = 900  # the whole scenario; about 4 minutes on a busy 2-core VM
LAYERS = list(dream_jobs.LAYERS[::4])  # 36 of the 144 layers (smoke: one seed): 18 images per shard
PARAMS = {"01": {"LAYERS": LAYERS}, "07": {}}


def _node_line() -> str:
    """``slurmd -C``'s description of this machine (NodeName=<host> CPUs=... RealMemory=...), first line."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=60).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("NodeName=")), None)
    if line is None:
        raise RuntimeError(f"`slurmd -C` printed no NodeName line: {out!r}")
    return line


def _write_conf(d: Path, node: str, munge_socket: Path) -> Path:
    # the keys of Debian's /usr/share/doc/slurmctld/examples/slurm.conf.simple.gz, for one node on localhost,
    # everything under d, root as SlurmUser, no cgroups (proctrack/linuxproc, task/none), no accounting
    host = node.split()[0].split("=", 1)[1]
    conf = d / "slurm.conf"
    conf.write_text("\n".join([
        f"ClusterName=na{os.getpid()}", f"SlurmctldHost={host}(127.0.0.1)",
        f"SlurmctldPort={client.free_port()}", f"SlurmdPort={client.free_port()}",
        "AuthType=auth/munge", f"AuthInfo=socket={munge_socket}", "CredType=cred/munge",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "MpiDefault=none", "ReturnToService=2",
        f"SlurmctldPidFile={d}/slurmctld.pid", f"SlurmdPidFile={d}/slurmd.pid",
        f"SlurmdSpoolDir={d}/spool", f"StateSaveLocation={d}/state", "SlurmUser=root", "SlurmdUser=root",
        "SchedulerType=sched/backfill", "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core",
        "AccountingStorageType=accounting_storage/none", "JobCompType=jobcomp/none",
        "JobAcctGatherType=jobacct_gather/none", "SchedulerParameters=sched_interval=1",
        "SlurmctldDebug=info", f"SlurmctldLogFile={d}/slurmctld.log",
        "SlurmdDebug=info", f"SlurmdLogFile={d}/slurmd.log",
        # RealMemory from slurmd -C, so the node registers as it is; the node address is localhost
        f"{node.split(' UpTime')[0]} NodeAddr=127.0.0.1 State=UNKNOWN",
        "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP", ""]))
    return conf


@pytest.fixture(scope="module")
def local_slurm(tmp_path_factory):
    """A running one-node SLURM on localhost; ``SLURM_CONF`` points the client commands at it."""
    missing = [b for b in DAEMONS if shutil.which(b) is None]
    if missing:
        ci.require(f"no local SLURM for the slurm tests: {', '.join(missing)} not found "
                      "(apt-get install slurm-wlm munge)")
    if os.geteuid() != 0:
        ci.require("no local SLURM for the slurm tests: starting munged, slurmctld and slurmd needs root")
    d = tmp_path_factory.mktemp("slurm")
    for sub in ("spool", "state", "munge"):
        (d / sub).mkdir()
    (d / "munge").chmod(0o755)  # munged wants its socket's folder reachable by everyone
    key = d / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    sock = d / "munge" / "munge.socket"
    env = {**os.environ, "SLURM_CONF": str(d / "slurm.conf")}
    started = []

    def run(cmd, what):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        if proc.returncode != 0:
            logs = " | ".join(p.read_text().strip().splitlines()[-1] for p in sorted(d.glob("*.log"))
                              if p.read_text().strip())
            ci.require(f"the local SLURM did not start: {what} exited {proc.returncode}: "
                          f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:]} {logs}")
        started.append(what)

    try:
        run(["munged", "--force", f"--socket={sock}", f"--key-file={key}", f"--log-file={d}/munged.log",
             f"--pid-file={d}/munged.pid", f"--seed-file={d}/munge/seed"], "munged")
        conf = _write_conf(d, _node_line(), sock)
        run(["slurmctld", "-f", str(conf)], "slurmctld")
        run(["slurmd", "-f", str(conf)], "slurmd")
        deadline = time.time() + 60
        state = ""
        while time.time() < deadline:
            state = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True,
                                   env=env).stdout.strip()
            if state == "idle":
                break
            time.sleep(0.5)
        else:
            tail = (d / "slurmd.log").read_text().strip().splitlines()[-1:] if (d / "slurmd.log").exists() else []
            ci.require(f"the local SLURM started but its node is {state or 'unknown'!r}, not idle, after 60 s: {tail}")
        old = os.environ.get("SLURM_CONF")
        os.environ["SLURM_CONF"] = str(conf)
        yield d
        subprocess.run(["scancel", "--me"], env=env, capture_output=True)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
    finally:
        for name in ("slurmd", "slurmctld", "munged"):  # only the daemons this fixture started, by their pid files
            pid = d / f"{name}.pid"
            if pid.exists():
                try:
                    os.kill(int(pid.read_text().split()[0]), 15)
                except (ProcessLookupError, ValueError):
                    pass


def _queued() -> list[str]:
    out = subprocess.run(["squeue", "--me", "--noheader", "--array", "--format=%i %j %T"], capture_output=True,
                         text=True).stdout
    return [ln for ln in out.splitlines() if ln.strip()]


def _logs(root: Path) -> str:
    return "\n".join(f"== {p}\n" + "\n".join(p.read_text().splitlines()[-15:])
                     for p in sorted(root.rglob("logs/*.out")))


def _durations(root: Path) -> str:
    """``name: seconds`` of each job log, from its first and last time stamps (the scripts echo them)."""
    out = []
    for p in sorted(root.rglob("logs/*.out")):
        stamps = [ln.split()[0] for ln in p.read_text().splitlines() if re.match(r"\d{4}-\d\d-\d\dT", ln)]
        if len(stamps) >= 2:
            a, b = (time.mktime(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ")) for t in (stamps[0], stamps[-1]))
            out.append(f"{p.stem.removeprefix('na-')} {b - a:.0f}")
    return ", ".join(out)


def _wait(pred, what: str, root: Path, timeout: float = WAIT_S, every: float = 1.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; queue: {_queued()}\n{_logs(root)}")


def _use(monkeypatch, root: Path):
    for var, sub in (("NA_RESULTS_DIR", "results"), ("NA_FIGURES_DIR", "figures"), ("NA_BUILD_DIR", "build")):
        monkeypatch.setenv(var, str(root / sub))


@pytest.fixture(scope="module")
def scenario(local_slurm, tmp_path_factory):
    """Run the reference and the cluster jobs once; return what the tests compare."""
    mp = pytest.MonkeyPatch()
    t0 = time.perf_counter()
    ref, run = tmp_path_factory.mktemp("single"), tmp_path_factory.mktemp("array")
    # the reference: each notebook in one process, one thread (the array tasks get OMP_NUM_THREADS=1 too)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           **{v: str(ref / s) for v, s in (("NA_RESULTS_DIR", "results"), ("NA_FIGURES_DIR", "figures"),
                                           ("NA_BUILD_DIR", "build"))}}
    single = subprocess.Popen([sys.executable, "-m", "helpers.pipeline", "run", "--profile", "smoke", "--only", "01",
                               "07", "--no-check-inputs", "-p", "LAYERS", repr(LAYERS)], env=env, cwd=paths.root(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _use(mp, run)
        out = {"ref": ref, "run": run}
        buf = _io.StringIO()
        out["ids01"] = cluster.submit("01", "smoke", n_shards=2, params=PARAMS["01"], stream=buf)
        out["ids07"] = cluster.submit("07", "smoke", n_shards=2, stream=buf)
        d01 = cluster.job_dir("01", "smoke")
        images = paths.results("smoke") / "dream"
        shard0 = [Path(dream_jobs.image_name(layer, 0)).stem for layer in LAYERS[0::2]]  # seeds [0]: every other layer

        def made0():
            return [p for p in shard0 if (images / "records" / f"{p}.json").exists()]

        _wait(lambda: len(made0()) >= 3 or cluster.shard_marker(d01, 0, 2).exists(), "task 0 of 01 to start", run,
              every=0.2)
        assert not cluster.shard_marker(d01, 0, 2).exists(), "task 0 finished before it could be cancelled"
        subprocess.run(["scancel", f"{out['ids01']['shards']}_0"], check=True)
        time.sleep(1)
        out["before_cancel"] = {p: (images / "records" / f"{p}.json").stat().st_mtime_ns for p in made0()}
        _wait(lambda: not any("na-01-" in q for q in _queued()), "01's jobs to end after the cancel", run)
        out["complete_after_cancel"] = (d01 / "complete.json").exists()
        buf2 = _io.StringIO()
        out["ids01_again"] = cluster.submit("01", "smoke", n_shards=2, params=PARAMS["01"], stream=buf2)
        out["resubmit_text"] = buf2.getvalue()
        _wait(lambda: not _queued(), "every job to end", run)
        single_out, _ = single.communicate(timeout=WAIT_S)
        out["single_rc"], out["single_out"] = single.returncode, single_out
        out["logs"] = _logs(run)
        out["seconds"] = time.perf_counter() - t0
        print(f"slurm scenario: {out['seconds']:.0f} s; jobs: {_durations(run)}", file=sys.stderr)
        yield out
    finally:
        if single.poll() is None:
            single.kill()
        mp.undo()


def test_reference_and_notebook_jobs_ran(scenario):
    assert scenario["single_rc"] == 0, scenario["single_out"][-3000:]
    for key in ("01", "07"):
        d = scenario["run"] / "build/smoke/slurm" / Path(cluster.JOBS[key]["notebook"]).stem
        assert (d / "complete.json").exists(), f"{key}: the notebook job did not finish\n{scenario['logs']}"


def test_01_as_array_job_equals_one_process_byte_for_byte(scenario):
    ref, run = scenario["ref"] / "results/smoke/dream", scenario["run"] / "results/smoke/dream"
    names = sorted(p.name for p in (ref / "images").glob("*.png"))
    assert len(names) == len(LAYERS) and names == sorted(p.name for p in (run / "images").glob("*.png"))
    differ = [n for n in names if (ref / "images" / n).read_bytes() != (run / "images" / n).read_bytes()]
    assert not differ, f"{len(differ)} images differ, first {differ[:3]}"
    a, b = pd.read_csv(ref / "manifest.csv"), pd.read_csv(run / "manifest.csv")
    # every column but the measured compute time of each image
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))
    for fig in ("p1-dream-contact-sheet.png", "p1-dream-octaves.png"):
        assert (scenario["ref"] / "figures/smoke" / fig).read_bytes() == (scenario["run"] / "figures/smoke" / fig).read_bytes(), fig


def test_shards_write_disjoint_files_covering_the_job(scenario):
    d = scenario["run"] / "build/smoke/slurm/01-dream-synthesis"
    files = [set(json.loads(cluster.shard_marker(d, k, 2).read_text())["files"]) for k in range(2)]
    assert not files[0] & files[1]
    assert len(files[0] | files[1]) == len(LAYERS)
    d7 = scenario["run"] / "results/smoke/artsearch-index.shards"
    assert sorted(p.name for p in d7.glob("shard-*")) == ["shard-0000-of-0002", "shard-0001-of-0002"]


def test_a_cancelled_task_resumes_where_it_stopped(scenario):
    assert scenario["before_cancel"], "nothing was made before the cancel"
    assert not scenario["complete_after_cancel"], "the notebook job ran although task 0 was cancelled"
    text = scenario["resubmit_text"]
    assert "1 shard(s) already finished; running 1" in text and re.search(r"array 0\b(?!-)", text), text
    records = scenario["run"] / "results/smoke/dream/records"
    # the images task 0 made before it was cancelled were not made again
    assert {p: (records / f"{p}.json").stat().st_mtime_ns for p in scenario["before_cancel"]} == scenario["before_cancel"]
    logs = sorted((scenario["run"] / "build/smoke/slurm/01-dream-synthesis/logs").glob("na-01-smoke-shards-*_0.out"),
                  key=lambda p: int(p.name.rsplit("-", 1)[1].split("_")[0]))  # by array job id
    assert len(logs) == 2 and "CANCELLED" in logs[0].read_text()  # the first array job's task 0, then the second's
    assert f"shard 0 of 2: {len(LAYERS) // 2} images" in logs[1].read_text()


def test_07_index_from_shards_equals_one_process_index(scenario):
    ref, run = scenario["ref"] / "results/smoke/artsearch-index", scenario["run"] / "results/smoke/artsearch-index"
    for name in (*index_shards.ARRAYS, "mean.npy"):
        assert (ref / name).read_bytes() == (run / name).read_bytes(), name
    def rel(df, root):  # the items' paths lie in each run's own results folder
        return df.assign(path=df["path"].str.replace(str(root), "<results>", regex=False))

    pd.testing.assert_frame_equal(rel(pd.read_parquet(ref / "items.parquet"), ref.parent),
                                  rel(pd.read_parquet(run / "items.parquet"), run.parent))
    a, b = ({k: v for k, v in json.loads((p / "meta.json").read_text()).items() if k not in ("created", "merged_from")}
            for p in (ref, run))
    assert a == b
    assert json.loads((run / "meta.json").read_text())["merged_from"]["n_shards"] == 2  # the notebook kept it
    table = "p2-nearest-paintings.csv"
    pd.testing.assert_frame_equal(rel(pd.read_csv(ref.parent / table), ref.parent),
                                  rel(pd.read_csv(run.parent / table), run.parent))


def test_a_finished_job_is_not_submitted_again(scenario, monkeypatch):
    _use(monkeypatch, scenario["run"])
    for key in ("01", "07"):
        buf = _io.StringIO()
        assert cluster.submit(key, "smoke", n_shards=2, params=PARAMS[key], stream=buf) == {}
        assert "already complete" in buf.getvalue() and "nothing submitted" in buf.getvalue()
    assert not _queued()


def test_an_unknown_partition_is_slurms_error_in_one_line(scenario, monkeypatch):
    _use(monkeypatch, scenario["run"])
    res = cluster.resources_for()
    res["notebook"] = cluster.Resources(partition="no_such_partition")  # the last of three jobs is refused
    with pytest.raises(SystemExit) as exc:
        cluster.submit("07", "smoke", n_shards=2, params={"K": 3}, resources=res, stream=_io.StringIO())
    msg = str(exc.value)
    assert "\n" not in msg and "(notebook job): SLURM refused it" in msg
    assert "Invalid partition name specified" in msg and "no_such_partition" in msg
    assert "cancelled the job(s) submitted before it" in msg  # the prepare and shards jobs: no half submission
    time.sleep(1)
    assert not _queued()
