"""A notebook's long job on a SLURM cluster: shards as an array job, then one job that runs the notebook.

``python -m helpers.pipeline submit 01 --profile paper --shards 24 --partition gpu --gpus-per-task 1 --time 2:00:00``
writes and submits up to three plain ``sbatch`` scripts (folder ``build/<profile>/slurm/<notebook>/``):

1. *prepare* (only when something must be fetched or fitted once): downloads the weights / start images (01), or
   reads the corpus, fits the index's mean direction and writes the shard plan (07);
2. *shards*: an array job, one task per shard, running the notebook's heavy step on its share of the items
   (01: every ``N``-th (layer, seed) image, :mod:`helpers.synthesis.dream_shards`; 07: a contiguous block of
   the corpus encoded into its own folder, :mod:`helpers.search.index_shards`);
3. *notebook*: after every shard succeeded (``--dependency=afterok``), merges the shards' outputs (07: the
   index from the shards' files; 01: the notebook's resumable job finds every image done and writes the
   manifest) and runs the notebook itself with papermill (``python -m helpers.pipeline run --only``), which makes
   the figures and tables.

Why generated ``sbatch`` scripts and not submitit: submitit pickles a Python callable into the job, so the job
only runs with the submitting environment's exact code and its scripts say nothing a cluster administrator can
read; plain scripts need no extra dependency, show every resource line, can be resubmitted by hand, and
``--dry-run`` prints exactly what would be submitted.

Requeue-safe: every task resumes at the item level (01's per-image records, 07's committed index positions);
a finished shard leaves a marker (``shard-KKKK-of-NNNN.done``) and the notebook job ``complete.json``, both
with a fingerprint of the notebook, profile and parameters; a second submission skips finished shards and
submits nothing when the whole job is complete. Shards write disjoint files (01: their own images and
records; 07: their own folder), and a submission is refused while the same job is still queued or running.

Resources come from options or a TOML file (``--config``); see :func:`load_config` and ``docs/cluster.md``.
"""
from __future__ import annotations

import argparse
import ast
import datetime as _dt
import getpass
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from helpers import io, parameters as notebook_params, paths, profiles

# the notebooks with a sharded long job: notebook file, the module that runs its steps (imported only inside a
# job, it needs torch), and a one-line description of a shard's work
JOBS = {
    "01": {"notebook": "01-dream-synthesis.ipynb", "module": "helpers.synthesis.dream_shards",
           "what": "DeepDream images, every N-th (layer, seed) pair"},
    "07": {"notebook": "07-nearest-painting.ipynb", "module": "helpers.search.index_shards",
           "what": "Gram index of a contiguous block of the corpus"},
}
STEPS = ("prepare", "shards", "notebook")
FINGERPRINT_VERSION = 1

# sbatch's --time formats (sbatch(1), Slurm 22.05: "minutes", "minutes:seconds", "hours:minutes:seconds",
# "days-hours", "days-hours:minutes" and "days-hours:minutes:seconds")
_TIME = re.compile(r"^(\d+|\d+:\d+|\d+:\d+:\d+|\d+-\d+|\d+-\d+:\d+|\d+-\d+:\d+:\d+)$")
_MEM = re.compile(r"^\d+[KMGT]?$")  # sbatch(1) --mem: a number with an optional unit suffix K, M, G or T


@dataclass(frozen=True)
class Resources:
    """What one job asks SLURM for; ``None`` leaves the cluster's default. ``extra``: more ``#SBATCH`` options.

    Used in: no notebook; by :func:`helpers.cluster.submit` and :func:`helpers.cluster.render_script`;
        ``tests/test_slurm.py``.
    """

    partition: str | None = None
    account: str | None = None
    cpus_per_task: int | None = None
    gpus_per_task: str | None = None  # "1" or "a100:1" (sbatch accepts a type)
    mem: str | None = None
    time: str | None = None
    extra: tuple = field(default_factory=tuple)

    def check(self, where: str = "resources") -> "Resources":
        """Return self, or raise ValueError naming ``where``, the field and what was expected."""
        if self.cpus_per_task is not None and (not isinstance(self.cpus_per_task, int) or self.cpus_per_task < 1):
            raise ValueError(f"{where}: cpus_per_task must be a whole number >= 1, got {self.cpus_per_task!r}")
        if self.gpus_per_task is not None and not re.fullmatch(r"([\w.-]+:)?\d+", str(self.gpus_per_task)):
            raise ValueError(f"{where}: gpus_per_task must be a number or type:number (e.g. 1, a100:1), "
                             f"got {self.gpus_per_task!r}")
        if self.mem is not None and not _MEM.match(str(self.mem)):
            raise ValueError(f"{where}: mem must be a number with an optional K/M/G/T suffix (e.g. 16G), got {self.mem!r}")
        if self.time is not None and not _TIME.match(str(self.time)):
            raise ValueError(f"{where}: time must be one of sbatch's formats (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, "
                             f"D-HH:MM:SS), got {self.time!r}")
        for name in ("partition", "account"):
            v = getattr(self, name)
            if v is not None and not re.fullmatch(r"[\w.,-]+", str(v)):
                raise ValueError(f"{where}: {name} must be a plain name, got {v!r}")
        for line in self.extra:
            opt = str(line).removeprefix("#SBATCH").strip()
            if not opt.startswith("-") or "\n" in opt:
                raise ValueError(f"{where}: each extra line must be one sbatch option such as '--qos=normal', got {line!r}")
        return self

    def lines(self) -> list[str]:
        """The ``#SBATCH`` option lines (without the prefix)."""
        out = []
        for name, flag in (("partition", "--partition"), ("account", "--account"), ("cpus_per_task", "--cpus-per-task"),
                           ("gpus_per_task", "--gpus-per-task"), ("mem", "--mem"), ("time", "--time")):
            v = getattr(self, name)
            if v is not None:
                out.append(f"{flag}={v}")
        out += [str(line).removeprefix("#SBATCH").strip() for line in self.extra]
        return out


_FIELDS = {f.name for f in fields(Resources)}


def _resources_from(table: dict, where: str) -> dict:
    unknown = sorted(set(table) - _FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected any of {sorted(_FIELDS)}")
    out = dict(table)
    if "extra" in out:
        if isinstance(out["extra"], str) or not isinstance(out["extra"], list):
            raise ValueError(f"{where}: extra must be a list of sbatch options, e.g. [\"--qos=normal\"]")
        out["extra"] = tuple(out["extra"])
    if out.get("gpus_per_task") is not None:
        out["gpus_per_task"] = str(out["gpus_per_task"])
    return out


def load_config(path) -> dict[str, Resources]:
    """Read a TOML file of resources: top-level keys for every job, tables ``[prepare]``, ``[shards]``, ``[notebook]``.

    Keys: ``partition``, ``account``, ``cpus_per_task``, ``gpus_per_task``, ``mem``, ``time`` and ``extra`` (a
    list of further sbatch options, e.g. ``["--qos=normal", "--constraint=a100"]``). Example::

        partition = "gpu"
        account = "mylab"
        [shards]
        gpus_per_task = 1
        cpus_per_task = 8
        time = "2:00:00"

    Returns:
        ``{step: Resources}`` for each of :data:`STEPS` (the top level merged under each table).

    Raises:
        ValueError / FileNotFoundError: naming the file and the key.

    Used in: no notebook; by :func:`helpers.cluster.resources_for`; ``tests/test_slurm.py``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--config {path}: no such file")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    unknown = sorted(set(tables) - set(STEPS))
    if unknown:
        raise ValueError(f"{path}: unknown table(s) {unknown}; expected any of {list(STEPS)}")
    base = _resources_from({k: v for k, v in data.items() if k not in tables}, str(path))
    out = {}
    for step in STEPS:
        merged = {**base, **_resources_from(tables.get(step, {}), f"{path} [{step}]")}
        out[step] = Resources(**merged).check(f"{path} [{step}]")
    return out


def resources_for(config=None, **options) -> dict[str, Resources]:
    """Each step's resources: the config file's (:func:`load_config`), then the given options (not None) on top.

    Used in: no notebook; by :func:`helpers.cluster.submit_from_args`; ``tests/test_slurm.py``.
    """
    base = load_config(config) if config else {s: Resources() for s in STEPS}
    given = {k: v for k, v in options.items() if v not in (None, (), [])}
    unknown = sorted(set(given) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown resource option(s) {unknown}")
    if "extra" in given:
        given["extra"] = tuple(given["extra"])
    if given.get("gpus_per_task") is not None:
        given["gpus_per_task"] = str(given["gpus_per_task"])
    return {s: replace(r, **{k: (r.extra + v if k == "extra" else v) for k, v in given.items()}).check(f"{s} job")
            for s, r in base.items()}


# --- parameters, fingerprints and markers ----------------------------------------------------------------------

def job_key(notebook) -> str:
    """``"01"`` / ``"07"`` from a number or notebook name; a clear SystemExit for a notebook without a sharded job.

    Used in: no notebook; by :func:`helpers.cluster.submit` and :func:`helpers.cluster.main`.
    """
    key = str(notebook).split("-")[0].removesuffix(".ipynb").zfill(2)
    if key not in JOBS:
        raise SystemExit(f"submit: notebook {notebook!r} has no sharded job; these do: "
                         + ", ".join(f"{k} ({v['notebook']})" for k, v in JOBS.items()))
    return key


def notebook_parameters(notebook: str) -> dict:
    """The defaults of a notebook's ``parameters`` cell (:func:`helpers.parameters.declared`), as values.

    Raises:
        ValueError: a default other than ``PROFILE``'s is not a Python literal (a job could not reproduce it).

    Used in: no notebook; by :func:`helpers.cluster.task_parameters`; ``tests/test_slurm.py``.
    """
    decl = notebook_params.declared(notebook)
    odd = [p.name for p in decl.values() if not p.literal and p.name != "PROFILE"]
    if odd:
        raise ValueError(f"{notebook}: the default of {odd} is not a Python literal; a cluster job cannot reproduce it")
    return {name: p.value for name, p in decl.items()}


def task_parameters(key: str, profile: str, params: dict) -> dict:
    """The notebook's parameters as one of its tasks sees them: the cell's defaults, ``PROFILE``, then ``params``.

    Used in: no notebook; by :func:`helpers.cluster.run_task` (inside a job) and :func:`helpers.cluster.submit`.
    """
    return {**notebook_parameters(JOBS[key]["notebook"]), "PROFILE": profiles.check(profile), **params}


def check_parameters(key: str, params: dict) -> dict:
    """``-p`` parameters checked as ``pipeline run`` checks them (:func:`helpers.parameters.check`: names, types,
    input files; relative paths made absolute), SHARD / N_SHARDS refused (``--shards`` sets those).

    Raises:
        SystemExit: one line per problem.

    Used in: no notebook; by :func:`helpers.cluster.submit`; ``tests/test_slurm.py``.
    """
    if {"SHARD", "N_SHARDS"} & set(params):
        raise SystemExit("-p SHARD / N_SHARDS: the array job sets the shard; use --shards N")
    nb = JOBS[key]["notebook"]
    return notebook_params.check([nb], params)[nb]


def fingerprint(key: str, profile: str, params: dict) -> str:
    """sha256 of what defines a job's outputs: notebook, profile and the parameters given (``-p``).

    Used in: no notebook; by :func:`helpers.cluster.submit` and the markers its jobs write (:func:`main`).
    """
    blob = json.dumps({"v": FINGERPRINT_VERSION, "notebook": JOBS[key]["notebook"], "profile": profile,
                       "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def job_dir(key: str, profile: str, *, create: bool = False) -> Path:
    """``build/<profile>/slurm/<notebook stem>/``: the scripts, logs and markers of one notebook's cluster job.

    Used in: no notebook; by :func:`helpers.cluster.submit` and :func:`helpers.cluster.main`; ``tests/test_slurm.py``.
    """
    d = paths.build(profile, create=create) / "slurm" / Path(JOBS[key]["notebook"]).stem
    if create:
        (d / "logs").mkdir(parents=True, exist_ok=True)
    return d


def shard_marker(directory: Path, shard: int, n_shards: int) -> Path:
    """The file a finished shard leaves.

    Used in: no notebook; by :func:`helpers.cluster.main` and :func:`helpers.cluster.submit`; ``tests/test_slurm.py``.
    """
    return Path(directory) / f"shard-{shard:04d}-of-{n_shards:04d}.done"


def _marker_ok(path: Path, fp: str) -> bool:
    try:
        return io.load_json(path).get("fingerprint") == fp
    except (OSError, ValueError):
        return False


def _write_marker(path: Path, fp: str, **info) -> None:
    io.save_json({"fingerprint": fp, "finished": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "slurm_job": os.environ.get("SLURM_JOB_ID"), "array_job": os.environ.get("SLURM_ARRAY_JOB_ID"),
                  "restarts": int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0), **info}, path)


def array_spec(indices) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``"0-2,5,7-8"`` (sbatch's ``--array`` syntax).

    Used in: no notebook; by :func:`helpers.cluster.submit`; ``tests/test_slurm.py``.
    """
    idx = sorted(set(int(i) for i in indices))
    parts, i = [], 0
    while i < len(idx):
        j = i
        while j + 1 < len(idx) and idx[j + 1] == idx[j] + 1:
            j += 1
        parts.append(str(idx[i]) if i == j else f"{idx[i]}-{idx[j]}")
        i = j + 1
    return ",".join(parts)


# --- scripts ---------------------------------------------------------------------------------------------------

_ENV_PASSED = ("NA_ROOT", "NA_RESULTS_DIR", "NA_FIGURES_DIR", "NA_BUILD_DIR", "NA_CACHE_DIR", "NA_DATA_DIR")


def render_script(name: str, commands: list[str], resources: Resources, *, log: str, array: str | None = None,
                  dependency: str | None = None, comment: str = "", python: str | None = None) -> str:
    """The text of one sbatch script: ``#SBATCH`` lines, the environment, then ``commands`` (bash, one per line).

    ``$PY`` in a command is the Python that submitted (``sys.executable``); the script runs from the repository
    root with this checkout first on ``PYTHONPATH`` and the project's path variables (``NA_*``) as at submission.

    Used in: no notebook; by :func:`helpers.cluster.submit`; ``tests/test_slurm.py``.
    """
    opts = [f"--job-name={name}", f"--output={log}", "--open-mode=append", "--requeue", "--ntasks=1"]
    if array:
        opts.append(f"--array={array}")
    if dependency:
        opts += [f"--dependency={dependency}", "--kill-on-invalid-dep=yes"]
    opts += resources.lines()
    root = paths.root()
    env = [f"export {k}={shlex.quote(os.environ[k])}" for k in (*_ENV_PASSED, *sorted(
        k for k in os.environ if k.startswith("NA_WEIGHTS_"))) if os.environ.get(k)]
    lines = ["#!/bin/bash", *([f"# {comment}"] if comment else []),
             "# written by `python -m helpers.pipeline submit` (helpers/cluster.py); resubmit with sbatch as it is",
             *[f"#SBATCH {o}" for o in opts], "",
             "set -euo pipefail",
             f"cd {shlex.quote(str(root))}",
             f"export PYTHONPATH={shlex.quote(str(root))}${{PYTHONPATH:+:$PYTHONPATH}}",
             *env,
             "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1} MKL_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}",
             f"PY={shlex.quote(python or sys.executable)}",
             'echo "$(date -u +%FT%TZ) job ${SLURM_JOB_ID} task ${SLURM_ARRAY_TASK_ID:--} on $(hostname),'
             ' restart ${SLURM_RESTART_COUNT:-0}"',
             *commands,
             'echo "$(date -u +%FT%TZ) done"', ""]
    return "\n".join(lines)


def _param_text(v) -> str:
    """A parameter value as ``-p`` reads it back (:func:`_parse_params`): plain strings stay plain."""
    if isinstance(v, str):
        try:
            ast.literal_eval(v)
        except (ValueError, SyntaxError):
            return v
    return repr(v)


def _task_command(step: str, key: str, profile: str, params: dict, n_shards: int, shard: str | None = None) -> str:
    cmd = ["$PY", "-m", "helpers.cluster", "task", step, key, "--profile", profile, "--n-shards", str(n_shards)]
    if shard is not None:
        cmd += ["--shard", shard]
    for k, v in params.items():
        cmd += ["-p", k, _param_text(v)]
    return " ".join(c if c in ("$PY", '"$SLURM_ARRAY_TASK_ID"') else shlex.quote(c) for c in cmd)


def _notebook_command(key: str, profile: str, params: dict) -> str:
    cmd = ["$PY", "-m", "helpers.pipeline", "run", "--profile", profile, "--only", key, "--no-check-inputs"]
    for k, v in params.items():
        cmd += ["-p", k, _param_text(v)]
    return " ".join(c if c == "$PY" else shlex.quote(c) for c in cmd)


def plan_scripts(key: str, profile: str, *, n_shards: int, params: dict, resources: dict[str, Resources],
                 shards=None, prepare: bool = True, notebook: bool = True, max_parallel: int | None = None,
                 ids: dict | None = None) -> list[dict]:
    """The scripts of one submission, in order: ``[{"step", "name", "text", "log", "after"}]``.

    ``shards``: the shard indices to run (default all); ``ids``: job ids of earlier steps for the dependencies
    (placeholders such as ``<prepare job id>`` when absent, as ``--dry-run`` prints).

    Used in: no notebook; by :func:`helpers.cluster.submit`; ``tests/test_slurm.py``.
    """
    ids = ids or {}
    logs = job_dir(key, profile) / "logs"
    shards = list(range(n_shards)) if shards is None else list(shards)
    nb = JOBS[key]["notebook"]
    base = f"na-{key}-{profile}"
    out = []

    def after(step):
        return f"afterok:{ids.get(step, f'<{step} job id>')}"

    if prepare and shards:
        out.append({"step": "prepare", "name": f"{base}-prepare", "after": None, "log": str(logs / f"{base}-prepare-%j.out"),
                    "commands": [_task_command("prepare", key, profile, params, n_shards)],
                    "comment": f"{nb}, profile {profile}: fetch and fit what every shard reads"})
    if shards:
        spec = array_spec(shards) + (f"%{int(max_parallel)}" if max_parallel else "")
        out.append({"step": "shards", "name": f"{base}-shards", "array": spec,
                    "after": after("prepare") if out else None, "log": str(logs / f"{base}-shards-%A_%a.out"),
                    "commands": [_task_command("shard", key, profile, params, n_shards, shard='"$SLURM_ARRAY_TASK_ID"')],
                    "comment": f"{nb}, profile {profile}: one task per shard of {n_shards} ({JOBS[key]['what']})"})
    if notebook:
        out.append({"step": "notebook", "name": f"{base}-notebook", "after": after(out[-1]["step"]) if out else None,
                    "log": str(logs / f"{base}-notebook-%j.out"),
                    "commands": [_task_command("merge", key, profile, params, n_shards),
                                 _notebook_command(key, profile, params),
                                 _task_command("complete", key, profile, params, n_shards)],
                    "comment": f"{nb}, profile {profile}: merge the {n_shards} shards, run the notebook (figures, tables)"})
    for s in out:
        s["text"] = render_script(s["name"], s["commands"], resources[s["step"]], log=s["log"], array=s.get("array"),
                                  dependency=s["after"], comment=s["comment"])
    return out


# --- talking to SLURM ----------------------------------------------------------------------------------------

def _slurm(cmd: list[str], what: str) -> str:
    """Run a SLURM client command; its error as one line in a SystemExit."""
    exe = shutil.which(cmd[0])
    if exe is None:
        raise SystemExit(f"{what}: `{cmd[0]}` not found; is this a SLURM login node? (--dry-run prints the scripts)")
    proc = subprocess.run([exe, *cmd[1:]], capture_output=True, text=True)
    if proc.returncode != 0:
        msgs = [re.sub(r"^\w+: (error|fatal): ", "", ln).strip() for ln in proc.stderr.splitlines() if ln.strip()]
        # sbatch says it twice, detail first ("invalid partition specified: x", "Batch job submission failed: ...")
        msgs = sorted(dict.fromkeys(msgs), key=lambda m: not m.startswith("Batch job submission failed"))
        raise SystemExit(f"{what}: SLURM refused it: {'; '.join(msgs) or f'exit status {proc.returncode}'}")
    return proc.stdout


def _queued(names: list[str]) -> list[tuple[str, str, str]]:
    """(job id, state, reason) of this user's queued or running jobs with any of ``names``."""
    out = _slurm(["squeue", f"--user={getpass.getuser()}", "--noheader", "--array", f"--name={','.join(names)}",
                  "--format=%i|%T|%r"], "squeue")
    return [tuple(line.split("|", 2)) for line in out.splitlines() if line.strip()]


def submit(notebook, profile: str = "paper", *, n_shards: int, params: dict | None = None,
           resources: dict[str, Resources] | None = None, dry_run: bool = False, force: bool = False,
           prepare: bool | None = None, max_parallel: int | None = None, stream=None) -> dict:
    """Submit (or with ``dry_run`` print) a notebook's sharded job; returns ``{step: job id}`` (empty: nothing to do).

    Skips shards whose marker says they finished with the same fingerprint; submits nothing when the notebook
    job's ``complete.json`` matches and the notebook's registered outputs exist (``force`` clears the markers:
    every task runs again, and still skips the items that are on disk). Refuses while jobs of the same
    notebook and profile are queued or running; a notebook job left pending by a failed or cancelled shard
    (``DependencyNeverSatisfied``) is cancelled first.

    Args:
        notebook: ``"01"``, ``"07"`` or their file names.
        n_shards: array tasks (shards).
        params: notebook parameters (as ``pipeline run -p``).
        resources: ``{step: Resources}`` (:func:`resources_for`).
        prepare: ``None``: a prepare job when the notebook needs one (07 always; 01 when weights or start
            images are downloaded); ``False``: none (run ``python -m helpers.cluster task prepare ...`` on the
            login node first, e.g. when compute nodes have no internet).
        max_parallel: at most this many array tasks at once (``--array=...%N``).

    Used in: no notebook; by :func:`helpers.pipeline.submit`; ``tests/test_slurm.py``.
    """
    stream = stream or sys.stdout
    key = job_key(notebook)
    if int(n_shards) < 1:
        raise SystemExit(f"--shards must be >= 1, got {n_shards}")
    n_shards = int(n_shards)
    params = check_parameters(key, dict(params or {}))  # bad names or values fail here, before anything is written
    resources = resources or {s: Resources() for s in STEPS}
    fp = fingerprint(key, profile, params)
    d = job_dir(key, profile)
    label = f"{JOBS[key]['notebook']} (profile {profile}, {n_shards} shards)"
    from helpers import registry  # registry imports nothing heavy; here to keep this module's import light

    products = [i.path(profile) for i in registry.for_notebook(JOBS[key]["notebook"])]
    if not force and _marker_ok(d / "complete.json", fp) and all(p.exists() for p in products):
        info = io.load_json(d / "complete.json")
        print(f"{label}: already complete (notebook job {info.get('slurm_job')} finished {info.get('finished')}; "
              f"outputs: {', '.join(paths.display(p) for p in products)}); nothing submitted. --force runs it again.",
              file=stream)
        return {}
    names = [f"na-{key}-{profile}-{s}" for s in STEPS]
    if not dry_run:  # nothing is changed while jobs of this notebook and profile are in the queue
        queued = _queued(names)
        stale = [j for j in queued if j[1] == "PENDING" and "DependencyNeverSatisfied" in j[2]]
        if stale:
            _slurm(["scancel", *[j[0] for j in stale]], "scancel")
            print(f"cancelled job(s) {', '.join(j[0] for j in stale)}: pending on a shard that failed or was cancelled",
                  file=stream)
        live = [j for j in queued if j not in stale]
        if live:
            raise SystemExit(f"{label}: already queued or running as job(s) "
                             f"{', '.join(f'{j[0]} ({j[1]})' for j in live)}; wait for them or scancel them first")
    if force and not dry_run:
        for p in [*d.glob("shard-*.done"), d / "complete.json"]:
            p.unlink(missing_ok=True)
    todo = [k for k in range(n_shards) if force or not _marker_ok(shard_marker(d, k, n_shards), fp)]
    if prepare is None:
        prepare = _needs_prepare(key, profile, params)
    done = n_shards - len(todo)
    if done:
        print(f"{label}: {done} shard(s) already finished; running {len(todo)}", file=stream)
    ids: dict = {}
    scripts = plan_scripts(key, profile, n_shards=n_shards, params=params, resources=resources, shards=todo,
                           prepare=prepare, max_parallel=max_parallel)
    if dry_run:
        for s in scripts:
            dep = f" (after {s['after']})" if s["after"] else ""
            print(f"# ---- {s['step']} job{dep}: sbatch {d / (s['name'] + '.sbatch')}", file=stream)
            print(s["text"], file=stream)
        print(f"# dry run: nothing written or submitted ({len(scripts)} job(s) would be)", file=stream)
        return {}
    job_dir(key, profile, create=True)
    print(f"{label}:", file=stream)
    for i in range(len(scripts)):
        # re-rendered with the job ids known so far: the dependency is in the script, which is exactly what ran
        s = plan_scripts(key, profile, n_shards=n_shards, params=params, resources=resources, shards=todo,
                         prepare=prepare, max_parallel=max_parallel, ids=ids)[i]
        path = d / f"{s['name']}.sbatch"
        io.write_bytes(path, s["text"].encode())
        try:
            out = _slurm(["sbatch", "--parsable", str(path)], f"sbatch {paths.display(path)} ({s['step']} job)")
        except SystemExit as exc:
            if ids:  # no half submission: the jobs before this one would wait for, or feed, nothing
                subprocess.run([shutil.which("scancel") or "scancel", *ids.values()], capture_output=True)
                raise SystemExit(f"{exc} (cancelled the job(s) submitted before it: {', '.join(ids.values())})") from None
            raise
        ids[s["step"]] = out.strip().split(";")[0]
        log = s["log"].replace("%j", ids[s["step"]]).replace("%A", ids[s["step"]]).replace("%a", "<task>")
        extra = f" array {s['array']}" if s.get("array") else ""
        after = f", runs after job {s['after'].split(':', 1)[1]} succeeded" if s["after"] else ""
        print(f"  {s['step']:<9} job {ids[s['step']]}{extra}{after}\n            script {paths.display(path)}\n"
              f"            log    {paths.display(Path(log))}", file=stream)
    print(f"submitted {len(ids)} job(s). Watch: squeue -u $USER; cancel: scancel {' '.join(ids.values())}", file=stream)
    return ids


def _needs_prepare(key: str, profile: str, params: dict) -> bool:
    """07 always (corpus, mean direction, plan); 01 when the weights or the study's start images are fetched."""
    if key == "07":
        return True
    p = task_parameters(key, profile, params)
    cfg = profiles.resolve("01", profile, layers=p["LAYERS"], seeds=p["SEEDS"], start=p["START_IMAGES"])
    return cfg.source == "pretrained" or cfg.start == "study"


# --- inside a job ------------------------------------------------------------------------------------------

def _parse_params(pairs) -> dict:
    params = {}
    for k, v in pairs:
        try:
            params[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            params[k] = v
    return params


def add_submit_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``python -m helpers.pipeline submit`` (resources, shards, parameters, dry run).

    Used in: no notebook; by :func:`helpers.pipeline.main`.
    """
    p.add_argument("notebook", help="notebook with a sharded long job: " + ", ".join(JOBS))
    p.add_argument("--profile", choices=list(profiles.PROFILES), default="paper")
    p.add_argument("--slurm", action="store_true", help="submit to SLURM (the one scheduler supported; the default)")
    p.add_argument("--shards", type=int, required=True, help="array tasks (one shard of the items each)")
    p.add_argument("--config", help="TOML file of resources (top level: every job; [prepare], [shards], [notebook])")
    p.add_argument("--partition")
    p.add_argument("--account")
    p.add_argument("--cpus-per-task", type=int)
    p.add_argument("--gpus-per-task")
    p.add_argument("--mem", help="memory per node, e.g. 16G")
    p.add_argument("--time", help="time limit of each job, e.g. 2:00:00")
    p.add_argument("--sbatch", dest="extra", action="append", default=[], metavar="OPTION",
                   help="one more sbatch option for every job, e.g. --sbatch=--qos=normal (repeatable)")
    p.add_argument("--max-parallel", type=int, help="at most this many shards at once")
    p.add_argument("--no-prepare", dest="prepare", action="store_const", const=False, default=None,
                   help="no prepare job (run `python -m helpers.cluster task prepare ...` on the login node first)")
    p.add_argument("--force", action="store_true", help="run every shard and the notebook again (items on disk are kept)")
    p.add_argument("--dry-run", action="store_true", help="print the scripts; write and submit nothing")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                   help="notebook parameter (value parsed as a Python literal when possible)")
    return p


def submit_from_args(args) -> dict:
    """:func:`submit` from the parsed options of :func:`add_submit_arguments`.

    Used in: no notebook; by :func:`helpers.pipeline.submit`.
    """
    try:
        res = resources_for(args.config, partition=args.partition, account=args.account,
                            cpus_per_task=args.cpus_per_task, gpus_per_task=args.gpus_per_task, mem=args.mem,
                            time=args.time, extra=args.extra)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(str(exc)) from None
    return submit(args.notebook, args.profile, n_shards=args.shards, params=_parse_params(args.param), resources=res,
                  dry_run=args.dry_run, force=args.force, prepare=args.prepare, max_parallel=args.max_parallel)


def run_task(step: str, notebook, profile: str, *, n_shards: int, shard: int | None = None,
             params: dict | None = None) -> None:
    """One step inside a job: ``prepare``, ``shard`` (then its marker), ``merge`` (checks every shard's marker
    first) or ``complete`` (the notebook job's marker, after the notebook ran).

    Used in: no notebook; by :func:`helpers.cluster.main` (the generated scripts); ``tests/test_slurm.py``.
    """
    import importlib

    key = job_key(notebook)
    params = dict(params or {})
    full = task_parameters(key, profile, params)
    fp = fingerprint(key, profile, params)
    d = job_dir(key, profile, create=True)
    module = importlib.import_module(JOBS[key]["module"])
    if step == "prepare":
        module.prepare(full, n_shards=n_shards)
    elif step == "shard":
        if shard is None or not 0 <= shard < n_shards:
            raise SystemExit(f"task shard: --shard must be in [0, {n_shards}), got {shard}")
        info = module.run_shard(full, shard=shard, n_shards=n_shards)
        _write_marker(shard_marker(d, shard, n_shards), fp, shard=shard, n_shards=n_shards, **info)
    elif step == "merge":
        missing = [k for k in range(n_shards) if not _marker_ok(shard_marker(d, k, n_shards), fp)]
        if missing:
            raise SystemExit(f"task merge: shard(s) {array_spec(missing)} of {n_shards} have not finished "
                             f"(no marker in {paths.display(d)}); submit again to run them")
        module.merge(full, n_shards=n_shards)
    elif step == "complete":
        if hasattr(module, "verify"):
            module.verify(full, n_shards=n_shards)
        _write_marker(d / "complete.json", fp, n_shards=n_shards)
    else:
        raise SystemExit(f"task: unknown step {step!r}; expected prepare, shard, merge or complete")


def main(argv=None) -> int:
    """``python -m helpers.cluster task STEP NOTEBOOK ...``: the command the generated scripts run.

    Used in: the generated sbatch scripts (:func:`helpers.cluster.render_script`).
    """
    parser = argparse.ArgumentParser(prog="python -m helpers.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("task", help="run one step of a sharded job (what the sbatch scripts call)")
    t.add_argument("step", choices=["prepare", "shard", "merge", "complete"])
    t.add_argument("notebook")
    t.add_argument("--profile", choices=list(profiles.PROFILES), required=True)
    t.add_argument("--n-shards", type=int, required=True)
    t.add_argument("--shard", type=int)
    t.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[])
    args = parser.parse_args(argv)
    run_task(args.step, args.notebook, args.profile, n_shards=args.n_shards, shard=args.shard,
             params=_parse_params(args.param))
    return 0


if __name__ == "__main__":
    sys.exit(main())
