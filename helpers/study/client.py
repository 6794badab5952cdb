"""The collection server seen from Python: run it in a child process, send it participants, call its API.

:class:`Process` runs ``python -m helpers.study serve`` (:mod:`helpers.study.server`) on a free port of this
machine, as notebook 08 and the tests do; :func:`post_sessions` sends simulated participants through the same
API the exported page uses (``POST api/session``, ``api/trial``, ``api/finish``); :func:`call` is one JSON request.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from helpers.study import experiment


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago.

    Used in: notebook 08 through :class:`helpers.study.client.Process`; ``tests/test_explore_lab.py`` and
        ``tests/test_slurm_cluster.py`` (JupyterLab's and SLURM's ports).
    """
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Process:
    """``python -m helpers.study serve`` in a child process (a context manager): start, stop, kill, restart.

    ``with client.Process(exp, db) as srv: srv.url ...``. :meth:`kill` ends it with SIGKILL, as a crash or
    a pulled plug would; :meth:`start` again serves the same database on the same port.

    Used in: notebook 08 (the served study).
    """

    def __init__(self, experiment_dir, db, *, host: str = "127.0.0.1", port: int | None = None, log=None):
        self.experiment_dir, self.db, self.host = Path(experiment_dir), Path(db), host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}/"
        self.log = Path(log) if log else Path(f"{db}.server.log")
        self.proc = None

    def start(self, timeout_s: float = 60.0):
        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "helpers.study", "serve", str(self.experiment_dir),
                                          "--db", str(self.db), "--host", self.host, "--port", str(self.port)],
                                         stdout=log, stderr=subprocess.STDOUT, env=env)
        t_end = time.monotonic() + timeout_s
        while time.monotonic() < t_end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the study server exited with code {self.proc.returncode}: "
                                   f"{self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "api/status", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"the study server did not answer within {timeout_s:.0f} s ({self.log})")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except Exception:
                self.proc.kill()
                self.proc.wait(15)
        self.proc = None

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(15)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def call(url: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    """The JSON answer of the server at ``url`` to ``/api/<path>``: a POST of ``body``, or a GET when there is none;
    ``token`` goes in the ``Authorization: Bearer`` header.

    Used in: no notebook; by :func:`post_sessions` and :func:`helpers.study.server.load_trials` (from a URL).
    """
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url.rstrip("/") + "/api/" + path, method="GET" if body is None else "POST",
                                 data=None if body is None else json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def post_sessions(url: str, manifest, responses, *, answers=None) -> int:
    """Send simulated participants to a running server as the exported page does: start, one POST per trial, finish.

    ``responses``: ``{participant: stimulus -> (valence, arousal)}`` (:func:`helpers.study.simulate.responses`);
    the trials are :func:`helpers.study.experiment.session_rows`. Returns the number of trials stored.

    Used in: notebook 08 (study/study.sqlite).
    """
    stored = 0
    for k, (pid, fn) in enumerate(responses.items()):
        token = call(url, "session", {"participant": pid, "experiment_version": manifest["experiment_version"]})["token"]
        for row in experiment.session_rows(manifest, pid, fn, answers=(answers or {}).get(pid), k=k):
            stored += call(url, "trial", {"participant": pid, "trial_key": row["trial_key"], "data": row}, token)["stored"]
        call(url, "finish", {"participant": pid}, token)
    return stored
