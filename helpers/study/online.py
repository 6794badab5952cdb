"""Online collection: a JATOS study archive of an export, and reading JATOS's and DataPipe's stored data back.

**JATOS study archive** (``.jzip``, :func:`write_jatos_archive`), in the layout JATOS itself writes and reads
(JATOS 3.10.x, github.com/JATOS/JATOS: ``ImportExportService.createStudyExportZipFile`` zips the study assets
folder and one ``.jas`` file; ``JsonUtils.studyAsJsonForIO`` writes the ``.jas`` as ``{"version": "3", "data":
{study}}`` with ``Study.SERIAL_VERSION = 3``; the study's, components' and batch's ``JsonForIO`` fields are
those of ``models/common/Study.java``, ``Component.java`` and ``Batch.java``; ``conf/application.conf``:
``studyArchive.suffix = "jzip"``). One component, ``index.html``, marked ``reloadable``: JATOS then lets a
participant reload it, closing the old component result as ``RELOADED`` and opening a new one
(``PublixUtils.startComponent``), and the page resumes where it was.

**JATOS results** (:func:`read_jatos_results`): the results archive JATOS exports (``ResultStreamer``):
``metadata.json`` (``{"data": [{"studyId", "studyUuid", "studyTitle", "studyResults": [{"id", "studyState",
"urlQueryParameters", "workerId", ..., "componentResults": [{"id", "componentState", "path", ...}]}]}]}``) and
``study_result_<id>/comp-result_<id>/data.txt`` per component result (``IOUtils.getResultsPathForZip``). A
``data.txt`` is not one JSON document: it is whatever ``jatos.appendResultData`` appended, here one JSON object
per trial and line, and a reload makes a second component result of the same study result. Also read: the
folder the archive unpacks to, and the older plain-text export (all results' data concatenated).

**DataPipe** (:func:`read_datapipe_folder`): the files DataPipe (pipe.jspsych.org) put in the OSF component,
downloaded into one folder. The page saves one JSON file per block, ``<experiment_id>_<participant>_part-NNN.json``
(a JSON array of trials) through ``jsPsychPipe.saveData``; DataPipe refuses a file name it already stored
(``OSF_FILE_EXISTS``, functions/api-data.js of github.com/jspsych/datapipe), so a resent block is stored once.
"""
from __future__ import annotations

import io as _io
import json
import re
import uuid
import zipfile
from pathlib import Path

JATOS_STUDY_SERIAL_VERSION = "3"
"""``Study.SERIAL_VERSION`` of JATOS 3.x, written as a string by ``JsonUtils.studyAsJsonForIO``."""
JATOS_WORKER_TYPES = ("Jatos", "PersonalSingle", "PersonalMultiple", "GeneralSingle", "GeneralMultiple")
"""Worker types allowed in the default batch (the ``WORKER_TYPE`` constants of JATOS's worker classes; General
Single/Multiple are the links given to Prolific)."""


def write_jatos_archive(folder, archive=None, *, title: str, description: str = "", end_redirect_url: str | None = None,
                        study_uuid: str | None = None) -> Path:
    """Pack an exported experiment folder as a JATOS study archive (``<folder>.jzip`` by default).

    Used in: notebook 08 through :func:`helpers.study.experiment.export` (target="jatos").
    """
    folder = Path(folder)
    archive = Path(archive) if archive else folder.with_suffix(".jzip")
    study_uuid = study_uuid or str(uuid.uuid4())
    dir_name = re.sub(r"[^A-Za-z0-9_-]", "_", folder.name)
    ns = uuid.UUID(study_uuid)
    study = {
        "uuid": study_uuid, "title": title, "description": description, "groupStudy": False, "linearStudy": False,
        "allowPreview": False, "dirName": dir_name, "comments": "Exported by helpers.study.experiment.export "
        "(Neural Aesthetics Notebooks). Each trial is appended to the result data as one JSON line.",
        "studyInput": None, "endRedirectUrl": end_redirect_url, "studyEntryMsg": None,
        "componentList": [{"uuid": str(uuid.uuid5(ns, "component")), "title": "Ratings", "htmlFilePath": "index.html",
                           "reloadable": True, "active": True, "comments": "", "componentInput": None}],
        "batchList": [{"uuid": str(uuid.uuid5(ns, "batch")), "title": "Default", "active": True, "maxActiveMembers": None,
                       "maxTotalMembers": None, "maxTotalWorkers": None, "allowedWorkerTypes": list(JATOS_WORKER_TYPES),
                       "comments": None, "batchInput": None}],
    }
    tmp = archive.with_name(archive.name + ".partial")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, f"{dir_name}/{p.relative_to(folder).as_posix()}")
        z.writestr(f"{dir_name}.jas", json.dumps({"version": JATOS_STUDY_SERIAL_VERSION, "data": study}))
    tmp.replace(archive)
    return archive


def json_pieces(text: str, where: str) -> list:
    """Every JSON value in ``text``, one after another (JSON lines, concatenated documents, pretty-printed ones).

    Raises ValueError naming ``where`` and the character position of anything that is not JSON.

    Used in: notebook 08 through :func:`helpers.study.importers.from_jatos`.
    """
    dec, out, i, n = json.JSONDecoder(), [], 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n:
            return out
        try:
            value, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not JSON at character {i} ({exc.msg}): {text[i:i + 60]!r}") from None
        out.append(value)


def _trials_of(pieces, where):
    rows = []
    for k, v in enumerate(pieces):
        items = v if isinstance(v, list) else [v]
        for r in items:
            if not isinstance(r, dict):
                raise ValueError(f"{where}: piece {k + 1} is {type(r).__name__}, expected a trial object")
            rows.append(r)
    return rows


def read_jatos_results(path) -> dict:
    """``{"<archive>:study_result_<id>": [trial, ...]}`` from a JATOS results archive, its unpacked folder or a text export.

    The study result's state (``FINISHED`` -> ``completed``) and URL query parameters (Prolific's ``STUDY_ID``,
    ``SESSION_ID``) from ``metadata.json`` are added to its rows where the rows lack them.

    Used in: notebook 08 through :func:`helpers.study.importers.from_jatos`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"JATOS results not found: {path}")
    files = {}  # name inside the archive -> text
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file():
                files[p.relative_to(path).as_posix()] = p.read_text(encoding="utf-8")
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for name in sorted(z.namelist()):
                if not name.endswith("/"):
                    files[name] = z.read(name).decode("utf-8")
    else:  # the plain-text export: every result's data, one after another
        return {f"{path}": _trials_of(json_pieces(path.read_text(encoding="utf-8"), str(path)), str(path))}
    meta = {}
    if "metadata.json" in files:
        for study in json.loads(files["metadata.json"]).get("data", []):
            for sr in study.get("studyResults", []):
                meta[str(sr["id"])] = sr
    out = {}
    pattern = re.compile(r"(?:^|/)study_result_(\d+)/comp-result_(\d+)/data\.txt$")
    for name in sorted(files, key=lambda n: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", n)]):
        m = pattern.search(name)
        if not m:
            continue
        where = f"{path}:{name}"
        out.setdefault(f"{path}:study_result_{m.group(1)}", []).extend(_trials_of(json_pieces(files[name], where), where))
    if not out:
        raise ValueError(f"{path}: no study_result_<id>/comp-result_<id>/data.txt inside; expected a JATOS results "
                         "export (Results -> Export -> Data / All)")
    for key, rows in out.items():
        sr = meta.get(key.rsplit("_", 1)[1], {})
        params = sr.get("urlQueryParameters") or {}
        for r in rows:
            if "studyState" in sr:
                r.setdefault("completed", sr["studyState"] == "FINISHED")
            for col, param in (("study_id", "STUDY_ID"), ("session_id", "SESSION_ID")):
                if r.get(col) is None and params.get(param):
                    r[col] = params[param]
    return out


def read_datapipe_folder(folder) -> dict:
    """``{file: [trial, ...]}`` from the files DataPipe stored on OSF (JSON arrays; CSV files are read too).

    Used in: notebook 08 through :func:`helpers.study.importers.from_datapipe`.
    """
    import pandas as pd

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"DataPipe folder not found: {folder} (download the OSF component's files into it)")
    out = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() == ".json":
            out[str(p)] = _trials_of(json_pieces(p.read_text(encoding="utf-8"), str(p)), str(p))
        elif p.suffix.lower() == ".csv":
            out[str(p)] = pd.read_csv(_io.StringIO(p.read_text(encoding="utf-8")), dtype=object).to_dict("records")
    if not out:
        raise ValueError(f"{folder}: no .json or .csv file; expected the files DataPipe saved to OSF")
    return out
