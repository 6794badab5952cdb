"""Participants in Debian's headless Chromium against the local collection server: nothing a fault can lose.

A reload mid-session resumes at the next unrated image without a duplicate row; a server killed (SIGKILL)
mid-session and started again ends with every trial in the database; Prolific's URL parameters and the completion
code are recorded. Checked in the SQLite file itself and against the order Python recomputes
(experiment.participant_order). Without Chromium, chromedriver and Selenium the tests skip, except under CI=true,
where they fail.
"""
from __future__ import annotations

import json
import sqlite3
import time

import numpy as np
import pytest
from PIL import Image

from helpers.study import browser, client, experiment, server
from helpers.testing import ci

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium_ready():
    ci.require(browser.missing())
    return True


@pytest.fixture(scope="module")
def exported(tmp_path_factory, chromium_ready):
    root = tmp_path_factory.mktemp("study-browser")
    rng = np.random.default_rng(2)
    for cond in ("calm", "busy"):
        (root / "images" / cond).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(root / "images" / cond / f"{i}.png")
    exp = experiment.export(root / "images", root / "experiment", display_size=96, block_size=3, preload_chunk=2, seed=11,
                            target="server", completion_code="C0DE42", progress=False)
    return root, exp, experiment.load_manifest(exp)


@pytest.fixture(scope="module")
def preloaded(exported):
    """The same study with every image preloaded at the start: the server serves the images too, so while it is
    down a page can only go on with images it already holds (a preload that fails stops jsPsych)."""
    root = exported[0]
    exp = experiment.export(root / "images", root / "experiment-preloaded", display_size=96, block_size=3,
                            preload_chunk=8, seed=11, target="server", completion_code="C0DE42", progress=False)
    return root, exp, experiment.load_manifest(exp)


def respond(stim):
    """A participant's answer to one image: distinct, reproducible values."""
    h = sum(map(ord, stim))
    return (h * 7) % 101, (h * 13) % 101


def trials(db, pid=None):
    con = sqlite3.connect(db)
    try:
        q = "SELECT participant, trial_key, data FROM trials" + (" WHERE participant=?" if pid else "") + " ORDER BY id"
        return [(p, k, json.loads(d)) for p, k, d in con.execute(q, (pid,) if pid else ())]
    finally:
        con.close()


def check_complete(db, pid, manifest):
    """Every rating once, in the participant's seeded order, with the values set; the end row last."""
    rows = trials(db, pid)
    keys = [k for _, k, _ in rows]
    assert len(keys) == len(set(keys)), f"duplicate rows for {pid}"
    ratings = sorted((d for _, _, d in rows if d["task"] == "rating"), key=lambda d: d["position"])
    order = experiment.participant_order(pid, [s["stimulus"] for s in manifest["stimuli"]], seed=11)
    assert [d["stimulus"] for d in ratings] == order
    assert all((d["valence"], d["arousal"]) == respond(d["stimulus"]) for d in ratings)
    assert sum(d["task"] == "attention_check" for _, _, d in rows) == 2
    end = [d for _, _, d in rows if d["task"] == "end"]
    assert len(end) == 1 and end[0]["completion_code"] == "C0DE42"
    return rows


def test_participant_with_prolific_ids_against_the_server(exported, tmp_path):
    root = exported[0]
    # as for Prolific: the completion code shown, and the page sent on to the completion URL once all is saved
    exp = experiment.export(root / "images", tmp_path / "experiment", display_size=96, block_size=3, preload_chunk=2,
                            seed=11, target="server", completion_code="C0DE42", redirect_url="thanks.html?cc={code}",
                            progress=False)
    man = experiment.load_manifest(exp)
    (exp / "thanks.html").write_text("<p>back to the recruiter</p>")
    with client.Process(exp, tmp_path / "study.sqlite") as srv:
        driver = browser.chromium(tmp_path / "dl")
        try:
            res = browser.play(driver, srv.url + "index.html", participant="5f1a2b3c4d5e6f7a8b9c0d1e", responses=respond,
                               query="PROLIFIC_PID=5f1a2b3c4d5e6f7a8b9c0d1e&STUDY_ID=study01&SESSION_ID=sess01")
            assert res["finished"] and driver.execute_script("return window.NA_SAVED") is True
            assert driver.find_element("id", "na-completion-code").text == "C0DE42"
            for _ in range(100):  # the page waits 3 s, then goes to redirect_url
                if "thanks.html" in driver.current_url:
                    break
                time.sleep(0.1)
            assert driver.current_url.endswith("thanks.html?cc=C0DE42")
        finally:
            driver.quit()
        rows = check_complete(srv.db, "5f1a2b3c4d5e6f7a8b9c0d1e", man)
        assert {(d["study_id"], d["session_id"]) for _, _, d in rows} == {("study01", "sess01")}
        assert next(d for _, _, d in rows if d["task"] == "end")["redirect_url"] == "thanks.html?cc=C0DE42"
        con = sqlite3.connect(srv.db)
        assert con.execute("SELECT finished_at IS NOT NULL FROM sessions").fetchall() == [(1,)]
        con.close()
        out = server.export_data(srv.db, tmp_path / "export", manifest=exp)
        assert out["n_participants"] == 1 and out["n_ratings"] == man["n_stimuli"]


def test_reload_mid_session_resumes_without_duplicates(exported, tmp_path):
    root, exp, man = exported
    pid = "reloader"
    order = experiment.participant_order(pid, [s["stimulus"] for s in man["stimuli"]], seed=11)
    with client.Process(exp, tmp_path / "study.sqlite") as srv:
        driver = browser.chromium(tmp_path / "dl")
        try:
            first = browser.play(driver, srv.url + "index.html", participant=pid, responses=respond, stop_after=4)
            driver.refresh()  # at once: the 4th trial may still be on its way; it waits in localStorage
            rest = browser.play(driver, srv.url + "index.html", participant=pid, responses=respond, navigate=False)
            assert driver.execute_script("return window.NA_SAVED") is True
        finally:
            driver.quit()
        # the reload continued with the next unrated image of the same order
        assert first["shown"] == order[:4] and rest["shown"] == order[4:]
        check_complete(srv.db, pid, man)


def test_server_killed_and_restarted_mid_session_loses_no_trial(preloaded, tmp_path):
    root, exp, man = preloaded
    pid = "crash"
    srv = client.Process(exp, tmp_path / "study.sqlite").start()
    driver = browser.chromium(tmp_path / "dl")
    try:
        browser.play(driver, srv.url + "index.html", participant=pid, responses=respond, stop_after=2)
        srv.kill()  # SIGKILL: the machine lost power, say
        browser.play(driver, srv.url + "index.html", participant=pid, responses=respond, stop_after=5, navigate=False)
        waiting = driver.execute_script("return window.NA_STATE.rows.filter(r => !window.NA_STATE.acked[r.trial_key]).length")
        assert waiting >= 3  # trials of the outage wait in the page
        srv.start()  # same database, same port
        res = browser.play(driver, srv.url + "index.html", participant=pid, responses=respond, navigate=False)
        assert res["finished"] and driver.execute_script("return window.NA_SAVED") is True
    finally:
        driver.quit()
        srv.stop()
    check_complete(srv.db, pid, man)


def test_without_an_id_the_next_person_at_the_same_computer_is_a_new_participant(exported, tmp_path):
    root, exp, man = exported
    with client.Process(exp, tmp_path / "study.sqlite") as srv:
        driver = browser.chromium(tmp_path / "dl")
        try:
            driver.get(srv.url + "index.html")  # no participant id in the URL: the page draws one and keeps it
            for _ in range(50):
                first = driver.execute_script("return window.NA_STATE && window.NA_STATE.participant") or ""
                if first:
                    break
                time.sleep(0.1)
            browser.play(driver, srv.url, participant=first, responses=respond, stop_after=2, navigate=False)
            driver.refresh()  # a reload mid-session keeps the drawn id
            time.sleep(1.0)
            assert driver.execute_script("return window.NA_STATE.participant") == first
            browser.play(driver, srv.url, participant=first, responses=respond, navigate=False)
            driver.get(srv.url + "index.html")  # the next person
            time.sleep(1.0)
            second = driver.execute_script("return window.NA_STATE.participant")
            assert second and second != first
        finally:
            driver.quit()
        check_complete(srv.db, first, man)
