"""A local collection server for an exported rating experiment: every trial stored in SQLite as it ends.

``python -m helpers.study serve EXPERIMENT --db study.sqlite`` serves the folder written by
:func:`helpers.study.experiment.export` (``target="server"``) and stores what its page sends:

- **Built on Starlette + uvicorn** (an ASGI app, :func:`make_app`); binds to ``127.0.0.1`` unless
  ``--host`` names a lab network address.
- **SQLite in WAL mode, ``synchronous=FULL``**: one transaction per trial, committed before the page is
  answered, so an answered trial survives a crash of the server or of the machine.
- **Idempotent on (participant, trial_key)**: the page resends a trial until it is answered; a
  resend is ``INSERT OR IGNORE``-ed against the table's UNIQUE key and answered 200 ``{"stored": false}``.
- **Session tokens**: ``POST api/session`` starts a participant's session and returns a random token
  (only its sha256 is stored); every trial must carry it (``Authorization: Bearer``), so no page can
  write another participant's rows. A second start for a taken participant id needs that token (a
  reload in the same browser resumes; another browser is refused with 409).
- **Validation**: bodies over :data:`MAX_BODY` bytes get 413, bodies that are not JSON 400, bodies
  that are JSON of the wrong shape (unknown fields, an unknown stimulus, a slider outside 0-100, another
  experiment version) 422, each with a message saying what was expected.
- **Admin export**: ``GET api/admin/trials`` with the admin token (written beside the database in
  ``<db>.admin-token``, mode 600); ``python -m helpers.study export`` writes the ratings and participants
  files (:mod:`helpers.study.ratings` formats) with a Psych-DS ``dataset_description.json``.

API (all JSON): ``POST api/session`` ``{participant, experiment_version, study_id?, session_id?, token?}`` ->
``{token, done: [trial_key, ...]}``; ``POST api/trial`` ``{participant, trial_key, data}``; ``POST api/finish``
``{participant}``; ``GET api/status`` (no token; counts only).

Running it from Python (a child process on a free port) and sending it participants: :mod:`helpers.study.client`.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import sqlite3
import sys
import threading
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from helpers import io
from helpers.study import client, experiment, importers, psychds

MAX_BODY = 256 * 1024
"""Largest accepted request body in bytes (a trial is ~0.5 kB; the instructions row carries the whole order)."""
MAX_FIELDS = 200
"""Most fields one trial's data may have."""
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
"""Participant, study and session ids: Prolific's are 24 hex digits; ours ``P`` + base-36 digits."""
KEY_PATTERN = re.compile(r"^[a-z_]{1,32}(:[A-Za-z0-9_.:/@-]{1,200})?$")
"""Trial keys as experiment.js writes them: ``welcome``, ``question:attitude``, ``rating:<stimulus>``, ``check:1``, ..."""
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    participant TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL, experiment_version TEXT NOT NULL,
    study_id TEXT, session_id TEXT, user_agent TEXT, started_at REAL NOT NULL, resumed INTEGER NOT NULL DEFAULT 0,
    finished_at REAL);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY, participant TEXT NOT NULL REFERENCES sessions(participant), trial_key TEXT NOT NULL,
    data TEXT NOT NULL, received_at REAL NOT NULL, UNIQUE (participant, trial_key));
"""


class BadRequest(Exception):
    """A request the server refuses: HTTP ``status`` and a message saying what was expected.

    Used in: notebook 08 through :func:`helpers.study.server.make_app`.
    """

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    """The study database: one SQLite file in WAL mode, one connection used under a lock.

    Used in: notebook 08 through :func:`helpers.study.server.make_app` and :func:`load_trials`.
    """

    def __init__(self, path, *, experiment_version: str | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        mode = self.db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise RuntimeError(f"{self.path}: SQLite refused WAL mode (journal_mode={mode}); use a local disk")
        self.db.execute("PRAGMA synchronous=FULL")  # a committed trial survives a power cut, not just a crash
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)
        if experiment_version is not None:
            row = self.db.execute("SELECT value FROM meta WHERE key='experiment_version'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('experiment_version', ?)", (experiment_version,))
            elif row[0] != experiment_version:
                raise ValueError(f"{self.path} holds data of experiment version {row[0]!r}, but the served export is "
                                 f"{experiment_version!r}; use a new --db for a new export")

    def close(self):
        self.db.close()

    def start(self, participant, version, token, study_id, session_id, user_agent) -> dict:
        with self.lock:
            row = self.db.execute("SELECT token_sha256 FROM sessions WHERE participant=?", (participant,)).fetchone()
            if row is not None:
                if not token or not hmac.compare_digest(row[0], _sha(token)):
                    raise BadRequest(409, f"participant {participant!r} already has a session; only the browser that "
                                          "started it (holding its token) can resume it")
                self.db.execute("UPDATE sessions SET resumed = resumed + 1 WHERE participant=?", (participant,))
                done = [r[0] for r in self.db.execute("SELECT trial_key FROM trials WHERE participant=? ORDER BY id",
                                                      (participant,))]
                return {"token": token, "done": done, "resumed": True}
            token = secrets.token_urlsafe(32)
            self.db.execute("INSERT INTO sessions (participant, token_sha256, experiment_version, study_id, session_id, "
                            "user_agent, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (participant, _sha(token), version, study_id, session_id, user_agent, time.time()))
            return {"token": token, "done": [], "resumed": False}

    def _check_token(self, participant, token):
        row = self.db.execute("SELECT token_sha256 FROM sessions WHERE participant=?", (participant,)).fetchone()
        if row is None or not hmac.compare_digest(row[0], _sha(token)):
            raise BadRequest(403, f"this token does not own participant {participant!r}'s session")

    def add_trial(self, participant, token, key, data) -> bool:
        """Store one trial in its own transaction; False when (participant, key) was stored before."""
        text = json.dumps(data, sort_keys=True, allow_nan=False)
        with self.lock:
            self._check_token(participant, token)
            cur = self.db.execute("INSERT OR IGNORE INTO trials (participant, trial_key, data, received_at) "
                                  "VALUES (?, ?, ?, ?)", (participant, key, text, time.time()))
            return cur.rowcount == 1

    def finish(self, participant, token):
        with self.lock:
            self._check_token(participant, token)
            self.db.execute("UPDATE sessions SET finished_at = COALESCE(finished_at, ?) WHERE participant=?",
                            (time.time(), participant))

    def counts(self) -> dict:
        with self.lock:
            n_s, n_f = self.db.execute("SELECT COUNT(*), COUNT(finished_at) FROM sessions").fetchone()
            n_t = self.db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        return {"sessions": n_s, "finished": n_f, "trials": n_t}

    def dump(self) -> dict:
        """Every session and trial (the admin export): ``{"sessions": [...], "trials": [...]}``."""
        with self.lock:
            cols = ["participant", "experiment_version", "study_id", "session_id", "user_agent", "started_at",
                    "resumed", "finished_at"]
            sessions = [dict(zip(cols, r)) for r in self.db.execute(f"SELECT {', '.join(cols)} FROM sessions ORDER BY started_at")]
            trials = [{"participant": p, "trial_key": k, "received_at": t, "data": json.loads(d)} for p, k, d, t in
                      self.db.execute("SELECT participant, trial_key, data, received_at FROM trials ORDER BY id")]
        return {"sessions": sessions, "trials": trials}


# ---------------------------------------------------------------------------------------------
# request validation
# ---------------------------------------------------------------------------------------------
def _no_constant(name: str):
    """NaN, Infinity and -Infinity are not JSON (RFC 8259); Python's parser accepts them unless told not to."""
    raise ValueError(f"{name} is not a JSON number")


async def _body(request: Request) -> dict:
    """The JSON object of a request: 413 when larger than MAX_BODY (declared or streamed), 400 when not JSON."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise BadRequest(413, f"request body of {declared} bytes; at most {MAX_BODY} bytes are accepted")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(413, f"request body over {MAX_BODY} bytes; at most {MAX_BODY} bytes are accepted")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, f"request body is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise BadRequest(422, f"expected a JSON object, got {type(body).__name__}")
    return body


def _fields(body: dict, required: dict, optional: dict = None) -> dict:
    """Check a body's fields against ``{name: type}``; 422 naming every unexpected, missing or mistyped one."""
    optional = optional or {}
    problems = [f"unexpected field {k!r}" for k in body if k not in required and k not in optional]
    problems += [f"missing field {k!r}" for k in required if k not in body]
    for k, t in {**required, **optional}.items():
        if k in body and body[k] is not None and not isinstance(body[k], t):
            problems.append(f"field {k!r} must be {getattr(t, '__name__', t)}, got {type(body[k]).__name__}")
    if problems:
        raise BadRequest(422, "; ".join(problems))
    return body


def _check_id(name, value, *, optional=False):
    if value is None and optional:
        return None
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise BadRequest(422, f"{name} {value!r}: expected 1-128 characters of A-Z a-z 0-9 _ . : @ -")
    return value


def _token(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        raise BadRequest(401, "missing session token (header 'Authorization: Bearer <token from api/session>')")
    return auth[7:].strip()


def _depth(v, d=0) -> int:
    if isinstance(v, dict):
        return max([_depth(x, d + 1) for x in v.values()] or [d + 1])
    if isinstance(v, list):
        return max([_depth(x, d + 1) for x in v] or [d + 1])
    return d


def check_trial(data: dict, *, participant: str, version: str, stimuli: set) -> None:
    """Raise BadRequest(422) unless ``data`` is one trial of this export's page for ``participant``.

    Used in: notebook 08 through :func:`helpers.study.server.make_app`.
    """
    if len(data) > MAX_FIELDS:
        raise BadRequest(422, f"trial data with {len(data)} fields; at most {MAX_FIELDS}")
    if _depth(data) > 4:
        raise BadRequest(422, "trial data nested deeper than 4 levels")
    problems = []
    if data.get("participant") != participant:
        problems.append(f"data.participant {data.get('participant')!r} differs from the session's {participant!r}")
    if data.get("experiment_version") != version:
        problems.append(f"data.experiment_version {data.get('experiment_version')!r}; this server collects {version!r}")
    if data.get("experiment_format") != experiment.FORMAT:
        problems.append(f"data.experiment_format {data.get('experiment_format')!r}; expected {experiment.FORMAT!r}")
    if data.get("task") in ("rating", "attention_check"):
        if data.get("stimulus") not in stimuli:
            problems.append(f"data.stimulus {data.get('stimulus')!r} is not an exported image")
        for axis in ("valence", "arousal"):
            v = data.get(axis)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v <= 100:
                problems.append(f"data.{axis} = {v!r}; expected a slider value 0-100")
    if problems:
        raise BadRequest(422, "; ".join(problems))


# ---------------------------------------------------------------------------------------------
# the app
# ---------------------------------------------------------------------------------------------
def admin_token_path(db) -> Path:
    """Where :func:`make_app` keeps the admin token of database ``db``: ``<db>.admin-token`` (mode 600).

    Used in: notebook 08 through :func:`helpers.study.server.serve`.
    """
    return Path(f"{db}.admin-token")


def admin_token(db) -> str:
    """The admin token of database ``db``, made (random, 256 bits, mode 600) on first use.

    Used in: notebook 08 through :func:`helpers.study.server.serve`.
    """
    path = admin_token_path(db)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def make_app(experiment_dir, db, *, admin: str | None = None):
    """The Starlette app: the export's files at ``/``, the collection API under ``/api``.

    Args:
        experiment_dir: a folder written by :func:`helpers.study.experiment.export`.
        db: the SQLite file (created; WAL files beside it).
        admin: the admin token (default: :func:`admin_token` of ``db``).

    Used in: notebook 08 through :func:`helpers.study.server.serve`.
    """
    experiment_dir = Path(experiment_dir)
    if Path(db).resolve().is_relative_to(experiment_dir.resolve()):
        raise ValueError(f"the database {db} lies inside the served folder {experiment_dir}: anyone could download it "
                         "(and its admin token); put it elsewhere")
    manifest = experiment.load_manifest(experiment_dir)
    version = manifest["experiment_version"]
    stimuli = {s["stimulus"] for s in manifest["stimuli"]}
    store = Store(db, experiment_version=version)
    admin = admin or admin_token(db)

    def refuse(exc: BadRequest):
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    async def session(request):
        try:
            body = _fields(await _body(request), {"participant": str, "experiment_version": str},
                           {"study_id": str, "session_id": str, "token": str})
            pid = _check_id("participant", body["participant"])
            if body["experiment_version"] != version:
                raise BadRequest(409, f"the page is experiment version {body['experiment_version']!r}; this server "
                                      f"collects {version!r} (reload the page)")
            out = await run_in_threadpool(store.start, pid, version, body.get("token"),
                                          _check_id("study_id", body.get("study_id"), optional=True),
                                          _check_id("session_id", body.get("session_id"), optional=True),
                                          request.headers.get("user-agent", "")[:300])
        except BadRequest as exc:
            return refuse(exc)
        return JSONResponse(out, status_code=200 if out["resumed"] else 201)

    async def trial(request):
        try:
            token = _token(request)
            body = _fields(await _body(request), {"participant": str, "trial_key": str, "data": dict})
            pid = _check_id("participant", body["participant"])
            if not KEY_PATTERN.match(body["trial_key"]):
                raise BadRequest(422, f"trial_key {body['trial_key'][:80]!r}: expected '<task>' or '<task>:<id>'")
            if body["data"].get("trial_key") != body["trial_key"]:
                raise BadRequest(422, "data.trial_key must equal trial_key")
            check_trial(body["data"], participant=pid, version=version, stimuli=stimuli)
            stored = await run_in_threadpool(store.add_trial, pid, token, body["trial_key"], body["data"])
        except BadRequest as exc:
            return refuse(exc)
        return JSONResponse({"stored": stored}, status_code=201 if stored else 200)

    async def finish(request):
        try:
            token = _token(request)
            body = _fields(await _body(request), {"participant": str})
            await run_in_threadpool(store.finish, _check_id("participant", body["participant"]), token)
        except BadRequest as exc:
            return refuse(exc)
        return JSONResponse({"finished": True})

    async def status(request):
        return JSONResponse({"experiment_version": version, **await run_in_threadpool(store.counts)})

    async def admin_trials(request):
        try:
            if not hmac.compare_digest(_token(request).encode(), admin.encode()):
                raise BadRequest(403, "not the admin token (see <db>.admin-token on the server)")
        except BadRequest as exc:
            return refuse(exc)
        return JSONResponse({"experiment_version": version, **await run_in_threadpool(store.dump)})

    routes = [Route("/api/session", session, methods=["POST"]), Route("/api/trial", trial, methods=["POST"]),
              Route("/api/finish", finish, methods=["POST"]), Route("/api/status", status, methods=["GET"]),
              Route("/api/admin/trials", admin_trials, methods=["GET"]),
              Mount("/", app=StaticFiles(directory=experiment_dir, html=True), name="experiment")]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        store.close()

    app = Starlette(routes=routes, middleware=[Middleware(_NoStore)], lifespan=lifespan)
    app.state.store, app.state.version = store, version
    return app


class _NoStore:
    """ASGI middleware: ``Cache-Control: no-store`` on every answer (a reloaded page must not run a stale config)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def send2(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"cache-control", b"no-store")]
            await send(message)
        await self.app(scope, receive, send2 if scope["type"] == "http" else send)


def serve(experiment_dir, db, *, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning"):
    """Run the collection server until interrupted (uvicorn).

    Used in: notebook 08 (``python -m helpers.study serve``).
    """
    import uvicorn

    app = make_app(experiment_dir, db)
    where = "this machine only" if host in ("127.0.0.1", "localhost", "::1") else f"the network on {host}"
    print(f"serving {experiment_dir} at http://{host}:{port}/ ({where}); data in {db}; admin token in "
          f"{admin_token_path(db)}", flush=True)
    # at most 256 requests at once (a lab of 20-50 browsers sends one trial every few seconds each); beyond, 503,
    # which the page retries
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5, limit_concurrency=256)


# ---------------------------------------------------------------------------------------------
# reading the database back
# ---------------------------------------------------------------------------------------------
def load_trials(source, *, admin: str | None = None) -> dict:
    """The sessions and trials of a study: from a database file, or from a running server's URL with the admin token.

    Returns ``{"experiment_version", "sessions": [...], "trials": [{participant, trial_key, data}, ...]}``.

    Used in: notebook 08 through :func:`helpers.study.server.export_data`.
    """
    if str(source).startswith(("http://", "https://")):
        return client.call(str(source), "admin/trials", token=admin)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"study database not found: {path}")
    store = Store(path)
    try:
        version = store.db.execute("SELECT value FROM meta WHERE key='experiment_version'").fetchone()
        return {"experiment_version": version and version[0], **store.dump()}
    finally:
        store.close()


def to_study_data(dump: dict, *, manifest, rule=None, on_error: str = "raise"):
    """The dump of :func:`load_trials` imported as :class:`helpers.study.importers.StudyData`.

    Each session's rows get ``completed`` (the server saw its finish, or the page recorded its end row).

    Used in: notebook 08 through :func:`helpers.study.server.export_data`.
    """
    by = {}
    for t in dump["trials"]:
        by.setdefault(t["participant"], []).append(t["data"])
    sessions = {s["participant"]: s for s in dump["sessions"]}
    for pid, rows in by.items():
        sess = sessions.get(pid, {})
        done = sess.get("finished_at") is not None or any(r.get("task") == "end" for r in rows)
        for r in rows:
            r["completed"] = done
            for k in ("study_id", "session_id"):  # the ids the session started with, where the page did not record them
                if r.get(k) is None and sess.get(k) is not None:
                    r[k] = sess[k]
    return importers.from_trials({f"server:{pid}": rows for pid, rows in by.items()}, manifest=manifest, rule=rule,
                                 on_error=on_error, caller="server export")


def export_data(source, out, *, manifest, admin: str | None = None, rule=None) -> dict:
    """Write the collected data in the project's formats, with Psych-DS metadata.

    ``out/ratings.csv`` (general ratings format, every participant, :mod:`helpers.study.ratings`),
    ``out/participants.csv`` (one row per participant with answers, flags and recruitment ids) and the
    Psych-DS dataset (:func:`helpers.study.psychds.write`) under ``out/psychds``.

    Used in: notebook 08.
    """
    data = to_study_data(load_trials(source, admin=admin), manifest=manifest, rule=rule)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    io.save_table(data.ratings, out / "ratings.csv")
    io.save_table(data.participants, out / "participants.csv")
    psychds.write(data, out / "psychds", manifest=experiment.load_manifest(manifest), source=str(source))
    return {"ratings": out / "ratings.csv", "participants": out / "participants.csv", "psychds": out / "psychds",
            "n_participants": len(data.participants), "n_ratings": len(data.ratings)}


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    """``python -m helpers.study serve|export ...``.

    Used in: notebook 08 (the commands it prints).
    """
    ap = argparse.ArgumentParser(prog="python -m helpers.study", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve an exported experiment and store every trial in SQLite")
    s.add_argument("experiment", help="folder written by helpers.study.experiment.export(..., target='server')")
    s.add_argument("--db", required=True, help="SQLite database file (created when absent)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=8000)
    e = sub.add_parser("export", help="write ratings.csv, participants.csv and Psych-DS metadata from a study database")
    e.add_argument("source", help="the SQLite database, or the URL of a running server (needs --admin-token)")
    e.add_argument("out", help="output folder")
    e.add_argument("--experiment", required=True, help="the exported experiment folder (its manifest.json)")
    e.add_argument("--admin-token", default=None, help="admin token, for a URL source (default: $NA_ADMIN_TOKEN)")
    args = ap.parse_args(argv)
    try:
        if args.command == "serve":
            serve(args.experiment, args.db, host=args.host, port=args.port)
        else:
            res = export_data(args.source, args.out, manifest=args.experiment,
                              admin=args.admin_token or os.environ.get("NA_ADMIN_TOKEN"))
            print(f"{res['n_participants']} participants, {res['n_ratings']} ratings -> {res['ratings']}, "
                  f"{res['participants']}, {res['psychds']}")
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
