"""The exported experiment in a real headless Chromium: a scripted participant plays it, the data come back.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install chromium chromium-driver``) and
Selenium from PyPI. Without them the test is skipped with that message, except under ``CI=true``,
where it fails (CI installs them in ``.ci/run``).
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from PIL import Image

from helpers.measures import table
from helpers.study import browser, effects, experiment, importers, mixed, simulate
from helpers.testing import ci

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser_ready():
    ci.require(browser.missing())
    return True


@pytest.fixture(scope="module")
def study(tmp_path_factory, browser_ready):
    root = tmp_path_factory.mktemp("browser")
    images = root / "images"
    rng = np.random.default_rng(1)
    for cond, spread in (("calm", 15), ("busy", 110)):
        (images / cond).mkdir(parents=True)
        for i in range(3):
            img = np.clip(128 + rng.normal(0, spread, (72, 96, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(images / cond / f"{cond}{i}.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exp = experiment.export(images, root / "experiment", display_size=160, block_size=4, preload_chunk=2, seed=3,
                                post_url="data", progress=False)  # relative: POSTed to the serving host
    manifest = experiment.load_manifest(exp)
    feats = table.table(images, n_jobs=1, progress=False)
    responses, truth = simulate.responses(manifest, feats, n_participants=3, seed=0, group_by="condition",
                                                      group_effect=20.0)
    answers = {pid: {"attitude": k % 3, "self_esteem": (k + 2) % 5} for k, pid in enumerate(responses)}
    shot = root / "trial.png"
    posted = []
    files = browser.run_sessions(exp, responses, root / "downloads", answers=answers, screenshot=shot, progress=False,
                                    received=posted)
    return dict(root=root, exp=exp, manifest=manifest, features=feats, responses=responses, files=files, shot=shot, truth=truth,
                posted=posted)


def test_browser_downloads_csv_and_json_with_every_trial(study):
    m = study["manifest"]
    assert len(study["files"]) == 3
    for csv in study["files"]:
        assert csv.with_suffix(".json").exists(), "the JSON download is missing"
        trials = json.loads(csv.with_suffix(".json").read_text())
        rated = [t for t in trials if t.get("task") == "rating"]
        assert len(rated) == m["n_stimuli"] and all(t["valence_moved"] and t["arousal_moved"] for t in rated)
        pid = trials[0]["participant"]
        order = json.loads(next(t for t in trials if t.get("task") == "instructions")["order"])
        # the recorded order is the seeded one Python recomputes
        assert order == experiment.participant_order(pid, [s["stimulus"] for s in m["stimuli"]], seed=3)
        assert [t["stimulus"] for t in rated] == order
        assert sum(t.get("task") == "break" for t in trials) == 1  # 6 images in blocks of 4
        assert sum(t.get("task") == "preload" for t in trials) == 3  # chunks of 2
    assert study["shot"].exists() and study["shot"].stat().st_size > 10_000


def test_browser_posts_the_same_data(study, tmp_path):
    posted = {p["participant"]: p for p in study["posted"]}
    assert sorted(posted) == sorted(study["responses"])
    for pid, body in posted.items():
        (tmp_path / f"{pid}.json").write_text(json.dumps(body))  # the POSTed form is importable as it is
    a = importers.from_jsPsych(tmp_path, manifest=study["exp"]).ratings
    b = importers.from_jsPsych(study["root"] / "downloads", manifest=study["exp"]).ratings
    key = ["participant", "stimulus"]
    assert a.sort_values(key)[key + ["valence", "arousal"]].reset_index(drop=True).equals(
        b.sort_values(key)[key + ["valence", "arousal"]].reset_index(drop=True))


def test_browser_data_import_and_analyses(study):
    data = importers.from_jsPsych(study["root"] / "downloads", manifest=study["exp"])
    p = data.participants
    assert len(p) == 3 and not p["excluded"].any() and (p["n_checks_failed"] == 0).all()
    assert sorted(p["attitude"].astype(str)) == ["negative", "neutral", "positive"]
    assert sorted(p["self_esteem"].tolist()) == [3, 4, 5]  # option indices 2, 3, 4
    r = data.analysed()
    for pid, fn in study["responses"].items():  # what the browser saved is what the participant set
        got = r[r["participant"] == pid].set_index("stimulus")
        assert all(tuple(got.loc[s, ["valence", "arousal"]].astype(int)) == fn(s) for s in got.index)
    tests = effects.layer_tests(r, group_by="condition", test="t")
    assert set(tests["layer"]) == {"calm", "busy"}
    es = effects.layer_effect_sizes(r, group_by="condition")
    planted = study["truth"]["group_effects_valence"]  # +20 on one condition, -20 on the other
    v = es[es["axis"] == "valence"].set_index("layer")["mean_diff"]
    assert all(np.sign(v[c]) == np.sign(e) for c, e in planted.items()) and len(planted) == 2
    fit = mixed.mixed_model(r, study["features"], response="arousal", terms=["feature_congestion"], nested_in="condition")
    assert {"participant", "stimulus", "condition", "residual"} <= set(fit.loc[fit["kind"] == "variance", "term"])
