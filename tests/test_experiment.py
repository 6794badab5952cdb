"""Run-your-own-study chain without a browser: export, data files in the export's real format, import, analyses.

Data files are written here the way jsPsych writes them (``tests/test_browser.py`` makes them in a real
Chromium); the columns come from a real browser run of this export (see that test).
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers.nets import layers
from helpers.study import browser, effects, experiment, importers, ratings, stats


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for cond in ("calm", "busy"):
        (root / cond).mkdir()
        for i in range(3):
            scale = 20 if cond == "calm" else 120
            img = np.clip(128 + rng.normal(0, scale, (40, 60, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / cond / f"img{i}.png")
    return root


@pytest.fixture(scope="module")
def exported(image_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("exp") / "study"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        experiment.export(image_folder, out, display_size=128, block_size=4, preload_chunk=2, seed=7, progress=False)
    return out


def _fake_session(manifest, participant, *, value=lambda s: (30, 70), moved=True, checks_ok=True, drop=0, answers=None):
    """Trials as experiment.js records them (same columns and task names), one participant."""
    base = {"participant": participant, "experiment_format": manifest["format"], "experiment_id": manifest["experiment_id"],
            "experiment_version": manifest["experiment_version"], "order_seed": 1}
    rows = [dict(base, trial_type="html-button-response", task="welcome")]
    for q, a in (answers or {"attitude": "neutral", "self_esteem": 3}).items():
        rows.append(dict(base, trial_type="survey-multi-choice", task="question", question=q, answer=a, **{q: a}))
    order = experiment.participant_order(participant, [s["stimulus"] for s in manifest["stimuli"]], seed=manifest["settings"]["seed"])
    for pos, stim in enumerate(order[:len(order) - drop]):
        v, a = value(stim)
        rows.append(dict(base, trial_type="na-dual-slider", task="rating", stimulus=stim, valence=v, arousal=a,
                         valence_moved=moved, arousal_moved=moved, rt=900, block=pos // 4, position=pos + 1,
                         attention_check=False))
    for chk in manifest["settings"]["attention_checks"]:
        v, a = (chk["valence"], chk["arousal"]) if checks_ok else (50, 50)
        rows.append(dict(base, trial_type="na-dual-slider", task="attention_check", stimulus=order[0], valence=v, arousal=a,
                         valence_moved=True, arousal_moved=True, attention_check=True, expected_valence=chk["valence"],
                         expected_arousal=chk["arousal"]))
    return pd.DataFrame(rows)


def test_export_writes_a_self_contained_folder(exported):
    m = experiment.load_manifest(exported)
    assert m["n_stimuli"] == 6 and {s["condition"] for s in m["stimuli"]} == {"calm", "busy"}
    assert all((exported / s["file"]).exists() for s in m["stimuli"])
    assert all(max(Image.open(exported / s["file"]).size) == 128 for s in m["stimuli"])
    html = (exported / "index.html").read_text()
    for name in experiment.VENDORED_FILES:
        assert (exported / "jspsych" / name).exists()
    assert "http" not in html.replace('name="viewport"', "")  # nothing fetched from the network
    assert (exported / "jspsych" / "LICENSE").read_text().count("MIT") >= 1
    assert experiment.verify(exported) == []
    (exported / "stimuli" / "s0001.png").write_bytes(b"tampered")
    assert any("s0001" in p for p in experiment.verify(exported))


def test_vendored_files_match_pinned_hashes():
    import hashlib

    meta = json.loads((experiment.VENDOR / "VENDOR.json").read_text())
    assert {p["name"] for p in meta["packages"]} >= {"jspsych", "@jspsych/plugin-preload"}
    assert next(p for p in meta["packages"] if p["name"] == "jspsych")["version"].startswith("8.")
    for p in meta["packages"]:
        assert p["integrity"].startswith("sha512-") and p["license"] == "MIT"
        for f, info in p["files"].items():
            assert hashlib.sha256((experiment.VENDOR / f).read_bytes()).hexdigest() == info["sha256"], f


def test_export_skips_unreadable_images_with_a_warning(image_folder, tmp_path):
    bad = tmp_path / "imgs"
    bad.mkdir()
    Image.new("RGB", (30, 30), "red").save(bad / "ok.png")
    (bad / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.warns(UserWarning, match="broken.png"):
        experiment.export(bad, tmp_path / "out", display_size=64, progress=False)
    m = experiment.load_manifest(tmp_path / "out")
    assert [s["stimulus"] for s in m["stimuli"]] == ["ok.png"] and m["skipped"][0]["path"] == "broken.png"
    with pytest.raises(FileExistsError):
        experiment.export(bad, tmp_path / "out", progress=False)


def test_participant_order_is_seeded_and_differs_between_people():
    ids = [f"s{i}" for i in range(20)]
    a = experiment.participant_order("P1", ids, seed=0)
    assert a == experiment.participant_order("P1", ids, seed=0) and sorted(a) == sorted(ids)
    assert a != experiment.participant_order("P2", ids, seed=0) and a != experiment.participant_order("P1", ids, seed=1)


def test_sam_pictograms_are_distinct_svg():
    svgs = {ax: [experiment.sam_svg(ax, k) for k in range(1, 6)] for ax in ("valence", "arousal")}
    for ax, items in svgs.items():
        assert len(set(items)) == 5 and all(s.startswith("<svg") and s.endswith("</svg>") for s in items)
    with pytest.raises(ValueError):
        experiment.sam_svg("dominance", 3)


def test_from_jspsych_round_trip_and_flags(exported, tmp_path):
    m = experiment.load_manifest(exported)
    _fake_session(m, "A").to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "b.json").write_text(_fake_session(m, "B", checks_ok=False).to_json(orient="records"))
    _fake_session(m, "C", drop=2).to_csv(tmp_path / "c.csv", index=False)
    _fake_session(m, "D", moved=False).to_csv(tmp_path / "d.csv", index=False)
    data = importers.from_jsPsych(tmp_path, manifest=exported)
    p = data.participants.set_index("participant")
    assert p.loc["A", "excluded"] == False and p.loc["A", "self_esteem"] == 3  # noqa: E712
    assert p.loc["B", "reason"] == "failed_attention" and p.loc["C", "reason"] == "incomplete"
    assert p.loc["D", "reason"] == "unmoved" and p.loc["C", "n_ratings"] == 4
    assert set(data.ratings.columns) >= {"participant", "stimulus", "arousal", "valence", "condition"}
    assert list(data.analysed()["participant"].unique()) == ["A"]
    assert len(data.analysed(exclude=False)) == 6 * 3 + 4


def test_from_jspsych_rejects_files_of_other_experiments(exported, tmp_path):
    pd.DataFrame({"rt": [1], "response": [0], "trial_type": ["html-keyboard-response"]}).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(ratings.RatingsFormatError, match=r"x\.csv.*missing columns \['task', 'participant'"):
        importers.from_jsPsych(tmp_path / "x.csv")


def test_from_jspsych_bad_rows_name_file_and_line(exported, tmp_path):
    m = experiment.load_manifest(exported)
    df = _fake_session(m, "A")
    i = df.index[df["task"] == "rating"][1]
    df.loc[i, "valence"] = 140
    j = df.index[df["task"] == "rating"][2]
    df.loc[j, "stimulus"] = "nope.png"
    df.to_csv(tmp_path / "a.csv", index=False)
    _fake_session(m, "B").to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(ratings.RatingsFormatError) as err:
        importers.from_jsPsych(tmp_path, manifest=exported)
    text = str(err.value)
    assert f"a.csv, line {i + 2}: valence = '140.0'" in text and f"a.csv, line {j + 2}: unknown stimulus 'nope.png'" in text
    with pytest.warns(UserWarning, match="left out"):
        data = importers.from_jsPsych(tmp_path, manifest=exported, on_error="skip")
    assert data.participants.set_index("participant").loc["A", "n_ratings"] == 4  # the two bad rows only
    assert (data.ratings["participant"] == "B").sum() == 6  # nothing of the good file lost


def test_from_jspsych_duplicates_and_mixed_versions(exported, tmp_path):
    m = experiment.load_manifest(exported)
    df = _fake_session(m, "A")
    first = df[df["task"] == "rating"].iloc[[0]].assign(valence=99)
    pd.concat([df, first]).to_csv(tmp_path / "a.csv", index=False)
    with pytest.warns(UserWarning, match="duplicated trial.*'A'"):
        data = importers.from_jsPsych(tmp_path / "a.csv", manifest=exported)
    assert data.ratings.loc[data.ratings["stimulus"] == first["stimulus"].iloc[0], "valence"].item() == 30
    _fake_session(m, "B").assign(experiment_version="0000").to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(ratings.RatingsFormatError, match="mixed experiment versions"):
        importers.from_jsPsych([tmp_path / "a.csv", tmp_path / "b.csv"])
    with pytest.raises(ratings.RatingsFormatError, match="differs from the manifest"):
        importers.from_jsPsych([tmp_path / "b.csv"], manifest=exported)


def test_from_psychopy_with_column_mapping(tmp_path):
    rows = [{"participant": "p1", "expName": "x", "image": None, "valence_slider.response": None, "arousal_slider.response": None}]
    rows += [{"participant": "p1", "image": f"s{i}.png", "valence_slider.response": 1 + i, "arousal_slider.response": 9 - i,
              "valence_slider.rt": 1.2, "attitude": "neutral", "self_esteem": 4} for i in range(3)]
    pd.DataFrame(rows).to_csv(tmp_path / "p1_x.csv", index=False)
    data = importers.from_psychopy(tmp_path / "p1_x.csv", columns={"scale": (1, 9)})
    assert data.ratings["valence"].tolist() == [0.0, 12.5, 25.0] and data.ratings["arousal"].iloc[0] == 100.0
    assert data.participants["self_esteem"].iloc[0] == 4
    with pytest.raises(ratings.RatingsFormatError, match=r"p1_x.csv: .*missing \[\"valence \(PsychoPy column 'v'\)"):
        importers.from_psychopy(tmp_path / "p1_x.csv", columns={"arousal": "arousal_slider.response"} | {"valence": "v"})


def test_general_format_and_study_format_both_load(tmp_path):
    general = pd.DataFrame({"participant": ["a", "a", "b"], "stimulus": ["x/1.png", "x/2.png", "x/1.png"],
                            "arousal": [10, 20, 30], "valence": [50, 60, 70], "network": ["n1", "n2", "n1"]})
    general.to_csv(tmp_path / "g.csv", index=False)
    g = ratings.load(tmp_path / "g.csv")
    assert g["network"].tolist() == ["n1", "n2", "n1"] and ratings.stimulus_ids(g).tolist() == ["x/1.png", "x/2.png", "x/1.png"]
    study = pd.DataFrame({"participant": ["a"], "layer": [layers.LAYERS[0]], "seed": [0], "arousal": [10.0], "valence": [20.0]})
    study.to_csv(tmp_path / "s.csv", index=False)
    assert ratings.stimulus_ids(ratings.load(tmp_path / "s.csv")).tolist() == [f"{layers.LAYERS[0]}/seed0"]
    pd.concat([general, general.iloc[[0]]]).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(ratings.RatingsFormatError, match=r"line 2 .*and row 4 .*duplicate \('participant', 'stimulus'\)"):
        ratings.load(tmp_path / "d.csv")


def test_analyses_group_by_any_column(exported, tmp_path):
    m = experiment.load_manifest(exported)
    for k in range(6):
        _fake_session(m, f"P{k}", value=lambda s, k=k: (20 + k if "calm" in s else 80 - k, 50)).to_csv(tmp_path / f"p{k}.csv", index=False)
    data = importers.from_jsPsych(tmp_path, manifest=exported).analysed()
    tests = effects.layer_tests(data, group_by="condition", test="t")
    v = tests[tests["axis"] == "valence"].set_index("layer")
    assert v.loc["calm", "direction"] == "lower" and v.loc["busy", "direction"] == "higher"
    es = effects.layer_effect_sizes(data, group_by="condition")
    row = es[(es["axis"] == "valence") & (es["layer"] == "busy")].iloc[0]
    assert row["d_ci_low"] < row["d_z"] < row["d_ci_high"] and row["mean_ci_low"] > 0
    feats = pd.DataFrame({"path": [s["stimulus"] for s in m["stimuli"]], "hue": np.arange(6.0), "status": "ok"})
    means = stats.image_means(data, feats, unit="condition")
    assert set(means["condition"]) == {"calm", "busy"} and "hue" in means
    assert len(stats.image_means(data, feats, unit="image")) == 6


def test_download_wait_needs_a_finished_file(tmp_path):
    """What the browser test's CI failure showed: a download may still be running when the page says it
    started. The wait returns only a complete file and says what state it found when it gives up."""
    import threading
    import time

    path = tmp_path / "na-ratings_P1.json"
    with pytest.raises(TimeoutError, match=r"na-ratings_P1\.json within 0 s \(file missing\)"):
        browser._wait_for_download(path, timeout_s=0.2)
    partial = tmp_path / "na-ratings_P1.json.crdownload"
    partial.write_text('[{"a": 1}]')
    path.write_text("")  # a name reserved beside a running download
    with pytest.raises(TimeoutError, match=r"\(file in progress: partial file na-ratings_P1\.json\.crdownload\)"):
        browser._wait_for_download(path, timeout_s=0.2)
    partial.unlink()
    hidden = tmp_path / ".org.chromium.Chromium.AbC123"  # what Debian's chromium writes for a blob download
    hidden.write_text("[")
    with pytest.raises(TimeoutError, match=r"partial file \.org\.chromium\.Chromium\.AbC123"):
        browser._wait_for_download(path, timeout_s=0.2)
    hidden.unlink()
    with pytest.raises(TimeoutError, match=r"\(file empty\)"):
        browser._wait_for_download(path, timeout_s=0.2)
    path.write_text('[{"a": 1}, {"b"')
    with pytest.raises(TimeoutError, match="does not parse as JSON"):
        browser._wait_for_download(path, timeout_s=0.3)

    def finish():
        time.sleep(0.3)
        tmp = tmp_path / "x.tmp"
        tmp.write_text('[{"a": 1}, {"b": 2}]')
        tmp.replace(path)
        partial.unlink()

    partial.write_text("")
    t = threading.Thread(target=finish)
    t.start()
    assert browser._wait_for_download(path, timeout_s=5) == path
    t.join()
    assert json.loads(path.read_text()) == [{"a": 1}, {"b": 2}] and not partial.exists()


def test_simulated_participants_of_an_export_are_seeded_and_state_their_model(exported, tmp_path):
    """simulate.responses (the study module's second simulator): same seed, same answers; the truth quotes its model;
    experiment.write_sessions turns them into data files the importer reads back."""
    from helpers.study import simulate

    man = experiment.load_manifest(exported)
    players, truth = simulate.responses(man, n_participants=2, seed=3, group_by="condition")
    again, _ = simulate.responses(man, n_participants=2, seed=3, group_by="condition")
    stim = [s["stimulus"] for s in man["stimuli"]]
    assert list(players) == ["SIM001", "SIM002"] and [players["SIM001"](s) for s in stim] == [again["SIM001"](s) for s in stim]
    assert truth["model"].startswith("A stated model of ratings for an exported stimulus set") and "Args" not in truth["model"]
    assert set(truth["group_effects_valence"]) == {"busy", "calm"}
    files = experiment.write_sessions(man, players, tmp_path / "sessions")
    assert importers.from_jsPsych(files, manifest=exported).ratings["participant"].nunique() == 2
