"""The local collection server (helpers.study.server) over real HTTP: a uvicorn child process, SQLite read back directly.

Checks against the database file itself (sqlite3, not the server's own answers): every trial stored once,
WAL mode, tokens that keep sessions apart, 4xx for malformed/oversized/foreign posts, a server killed with
SIGKILL mid-session losing nothing it had answered, 20 concurrent participants, and the admin export
into the project's formats.
"""
from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers.study import client, experiment, psychds, ratings, server


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("server")
    rng = np.random.default_rng(0)
    for cond in ("calm", "busy"):
        (root / "images" / cond).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(root / "images" / cond / f"{cond} {i}.png")
    exp = experiment.export(root / "images", root / "experiment", display_size=32, block_size=4, preload_chunk=2, seed=5,
                            target="server", progress=False)
    return exp, experiment.load_manifest(exp)


@pytest.fixture()
def running(exported, tmp_path):
    with client.Process(exported[0], tmp_path / "study.sqlite") as srv:
        yield srv


@pytest.fixture(scope="module")
def shared(exported, tmp_path_factory):
    """One server for the tests that look only at their own participants' rows (each uses its own ids)."""
    with client.Process(exported[0], tmp_path_factory.mktemp("shared") / "study.sqlite") as srv:
        yield srv


def call(url, path, body=None, *, token=None, raw: bytes | None = None, method=None):
    """(status, JSON answer) of one request."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url + path, data=data, method=method or ("POST" if data is not None else "GET"),
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def rows_for(manifest, pid, k=0):
    return experiment.session_rows(manifest, pid, lambda s: (hash(s) % 101, (7 * len(s) + k) % 101), k=k)


def start(url, manifest, pid, **extra):
    status, out = call(url, "api/session", {"participant": pid, "experiment_version": manifest["experiment_version"], **extra})
    assert status in (200, 201), out
    return out["token"]


def post(url, token, row):
    return call(url, "api/trial", {"participant": row["participant"], "trial_key": row["trial_key"], "data": row}, token=token)


def db_rows(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT participant, trial_key, data FROM trials ORDER BY id").fetchall()
    finally:
        con.close()


def test_serves_the_page_and_stores_each_trial_once(exported, shared):
    exp, man = exported
    running = shared
    with urllib.request.urlopen(running.url) as r:  # the exported page itself
        assert b"config.js" in r.read()
    token = start(running.url, man, "p1", study_id="S1", session_id="X1")
    rows = rows_for(man, "p1")
    for row in rows:
        assert post(running.url, token, row)[0] == 201
    for row in rows[:3] + rows[-2:]:  # resends: answered 200, not stored again
        assert post(running.url, token, row) == (200, {"stored": False})
    got = [r for r in db_rows(running.db) if r[0] == "p1"]
    assert len(got) == len(rows) and len({(p, k) for p, k, _ in got}) == len(rows)
    assert [json.loads(d) for _, _, d in got] == [json.loads(json.dumps(r)) for r in rows]
    con = sqlite3.connect(running.db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT study_id, session_id FROM sessions WHERE participant='p1'").fetchall() == [("S1", "X1")]
    con.close()


def test_tokens_keep_sessions_apart(exported, shared):
    exp, man = exported
    running = shared
    ta, tb = start(running.url, man, "alice"), start(running.url, man, "bob")
    row_a = rows_for(man, "alice")[5]
    assert post(running.url, None, row_a)[0] == 401  # no token
    assert post(running.url, tb, row_a)[0] == 403  # bob's token cannot write alice's rows
    assert post(running.url, "forged", row_a)[0] == 403
    # a second start for alice: refused without her token, resumed (with her stored keys) with it
    assert call(running.url, "api/session", {"participant": "alice", "experiment_version": man["experiment_version"]})[0] == 409
    assert post(running.url, ta, row_a)[0] == 201
    status, out = call(running.url, "api/session", {"participant": "alice", "experiment_version": man["experiment_version"],
                                                    "token": ta})
    assert status == 200 and out["done"] == [row_a["trial_key"]] and out["resumed"]
    assert call(running.url, "api/session", {"participant": "carol", "experiment_version": "0" * 16})[0] == 409
    assert [(p, k) for p, k, _ in db_rows(running.db) if p in ("alice", "bob", "carol")] == [("alice", row_a["trial_key"])]


@pytest.mark.parametrize("case, expected", [
    ("not json", 400), ("array", 422), ("extra field", 422), ("missing data", 422), ("valence 150", 422),
    ("valence NaN", 400), ("unknown stimulus", 422), ("other participant in data", 422), ("other version", 422),
    ("bad key", 422), ("key mismatch", 422), ("oversized", 413), ("too deep", 422)])
def test_malformed_and_oversized_posts_are_rejected(exported, shared, case, expected):
    exp, man = exported
    running = shared
    pid = "mal-" + "".join(c for c in case if c.isalnum())
    token = start(running.url, man, pid)
    row = dict(next(r for r in rows_for(man, pid) if r["task"] == "rating"))
    body = {"participant": pid, "trial_key": row["trial_key"], "data": row}
    raw = None
    if case == "not json":
        raw = b"{participant: mal"
    elif case == "array":
        raw = json.dumps([body]).encode()
    elif case == "extra field":
        body["admin"] = True
    elif case == "missing data":
        del body["data"]
    elif case == "valence 150":
        row["valence"] = 150
    elif case == "valence NaN":
        raw = json.dumps(body).replace(f'"valence": {row["valence"]}', '"valence": NaN').encode()
        assert b"NaN" in raw
    elif case == "unknown stimulus":
        row["stimulus"] = "../../etc/passwd"
    elif case == "other participant in data":
        row["participant"] = "someone"
    elif case == "other version":
        row["experiment_version"] = "f" * 16
    elif case == "bad key":
        body["trial_key"] = row["trial_key"] = "rating:1; DROP TABLE trials"
    elif case == "key mismatch":
        body["trial_key"] = "rating:999"
    elif case == "oversized":
        row["padding"] = "x" * (server.MAX_BODY + 10)
    elif case == "too deep":
        row["nested"] = {"a": {"b": {"c": {"d": {"e": 1}}}}}
    status, out = call(running.url, "api/trial", body, token=token, raw=raw)
    assert status == expected and out.get("error"), (status, out)
    assert [r for r in db_rows(running.db) if r[0] == pid] == []
    good = dict(next(r for r in rows_for(man, pid) if r["task"] == "rating"))  # the same session still works
    assert post(running.url, token, good)[0] == 201


def test_server_killed_mid_session_loses_nothing(exported, tmp_path):
    exp, man = exported
    db = tmp_path / "crash.sqlite"
    srv = client.Process(exp, db).start()
    try:
        token = start(srv.url, man, "p-crash")
        rows = rows_for(man, "p-crash")
        half = len(rows) // 2
        for row in rows[:half]:
            assert post(srv.url, token, row)[0] == 201
        srv.kill()  # SIGKILL: no shutdown handler runs
        with pytest.raises(OSError):
            post(srv.url, token, rows[half])  # the page would queue this one and retry
        srv.start()  # same database, same port
        status, out = call(srv.url, "api/session", {"participant": "p-crash", "experiment_version": man["experiment_version"],
                                                    "token": token})
        assert status == 200 and out["done"] == [r["trial_key"] for r in rows[:half]]
        for row in rows[half - 2:]:  # the page resends what it is not sure of
            assert post(srv.url, token, row)[0] in (200, 201)
        assert call(srv.url, "api/finish", {"participant": "p-crash"}, token=token)[0] == 200
    finally:
        srv.stop()
    assert sorted(k for _, k, _ in db_rows(db)) == sorted(r["trial_key"] for r in rows)


def test_twenty_participants_at_once(exported, shared):
    exp, man = exported
    running = shared
    pids = [f"p{i:02d}" for i in range(20)]

    def one(pid):
        token = start(running.url, man, pid)
        rows = rows_for(man, pid, k=int(pid[1:]))
        rnd = random.Random(pid)
        sent = rows + rnd.sample(rows, 4)  # some resends, interleaved with the other participants' posts
        codes = [post(running.url, token, r)[0] for r in sent]
        return codes, len(rows)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, pids))
    for codes, n in results:
        assert codes.count(201) == n and codes.count(200) == 4
    got = [r for r in db_rows(running.db) if r[0] in pids]
    keys = [(p, k) for p, k, _ in got]
    assert len(keys) == len(set(keys)) == sum(n for _, n in results)
    assert sorted({p for p, _ in keys}) == pids


def test_admin_export_needs_the_admin_token_and_writes_the_project_formats(exported, running, tmp_path):
    exp, man = exported
    sent = {}
    for k, pid in enumerate(("a1", "a2", "a3")):
        token = start(running.url, man, pid, study_id="STUDY", session_id=f"S{k}")
        rows = rows_for(man, pid, k=k)
        sent[pid] = rows
        for row in rows if pid != "a3" else rows[:4]:  # a3 leaves early
            post(running.url, token, row)
        if pid != "a3":
            call(running.url, "api/finish", {"participant": pid}, token=token)
    assert call(running.url, "api/admin/trials")[0] == 401
    assert call(running.url, "api/admin/trials", token=start(running.url, man, "nosy"))[0] == 403
    admin = server.admin_token_path(running.db)
    assert oct(admin.stat().st_mode & 0o777) == "0o600"
    status, dump = call(running.url, "api/admin/trials", token=admin.read_text().strip())
    assert status == 200 and len(dump["trials"]) == len(sent["a1"]) + len(sent["a2"]) + 4
    # the command line, from the database file and from the URL with the token
    out = tmp_path / "export"
    cmd = [sys.executable, "-m", "helpers.study", "export", str(running.db), str(out), "--experiment", str(exp)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    r = ratings.load(out / "ratings.csv")
    ratings.load_participants(out / "participants.csv", required=("participant",))  # the project's format
    people = pd.read_csv(out / "participants.csv").set_index("participant")
    assert people.loc["a3", "excluded"] and people.loc["a3", "reason"] == "incomplete"
    assert not people.loc["a1", "excluded"] and people.loc["a1", "completed"] and not people.loc["a3", "completed"]
    assert people.loc["a2", "session_id"] == "S1" and people.loc["a1", "study_id"] == "STUDY"
    for pid, rows in sent.items():
        want = {x["stimulus"]: (x["valence"], x["arousal"]) for x in rows if x["task"] == "rating"}
        got = r[r["participant"] == pid]
        assert len(got) == (len(want) if pid != "a3" else sum(x["task"] == "rating" for x in rows[:4]))
        assert all(want[s] == (v, a) for s, v, a in zip(got["stimulus"], got["valence"], got["arousal"]))
    assert psychds.check(out / "psychds") == []
    res = server.export_data(running.url, tmp_path / "via-url", manifest=exp, admin=admin.read_text().strip())
    assert ratings.load(res["ratings"]).equals(r)
    with pytest.raises(urllib.error.HTTPError):
        server.export_data(running.url, tmp_path / "no", manifest=exp, admin="wrong")


def test_server_refuses_a_database_of_another_export(exported, tmp_path):
    exp, man = exported
    db = tmp_path / "other.sqlite"
    store = server.Store(db, experiment_version="0123456789abcdef")
    store.close()
    with pytest.raises(ValueError, match="experiment version '0123456789abcdef'"):
        server.make_app(exp, db)


def test_refuses_a_database_inside_the_served_folder(exported):
    with pytest.raises(ValueError, match="inside the served folder"):
        server.make_app(exported[0], exported[0] / "data" / "study.sqlite")
    assert not (exported[0] / "data").exists()


def test_export_refuses_question_names_the_server_would_refuse(tmp_path, exported):
    q = [{"name": "my mood", "prompt": "?", "options": ["a", "b"]}]
    with pytest.raises(ValueError, match="question name 'my mood'"):
        experiment.export(tmp_path, tmp_path / "x", questions=q, progress=False)


def test_binds_to_localhost_by_default():
    import inspect

    assert inspect.signature(server.serve).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(client.Process).parameters["host"].default == "127.0.0.1"
