"""Online targets: the JATOS study archive, JATOS's results export and DataPipe's OSF files, round-tripped.

The archive is checked against JATOS's own serialisation (fields of Study/Component/Batch ``JsonForIO``, the
``{"version": "3", "data": ...}`` envelope, one assets folder + one .jas in the zip). The browser tests run the
exported page in headless Chromium with test doubles of the two services, which stand in for a JATOS server
and for pipe.jspsych.org (neither can be reached from CI): the JATOS double is a small ``jatos.js`` that keeps
JATOS's study-result / component-result bookkeeping (a reload opens a new component result) and posts what
``jatos.appendResultData`` appends; the DataPipe double answers the pipe plugin's POST as DataPipe's
``api-data.js`` does (201 ``{"message": "Success"}``). What they collect is written in the services' stored
layouts (JATOS's results archive, DataPipe's OSF folder) and read back by the importers into notebook 08's
analyses.
"""
from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from helpers.study import browser, effects, experiment, importers, online
from helpers.testing import ci

JATOS_STUDY_FIELDS = {"uuid", "title", "description", "groupStudy", "linearStudy", "allowPreview", "dirName", "comments",
                      "studyInput", "endRedirectUrl", "studyEntryMsg", "componentList", "batchList"}
"""JsonForIO fields of JATOS 3.10 models/common/Study.java (plus the two lists JsonUtils.studyAsJsonForIO adds)."""
JATOS_COMPONENT_FIELDS = {"uuid", "title", "htmlFilePath", "reloadable", "active", "comments", "componentInput"}
JATOS_BATCH_FIELDS = {"uuid", "title", "active", "maxActiveMembers", "maxTotalMembers", "maxTotalWorkers",
                      "allowedWorkerTypes", "comments", "batchInput"}


def make_images(root):
    rng = np.random.default_rng(4)
    for cond in ("calm", "busy"):
        (root / "images" / cond).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(root / "images" / cond / f"{i}.png")
    return root / "images"


def respond_for(pid):
    """Calm images rated pleasant, busy ones unpleasant, with a per-image and per-participant spread."""
    k = sum(map(ord, pid)) % 5

    def respond(stim):
        h = sum(map(ord, stim)) % 9
        return (78 + h + k, 40 + h - k) if stim.startswith("calm") else (18 + h - k, 60 + h + k)
    return respond


def test_jatos_archive_has_jatos_layout(tmp_path):
    images = make_images(tmp_path)
    exp = experiment.export(images, tmp_path / "rate", display_size=48, target="jatos", completion_code="XY1",
                            progress=False)
    archive = exp.with_suffix(".jzip")
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        jas = [n for n in names if n.endswith(".jas")]
        assert len(jas) == 1 and "/" not in jas[0]  # the .jas at the root, beside one assets folder
        meta = json.loads(z.read(jas[0]))
        assert {n.split("/")[0] for n in names if "/" in n} == {meta["data"]["dirName"]}
        assert sorted(n.split("/", 1)[1] for n in names if "/" in n) == sorted(
            p.relative_to(exp).as_posix() for p in exp.rglob("*") if p.is_file())
        html = z.read(f"{meta['data']['dirName']}/index.html").decode()
    assert meta["version"] == "3" and set(meta["data"]) == JATOS_STUDY_FIELDS
    # JATOS's StudyDeserializer reads the serial version with readTree(...).findValue("version"): the first
    # "version" field anywhere in the tree, so no other may come before it
    assert '"version"' not in json.dumps(meta["data"])
    (comp,) = meta["data"]["componentList"]
    assert set(comp) == JATOS_COMPONENT_FIELDS and comp["htmlFilePath"] == "index.html" and comp["reloadable"]
    assert set(meta["data"]["batchList"][0]) == JATOS_BATCH_FIELDS
    assert '<script src="jatos.js"></script>' in html
    # the same export again: the same study uuid (JATOS then offers to overwrite, not to duplicate)
    again = experiment.export(images, tmp_path / "rate", display_size=48, target="jatos", completion_code="XY1",
                              progress=False, overwrite=True)
    with zipfile.ZipFile(again.with_suffix(".jzip")) as z:
        assert json.loads(z.read(jas[0]))["data"]["uuid"] == meta["data"]["uuid"]


def test_json_pieces_read_jatos_data_that_is_not_one_document(tmp_path):
    text = '{"a": 1}\n{"a": 2}{"a": 3}\n[{"a": 4}, {"a": 5}]\n{\n  "a": 6\n}\n'
    assert [r["a"] for r in online._trials_of(online.json_pieces(text, "x"), "x")] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match=r"data\.txt: not JSON at character 9"):
        online.json_pieces('{"a": 1}\n{"a": oops}', "data.txt")
    bad = tmp_path / "results"
    (bad / "study_result_1" / "comp-result_1").mkdir(parents=True)
    (bad / "study_result_1" / "comp-result_1" / "data.txt").write_text('{"a": 1}\n42\n')
    with pytest.raises(ValueError, match="piece 2 is int, expected a trial object"):
        online.read_jatos_results(bad)
    with pytest.raises(ValueError, match="no study_result_<id>/comp-result_<id>/data.txt"):
        online.read_jatos_results(tmp_path / "results" / "study_result_1")


def test_jatos_reload_and_resent_trials_count_once(tmp_path):
    images = make_images(tmp_path)
    exp = experiment.export(images, tmp_path / "exp", display_size=32, target="jatos", progress=False)
    man = experiment.load_manifest(exp)
    rows = experiment.session_rows(man, "p1", respond_for("p1"))
    res = tmp_path / "results" / "study_result_7"
    (res / "comp-result_70").mkdir(parents=True)
    (res / "comp-result_71").mkdir(parents=True)
    # the first page load appended 5 trials, the last one twice (its answer was lost); the reload appended the rest
    (res / "comp-result_70" / "data.txt").write_text("".join(json.dumps(r) + "\n" for r in rows[:5] + rows[4:5]))
    (res / "comp-result_71" / "data.txt").write_text("".join(json.dumps(r) + "\n" for r in rows[5:]))
    data = importers.from_jatos(tmp_path / "results", manifest=exp)
    assert len(data.ratings) == man["n_stimuli"] and not data.participants["excluded"].any()
    assert data.warnings == []  # a resent trial is not a participant rating twice


# ------------------------------------------------------------------------------------------------------------
# the page in Chromium, with doubles of JATOS and DataPipe
# ------------------------------------------------------------------------------------------------------------
JATOS_DOUBLE = """// TEST DOUBLE of JATOS's jatos.js (tests/test_online.py): not JATOS. It keeps JATOS's bookkeeping (one study
// result per participant's run, a new component result on every page load, PublixUtils.startComponent) and posts
// what the page appends, so the test can write JATOS's results export.
window.jatos = (function () {
  const q = Object.fromEntries(new URLSearchParams(location.search));
  const key = "jatos-double:" + (q.PROLIFIC_PID || q.participant || "anon");
  const state = JSON.parse(localStorage.getItem(key) || "null") || { srid: 1 + Math.floor(Math.random() * 90000), loads: 0 };
  state.loads += 1;
  localStorage.setItem(key, JSON.stringify(state));
  const crid = state.srid * 100 + state.loads;
  const post = (body) => fetch("/jatos-double", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(Object.assign({ srid: state.srid, crid: crid, params: q }, body)) })
    .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); });
  return {
    urlQueryParameters: q, studyResultId: state.srid, componentResultId: crid,
    onLoad: (cb) => setTimeout(cb, 0),
    appendResultData: (text) => post({ kind: "append", text: text }),
    endStudy: (ok, message) => post({ kind: "end", ok: ok, message: message }),
    endStudyAndRedirect: (url, ok, message) => post({ kind: "end", ok: ok, message: message }),
  };
})();
"""
DATAPIPE_DOUBLE = """// TEST DOUBLE of pipe.jspsych.org (tests/test_online.py): the pipe plugin's POST goes to the local test server,
// answered as DataPipe's functions/api-data.js answers a stored file: 201 {"message": "Success"}.
(function () {
  const real = window.fetch.bind(window);
  window.fetch = async function (url, opts) {
    if (String(url) === "https://pipe.jspsych.org/api/data/") {
      const r = await real("/datapipe-double", { method: "POST", headers: { "Content-Type": "application/json" },
                                                 body: opts.body });
      if (!r.ok) throw new TypeError("Failed to fetch");
      return new Response(JSON.stringify({ message: "Success" }), { status: 201,
                                                                    headers: { "Content-Type": "application/json" } });
    }
    return real(url, opts);
  };
})();
"""


@pytest.fixture(scope="module")
def chromium_ready():
    ci.require(browser.missing())
    return True


def run_participants(folder, participants, tmp_path, *, before_load=None):
    """Play each participant; the one marked ``reload`` reloads after 3 ratings. Returns what the pages POSTed."""
    server = browser.serve(folder)
    with server as url:
        for pid, reload in participants:
            driver = browser.chromium(tmp_path / "dl" / pid)
            try:
                if before_load:
                    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": before_load})
                query = f"PROLIFIC_PID={pid}&STUDY_ID=st1&SESSION_ID=se-{pid}"
                if reload:
                    browser.play(driver, url + "index.html", participant=pid, responses=respond_for(pid), query=query,
                                 stop_after=3)
                    driver.refresh()
                    browser.play(driver, url + "index.html", participant=pid, responses=respond_for(pid), navigate=False)
                else:
                    browser.play(driver, url + "index.html", participant=pid, responses=respond_for(pid), query=query)
                assert driver.execute_script("return window.NA_SAVED") is True
            finally:
                driver.quit()
    return server.received


def check_and_analyse(data, manifest, pids):
    p = data.participants.set_index("participant")
    assert sorted(p.index) == sorted(pids) and not p["excluded"].any()
    assert (p["n_ratings"] == manifest["n_stimuli"]).all() and (p["study_id"] == "st1").all()
    assert all(p.loc[pid, "session_id"] == f"se-{pid}" for pid in pids)
    r = data.analysed()
    assert len(r) == len(pids) * manifest["n_stimuli"] and not r.duplicated(["participant", "stimulus"]).any()
    assert all((v, a) == respond_for(pid)(s) for pid, s, v, a in
               zip(r["participant"], r["stimulus"], r["valence"].astype(int), r["arousal"].astype(int)))
    # notebook 08's analyses on the imported data
    tests = effects.layer_tests(r, group_by="condition", test="t")
    sizes = effects.layer_effect_sizes(r, group_by="condition").set_index(["axis", "layer"])
    assert set(tests["layer"]) == {"calm", "busy"}
    assert sizes.loc[("valence", "calm"), "mean_diff"] > 20 and sizes.loc[("valence", "busy"), "mean_diff"] < -20


@pytest.mark.browser
def test_jatos_page_results_archive_round_trip(tmp_path, chromium_ready):
    images = make_images(tmp_path)
    exp = experiment.export(images, tmp_path / "exp", display_size=64, block_size=3, preload_chunk=6, seed=1,
                            target="jatos", completion_code="JC1", progress=False)
    man = experiment.load_manifest(exp)
    served = tmp_path / "jatos-double"
    shutil.copytree(exp, served)
    (served / "jatos.js").write_text(JATOS_DOUBLE)
    pids = ["5f00000000000000000000a1", "5f00000000000000000000a2", "5f00000000000000000000a3"]
    received = run_participants(served, [(pids[0], True), (pids[1], False), (pids[2], False)], tmp_path)
    # JATOS's results export: metadata.json + study_result_<id>/comp-result_<id>/data.txt (ResultStreamer)
    data, results = {}, {}
    for msg in received:
        sr = results.setdefault(msg["srid"], {"id": msg["srid"], "studyState": "STARTED", "workerType": "GeneralSingle",
                                              "urlQueryParameters": msg["params"], "componentResults": {}})
        sr["componentResults"].setdefault(msg["crid"], {"id": msg["crid"], "componentState": "RELOADED",
                                                        "path": f"/study_result_{msg['srid']}/comp-result_{msg['crid']}"})
        if msg["kind"] == "append":
            data.setdefault((msg["srid"], msg["crid"]), []).append(msg["text"])
        else:
            sr["studyState"] = "FINISHED"
            sr["componentResults"][msg["crid"]]["componentState"] = "FINISHED"
    assert sum(len(sr["componentResults"]) for sr in results.values()) == 4  # the reload opened a second one
    archive = tmp_path / "jatos_results_20261206.jrzip"
    with zipfile.ZipFile(archive, "w") as z:
        for (srid, crid), texts in data.items():
            z.writestr(f"study_result_{srid}/comp-result_{crid}/data.txt", "".join(texts))
        studies = [dict(sr, componentResults=list(sr["componentResults"].values())) for sr in results.values()]
        z.writestr("metadata.json", json.dumps({"data": [{"studyId": 1, "studyUuid": "u", "studyTitle": "t",
                                                          "studyResults": studies}]}))
    check_and_analyse(importers.from_jatos(archive, manifest=exp), man, pids)
    p = importers.from_jatos(archive, manifest=exp).participants
    assert p["completed"].all()


@pytest.mark.browser
def test_datapipe_page_osf_folder_round_trip(tmp_path, chromium_ready):
    images = make_images(tmp_path)
    exp = experiment.export(images, tmp_path / "exp", display_size=64, block_size=3, preload_chunk=6, seed=1,
                            target="datapipe", datapipe_id="AbCdEf123456", progress=False)
    man = experiment.load_manifest(exp)
    assert (exp / "jspsych" / experiment.PIPE_FILE).exists()
    pids = ["5f00000000000000000000b1", "5f00000000000000000000b2"]
    received = run_participants(exp, [(pids[0], True), (pids[1], False)], tmp_path, before_load=DATAPIPE_DOUBLE)
    osf = tmp_path / "osf"
    osf.mkdir()
    for body in received:  # what DataPipe stores on OSF: one file per name, the first one kept
        assert body["experimentID"] == "AbCdEf123456"
        if not (osf / body["filename"]).exists():
            (osf / body["filename"]).write_text(body["data"])
    assert all(f.name.startswith("na-ratings_5f") and "_part-" in f.name for f in osf.iterdir())
    assert len(list(osf.iterdir())) >= 2 * len(pids)  # more than one file each: the data went out block by block
    check_and_analyse(importers.from_datapipe(osf, manifest=exp), man, pids)
