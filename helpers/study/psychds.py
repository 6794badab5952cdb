"""Imported study data written as a Psych-DS dataset: CSV data files plus a ``dataset_description.json``.

Layout and fields from the Psych-DS schema (github.com/psych-ds/psych-DS, ``schema_model/versions/1.4.3/rules/
files/common/core.yaml``: ``dataset_description.json`` and a ``data/`` folder are required, a README recommended;
``.../1.4.2/rules/files/tabular_data/data.yaml``: data files match ``([a-z]+-[a-zA-Z0-9]+)(_[a-z]+-[a-zA-Z0-9]+)*
_data\\.csv``; ``.../1.3.6/rules/compiled_metadata.yaml``: ``name``, ``description`` and ``variableMeasured`` are
required, JSON-LD in the ``http://schema.org/`` namespace, and the metadata must contain every column of every data
file). ``variableMeasured`` entries are schema.org ``PropertyValue`` objects with ``name``, ``description`` and,
where they apply, ``unitText``, ``minValue``/``maxValue`` and ``levels`` (as psych-ds/example-datasets'
``template-dataset/dataset_description.json``), the way jsPsych's metadata module describes its columns.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from helpers import io

FILE_REGEX = re.compile(r"([a-z]+-[a-zA-Z0-9]+)(_[a-z]+-[a-zA-Z0-9]+)*_data\.csv")
"""Psych-DS data file names (schema 1.4.2, rules/files/tabular_data/data.yaml, ``fileRegex``)."""
REQUIRED = ("name", "description", "variableMeasured")
"""Required fields of the compiled metadata (schema 1.3.6, rules/compiled_metadata.yaml)."""

COLUMNS = {
    "participant": ("Participant id: the recruiter's (Prolific's PROLIFIC_PID) or the ?participant= URL parameter, "
                    "or a random id the page drew", None),
    "stimulus": ("Image id: its path relative to the exported stimulus folder", None),
    "arousal": ("Arousal slider at the end of the trial (0 calm .. 100 excited; starts at 50)", dict(unitText="slider points", minValue=0, maxValue=100)),
    "valence": ("Valence slider at the end of the trial (0 unpleasant .. 100 pleasant; starts at 50)", dict(unitText="slider points", minValue=0, maxValue=100)),
    "valence_moved": ("Whether the participant moved the valence slider on this trial", None),
    "arousal_moved": ("Whether the participant moved the arousal slider on this trial", None),
    "rt": ("Time from the image's onset to Continue", dict(unitText="ms", minValue=0)),
    "block": ("Block of the trial (0-based; a break screen between blocks)", dict(minValue=0)),
    "position": ("Position of the image in the participant's order (1-based)", dict(minValue=1)),
    "experiment_version": ("Hash of the export's settings and images (helpers.study.experiment.export)", None),
    "layer": ("Network layer the image was synthesised for (descriptive column of the stimulus table)", None),
    "seed": ("Noise seed of the image (descriptive column of the stimulus table)", dict(minValue=0)),
    "network": ("Network of the image (descriptive column of the stimulus table)", None),
    "alpha": ("Perturbation strength of the image (descriptive column of the stimulus table)", None),
    "condition": ("Condition of the image: its first sub-folder (descriptive column of the stimulus table)", None),
    "attitude": ("Self-reported mood before the ratings", dict(levels=["negative", "neutral", "positive"])),
    "self_esteem": ("Single-Item Self-Esteem, 'I have high self-esteem' (1 not very true of me .. 5 very true of me)",
                    dict(minValue=1, maxValue=5)),
    "n_ratings": ("Rating trials stored for the participant", dict(minValue=0)),
    "n_expected": ("Rating trials of a complete session (the number of exported images)", dict(minValue=0)),
    "n_unmoved": ("Rating trials with a slider left unmoved", dict(minValue=0)),
    "n_checks": ("Attention checks answered", dict(minValue=0)),
    "n_checks_failed": ("Attention checks failed (a slider more than the tolerance from the asked value)", dict(minValue=0)),
    "incomplete": ("Fewer rating trials than images (exclusion criterion)", None),
    "failed_attention": ("More attention checks failed than the rule allows (exclusion criterion)", None),
    "unmoved": ("Too many rating trials with an unmoved slider (exclusion criterion)", None),
    "excluded": ("Excluded from the analyses by the stated exclusion rule", None),
    "reason": ("Which exclusion criteria applied (comma-separated; empty when included)", None),
    "source": ("Where the participant's data came from (file, server database or archive)", None),
    "study_id": ("Recruiter's study id (Prolific's STUDY_ID URL parameter)", None),
    "session_id": ("Recruiter's session id (Prolific's SESSION_ID URL parameter)", None),
    "completion_code": ("Completion code shown to the participant at the end", None),
    "completed": ("Whether the session reached the end screen", None),
}
"""Description (and schema.org PropertyValue extras) of every column the importers write."""


def describe_column(name: str, series=None) -> dict:
    """One ``variableMeasured`` entry (a schema.org PropertyValue) for column ``name``.

    Used in: notebook 08 through :func:`helpers.study.psychds.write`.
    """
    text, extra = COLUMNS.get(name, (None, None))
    if text is None:
        text = f"Answer to the participant question {name!r}" if series is not None and series.dtype == object \
            else f"Column {name!r} of the stimulus table (descriptive variable of the export)"
    out = {"@type": "PropertyValue", "name": name, "description": text, **(extra or {})}
    if series is not None and isinstance(series.dtype, pd.CategoricalDtype) and "levels" not in out:
        out["levels"] = [str(c) for c in series.cat.categories]
    return out


def write(data, folder, *, manifest=None, source: str = "", name: str | None = None) -> Path:
    """Write imported data (:class:`helpers.study.importers.StudyData`) as a Psych-DS dataset in ``folder``.

    ``data/study-<id>_type-ratings_data.csv`` (every rating), ``data/study-<id>_type-participants_data.csv``
    (one row per participant, with flags and recruitment ids), ``dataset_description.json`` describing
    every column of both, and ``README.md``. Returns ``folder``.

    Used in: notebook 08 (study/psychds) through :func:`helpers.study.server.export_data`.
    """
    folder = Path(folder)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    exp_id = (manifest or {}).get("experiment_id", "study")
    key = re.sub(r"[^A-Za-z0-9]", "", exp_id) or "study"
    tables = {f"study-{key}_type-ratings_data.csv": data.ratings, f"study-{key}_type-participants_data.csv": data.participants}
    described, seen = [], set()
    for fname, df in tables.items():
        assert FILE_REGEX.fullmatch(fname), fname
        io.save_table(pd.DataFrame(df), folder / "data" / fname)
        for col in df.columns:
            if col not in seen:
                seen.add(col)
                described.append(describe_column(col, df[col]))
    version = (manifest or {}).get("experiment_version")
    meta = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "name": name or f"Ratings of {exp_id}" + (f" (experiment version {version})" if version else ""),
        "description": ("Valence and arousal ratings (two sliders, 0-100) of images, collected with a jsPsych "
                        "experiment exported by helpers.study.experiment.export (Neural Aesthetics Notebooks) and "
                        f"imported by helpers.study.importers. {data.rule.describe().capitalize()}."
                        + (f" Source: {source}." if source else "")),
        "schemaVersion": "Psych-DS 0.1.0",
        "variableMeasured": described,
    }
    if manifest:
        meta["keywords"] = ["valence", "arousal", "image ratings", "jsPsych"]
        meta["identifier"] = f"{exp_id}/{version}"
    io.save_json(meta, folder / "dataset_description.json")
    io.write_bytes(folder / "README.md", (
        f"# {meta['name']}\n\n{meta['description']}\n\nFiles: " + ", ".join(f"data/{f}" for f in tables)
        + ". Every column is described in dataset_description.json (Psych-DS).\n").encode())
    return folder


def check(folder) -> list[str]:
    """Problems of a Psych-DS dataset against the rules cited above (empty when it conforms).

    Used in: notebook 08 (the written dataset is checked).
    """
    folder = Path(folder)
    out = []
    desc = folder / "dataset_description.json"
    if not desc.exists():
        return [f"{desc}: missing (required)"]
    meta = json.loads(desc.read_text())
    out += [f"{desc}: missing required field {k!r}" for k in REQUIRED if k not in meta]
    if "schema.org" not in str(meta.get("@context", "")):
        out.append(f"{desc}: @context must be schema.org")
    names = {v["name"] if isinstance(v, dict) else v for v in meta.get("variableMeasured", [])}
    files = sorted((folder / "data").rglob("*.csv")) if (folder / "data").is_dir() else []
    if not files:
        out.append(f"{folder / 'data'}: no data file")
    for f in files:
        if not FILE_REGEX.fullmatch(f.name):
            out.append(f"{f}: name does not match the Psych-DS data file pattern")
        cols = pd.read_csv(f, nrows=0).columns
        out += [f"{f}: column {c!r} is not in variableMeasured" for c in cols if c not in names]
    return out
