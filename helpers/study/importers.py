"""Reading a rating experiment's data back: jsPsych files of :func:`helpers.study.experiment.export`, PsychoPy CSVs.

:func:`from_jsPsych` and :func:`from_psychopy` read the files participants' browsers (or PsychoPy) saved,
check them against the export's manifest, flag participants by the stated :class:`ExclusionRule`
(incomplete, failed attention checks, unmoved sliders) and return a :class:`StudyData`: the validated
ratings in the general format of :mod:`helpers.study.ratings` and one row per participant.
"""
from __future__ import annotations

import functools
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from helpers.study import experiment, online
from helpers.study.ratings import ATTITUDE_LEVELS, AXES, PARTICIPANT_COLUMNS, RatingsFormatError, validate

JSPSYCH_COLUMNS = ("trial_type", "task", "participant", "experiment_format", "experiment_version")
"""Columns every data file of a :func:`helpers.study.experiment.export` carries."""
RECRUITMENT_COLUMNS = ("study_id", "session_id", "completion_code", "completed")
"""Copied into the participants table when the data carry them: the recruiter's study and session ids
(Prolific's ``STUDY_ID`` and ``SESSION_ID`` URL parameters), the completion code shown at the end and whether
the session reached the end (the ``end`` row experiment.js records)."""
JSPSYCH_RATING_COLUMNS = ("stimulus", "valence", "arousal", "valence_moved", "arousal_moved")
PSYCHOPY_COLUMNS = {"participant": "participant", "stimulus": "image",
                    "valence": "valence_slider.response", "arousal": "arousal_slider.response"}
"""Default PsychoPy column mapping (ours -> PsychoPy's). PsychoPy Builder saves a Slider component
named ``X`` as ``X.response`` and ``X.rt`` (psychopy/experiment/components/slider: ``addData('%s.response'
...)``) and the participant field of the experiment-info dialog as ``participant``; ``image`` is
the conditions-file column that names each trial's image (whatever you called it). Rows without
either slider response (instruction routines) are not trials."""


@dataclass
class ExclusionRule:
    """When a participant is excluded (each criterion alone is enough).

    - ``incomplete``: fewer rating trials than stimuli (the manifest's count; without a manifest,
      the most any participant has), when ``exclude_incomplete``;
    - ``attention``: more than ``max_failed_checks`` attention checks failed, a check failing
      when either slider ends more than ``tolerance`` points from the asked value;
    - ``unmoved``: at least ``max_unmoved_fraction`` of the rating trials have a slider that was
      never moved (1.0: only participants who never moved a slider at all).

    Used in: notebook 08 through :func:`helpers.study.importers.from_jsPsych`.
    """

    exclude_incomplete: bool = True
    max_failed_checks: int = 0
    tolerance: float = 10.0
    max_unmoved_fraction: float = 0.5

    def describe(self) -> str:
        return (f"excluded when {'any rating trial is missing, ' if self.exclude_incomplete else ''}"
                f"more than {self.max_failed_checks} attention check(s) failed (tolerance {self.tolerance:g} points), "
                f"or a slider was left unmoved on at least {self.max_unmoved_fraction:.0%} of the rating trials")


@dataclass
class StudyData:
    """Imported experiment data: validated ratings (all participants), participants with flags.

    ``participants`` columns: participant, the question answers (attitude, self_esteem, ...),
    n_ratings, n_expected, n_unmoved, n_checks, n_checks_failed, incomplete, failed_attention,
    unmoved, excluded, reason, experiment_version, source. :meth:`analysed` gives the ratings of
    the included participants joined with their answers, ready for :mod:`helpers.study.stats`.

    Used in: notebook 08 through :func:`helpers.study.importers.from_jsPsych`.
    """

    ratings: object
    participants: object
    rule: ExclusionRule
    warnings: list = field(default_factory=list)

    def analysed(self, *, exclude: bool = True):
        """Ratings of included participants (all with ``exclude=False``) joined with their answers."""
        people = self.participants
        if exclude:
            people = people[~people["excluded"]]
        answers = [c for c in people.columns if c in PARTICIPANT_COLUMNS or c in self.ratings.attrs.get("questions", ())]
        out = self.ratings[self.ratings["participant"].isin(people["participant"])]
        out = out.merge(people[answers], on="participant", how="left", validate="many_to_one").reset_index(drop=True)
        out.attrs.update(self.ratings.attrs)
        return out


def _as_bool(v) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes")
    try:
        return bool(v) and not (isinstance(v, float) and math.isnan(v))
    except (TypeError, ValueError):
        return False


def _read_jspsych(path):
    """(DataFrame of trials, csv?) from a jsPsych CSV or JSON file; ValueError naming the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"jsPsych data file not found: {path}")
    if path.suffix.lower() == ".csv":
        try:
            return pd.read_csv(path, dtype=object, keep_default_na=True), True
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise RatingsFormatError(str(path), [f"not a readable CSV ({exc})"]) from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RatingsFormatError(str(path), [f"not valid JSON ({exc})"]) from None
        if isinstance(data, dict) and "trials" in data:  # the POSTed form {participant, csv, trials}
            data = data["trials"]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise RatingsFormatError(str(path), ["expected a JSON array of trial objects (jsPsych data.json())"])
        return pd.DataFrame(data), False
    raise ValueError(f"{path}: unsupported suffix {path.suffix!r}; expected a jsPsych .csv or .json file")


def _collect(files):
    if isinstance(files, (str, Path)):
        p = Path(files)
        files = sorted(q for q in p.iterdir() if q.suffix.lower() in (".csv", ".json")) if p.is_dir() else [p]
    files = [Path(f) for f in files]
    if not files:
        raise ValueError("from_jsPsych: no data files given")
    # one participant's CSV and JSON hold the same trials: keep one of each stem (CSV first)
    seen, out = set(), []
    for f in sorted(files, key=lambda f: (f.with_suffix(""), f.suffix.lower() != ".csv")):
        if f.with_suffix("") in seen:
            continue
        seen.add(f.with_suffix(""))
        out.append(f)
    return out


def from_jsPsych(files, *, manifest=None, rule: ExclusionRule | None = None, on_error: str = "raise",
                 allow_mixed_versions: bool = False) -> StudyData:
    """Read the data of an experiment exported by :func:`helpers.study.experiment.export`.

    Args:
        files: data files (the CSV or JSON a browser downloaded, or the JSON POSTed to the
            export's ``post_url``), or a folder of them. When a participant's CSV and JSON are
            both there, the CSV is read.
        manifest: the export's ``manifest.json`` (or its folder). With it, stimulus ids are
            checked against the exported images, its descriptive columns (layer, seed, ...) are
            joined onto the ratings, the version must match and incompleteness is judged
            against the number of exported images.
        rule: the :class:`ExclusionRule` (default: the stated defaults).
        on_error: "raise" (a :class:`RatingsFormatError` listing every problem of every file;
            nothing is returned) or "skip" (each bad file or row is left out with a warning
            naming it; the rest is imported).
        allow_mixed_versions: accept files from different experiment versions (a warning).

    Returns:
        :class:`StudyData`. Duplicated trials (the same participant rating the same stimulus
        twice, e.g. a reloaded page) keep the first rating, with a warning naming file and rows.

    Raises:
        RatingsFormatError: a file that is not an export of this experiment (naming what is
            missing), unknown stimulus ids, sliders outside 0-100, mixed versions; rows as
            "line N" of a CSV or "trial N" of a JSON file.

    Used in: notebook 08 (key-numbers.json, study-effect-sizes.png, study/correction-sensitivity.csv,
        study/effect-sizes.csv, 4 more outputs).
    """
    return _import([(path, functools.partial(_read_jspsych, path)) for path in _collect(files)], manifest=manifest,
                   rule=rule, on_error=on_error, allow_mixed_versions=allow_mixed_versions, caller="from_jsPsych")


def from_trials(sources, *, manifest=None, rule: ExclusionRule | None = None, on_error: str = "raise",
                allow_mixed_versions: bool = False, caller: str = "from_trials") -> StudyData:
    """Import trials already in memory: ``{source name: list of jsPsych trial dicts}`` (one entry per session).

    What :func:`from_jsPsych` does with files, for trials that came another way: the collection server's
    database (:func:`helpers.study.server.load_trials`), a JATOS results archive (:func:`from_jatos`),
    DataPipe files (:func:`from_datapipe`). Rows sent twice with the same ``trial_key`` count once.

    Used in: notebook 08 through :func:`helpers.study.server.export_data`.
    """
    items = []
    for name, rows in sources.items():
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise RatingsFormatError(str(name), ["expected a list of trial objects (jsPsych data)"])
        items.append((name, functools.partial(lambda r: (pd.DataFrame(r), False), rows)))
    return _import(items, manifest=manifest, rule=rule, on_error=on_error, allow_mixed_versions=allow_mixed_versions,
                   caller=caller)


def from_jatos(path, *, manifest=None, rule: ExclusionRule | None = None, on_error: str = "raise") -> StudyData:
    """Read JATOS's results export of a study exported with ``target="jatos"``.

    Args:
        path: the results archive JATOS exports (``.jrzip``/``.zip``: ``metadata.json`` and
            ``study_result_<id>/comp-result_<id>/data.txt``), the folder it unpacks to, or a plain-text data
            export. Each ``data.txt`` holds one JSON object per trial and line (what the page appended with
            ``jatos.appendResultData``); a reload adds a second component result to the same study result, and
            a trial appended twice counts once (:func:`helpers.study.online.read_jatos_results`).
        manifest, rule, on_error: as :func:`from_jsPsych`.

    Used in: notebook 08 (SOURCE="jatos").
    """
    return from_trials(online.read_jatos_results(path), manifest=manifest, rule=rule, on_error=on_error,
                       caller="from_jatos")


def from_datapipe(folder, *, manifest=None, rule: ExclusionRule | None = None, on_error: str = "raise") -> StudyData:
    """Read the files DataPipe stored on OSF for a study exported with ``target="datapipe"``.

    Args:
        folder: the OSF component's files, downloaded into one folder: one JSON array of trials per
            block and participant (``<experiment_id>_<participant>_part-NNN.json``); CSV files are read too.
            A participant's files are joined, and a trial stored twice counts once.
        manifest, rule, on_error: as :func:`from_jsPsych`.

    Used in: notebook 08 (SOURCE="datapipe").
    """
    by_participant = {}
    for name, rows in online.read_datapipe_folder(folder).items():
        for r in rows:
            by_participant.setdefault(str(r.get("participant", name)), []).append(r)
    sources = {f"{folder}:{pid}": rows for pid, rows in by_participant.items()}
    return from_trials(sources, manifest=manifest, rule=rule, on_error=on_error, caller="from_datapipe")


def _import(sources, *, manifest, rule, on_error, allow_mixed_versions, caller) -> StudyData:
    """The body of every jsPsych-data importer: ``sources`` = [(name, read() -> (DataFrame, is_csv))]."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    rule = rule or ExclusionRule()
    man = experiment.load_manifest(manifest) if manifest is not None else None
    known = None if man is None else {s["stimulus"]: s for s in man["stimuli"]}
    questions = [q["name"] for q in man["settings"]["questions"]] if man else []
    problems, notes, frames, versions = [], [], [], {}

    def where(i, csv):
        return f"line {i + 2}" if csv else f"trial {i}"

    for path, read in sources:
        try:
            df, csv = read()
        except RatingsFormatError as exc:
            problems += [f"{path}: {p}" for p in exc.problems]
            continue
        if "trial_key" in df.columns:  # the same trial sent twice (a retry after a lost answer) is one trial
            df = df[~(df["trial_key"].notna() & df.duplicated(["participant", "trial_key"], keep="first"))]
        missing = [c for c in JSPSYCH_COLUMNS if c not in df.columns]
        if not missing and not (df["experiment_format"].astype(str) == experiment.FORMAT).all():
            bad = sorted(set(df["experiment_format"].astype(str)) - {experiment.FORMAT})
            problems.append(f"{path}: experiment_format {bad}, expected {experiment.FORMAT!r}: not data of this experiment")
            continue
        rating_rows = df["task"].isin(["rating", "attention_check"]) if "task" in df.columns else pd.Series(False, df.index)
        missing += [c for c in JSPSYCH_RATING_COLUMNS if c not in df.columns] if rating_rows.any() or not missing else []
        if missing:
            problems.append(f"{path}: not a data file of a helpers.study.experiment export: missing columns {missing} "
                            f"(expected {', '.join(JSPSYCH_COLUMNS + JSPSYCH_RATING_COLUMNS)})")
            continue
        file_problems = []
        for v in df["experiment_version"].dropna().astype(str).unique():
            versions.setdefault(v, []).append(str(path))
        trials = df[rating_rows].copy()
        trials["_row"] = [where(i, csv) for i in trials.index]
        trials["_file"] = str(path)
        for axis in AXES:
            x = pd.to_numeric(trials[axis], errors="coerce")
            bad = trials.index[~x.between(0, 100)]
            file_problems += [f"{path}, {where(i, csv)}: {axis} = {trials.at[i, axis]!r}; expected a slider value 0-100"
                              for i in bad]
            trials[axis] = x
        if known is not None:
            unknown = trials.index[~trials["stimulus"].astype(str).isin(known)]
            file_problems += [f"{path}, {where(i, csv)}: unknown stimulus {trials.at[i, 'stimulus']!r}; expected an id "
                              f"listed in the manifest" for i in unknown]
        if file_problems:
            problems += file_problems
            if on_error == "skip":
                bad_rows = {p.split(", ", 1)[1].split(":")[0] for p in file_problems}
                trials = trials[~trials["_row"].isin(bad_rows)]
            else:
                continue
        answers = {}
        if "question" in df.columns:
            for _, r in df[df["task"] == "question"].iterrows():
                name = str(r["question"])
                value = r.get(name, r.get("answer"))
                answers[name] = value
                if name not in questions:
                    questions.append(name)
        trials["_answers"] = [answers] * len(trials)
        recruitment = {c: df[c].dropna().iloc[-1] for c in RECRUITMENT_COLUMNS if c in df.columns and df[c].notna().any()}
        trials["_recruitment"] = [recruitment] * len(trials)
        frames.append(trials)

    if man is not None:
        other = sorted(set(versions) - {man["experiment_version"]})
        for v in other:
            problems.append(f"{', '.join(versions[v])}: experiment_version {v!r} differs from the manifest's "
                            f"{man['experiment_version']!r} (data of another export)")
    elif len(versions) > 1:
        text = "mixed experiment versions: " + "; ".join(f"{v} in {', '.join(f)}" for v, f in versions.items())
        if allow_mixed_versions:
            notes.append(text)
        else:
            problems.append(text + " (pass allow_mixed_versions=True to combine them)")
    if problems and on_error == "raise":
        raise RatingsFormatError(caller, problems)
    for p in problems:
        warnings.warn(f"{caller}: {p} (left out)", stacklevel=2)
    for n in notes:
        warnings.warn(f"{caller}: {n}", stacklevel=2)
    if not frames:
        raise RatingsFormatError(caller, problems or ["no rating trials in the given files"])

    trials = pd.concat(frames, ignore_index=True)
    trials["participant"] = trials["participant"].astype(str)
    for c in ("valence_moved", "arousal_moved", "attention_check"):
        trials[c] = trials[c].map(_as_bool) if c in trials else False
    ratings_rows = trials[trials["task"] == "rating"].copy()
    dup = ratings_rows.duplicated(["participant", "stimulus"], keep="first")
    for (pid, stim), g in ratings_rows[ratings_rows.duplicated(["participant", "stimulus"], keep=False)].groupby(
            ["participant", "stimulus"]):
        text = (f"duplicated trial: participant {pid!r} rated {stim!r} {len(g)} times ({'; '.join(g['_file'] + ' ' + g['_row'])});"
                " the first is kept")
        notes.append(text)
        warnings.warn(f"{caller}: {text}", stacklevel=2)
    ratings_rows = ratings_rows[~dup]
    keep = ["participant", "stimulus", "arousal", "valence", "valence_moved", "arousal_moved", "rt", "block", "position",
            "experiment_version"]
    out = ratings_rows[[c for c in keep if c in ratings_rows.columns]].copy()
    for c in ("rt", "block", "position"):
        if c in out:
            out[c] = pd.to_numeric(out[c], errors="coerce")
    if known is not None:
        desc = pd.DataFrame([{k: v for k, v in s.items() if k not in ("file", "source_sha256", "sha256", "source_width",
                                                                         "source_height", "width", "height")}
                             for s in man["stimuli"]])
        if desc.shape[1] > 1:
            out = out.merge(desc, on="stimulus", how="left", validate="many_to_one")
    out = validate(out.reset_index(drop=True), source=caller)
    out.attrs.update(simulated=False, source=", ".join(sorted(set(trials["_file"]))), questions=tuple(questions),
                     exclusion_rule=rule.describe())

    n_expected = len(known) if known is not None else int(out.groupby("participant").size().max())
    rows = []
    for pid, g in trials.groupby("participant", sort=False):
        r = g[g["task"] == "rating"].drop_duplicates("stimulus")
        c = g[g["task"] == "attention_check"]
        failed = 0
        for _, t in c.iterrows():
            ok = (abs(float(t["valence"]) - float(t["expected_valence"])) <= rule.tolerance
                  and abs(float(t["arousal"]) - float(t["expected_arousal"])) <= rule.tolerance)
            failed += not ok
        unmoved = int((~(r["valence_moved"] & r["arousal_moved"])).sum())
        row = {"participant": pid, **g["_answers"].iloc[0], "n_ratings": len(r), "n_expected": n_expected,
               "n_unmoved": unmoved, "n_checks": len(c), "n_checks_failed": failed,
               "experiment_version": str(g["experiment_version"].iloc[0]), "source": str(g["_file"].iloc[0]),
               **g["_recruitment"].iloc[0]}
        row["incomplete"] = bool(rule.exclude_incomplete and len(r) < n_expected)
        row["failed_attention"] = failed > rule.max_failed_checks
        row["unmoved"] = bool(len(r) and unmoved / len(r) >= rule.max_unmoved_fraction)
        reasons = [k for k in ("incomplete", "failed_attention", "unmoved") if row[k]]
        row["excluded"], row["reason"] = bool(reasons), ", ".join(reasons)
        rows.append(row)
    people = pd.DataFrame(rows)
    for q in ("self_esteem",):
        if q in people:
            people[q] = pd.to_numeric(people[q], errors="coerce").astype("Int64")
    if "attitude" in people:
        people["attitude"] = pd.Categorical(people["attitude"], categories=ATTITUDE_LEVELS, ordered=True)
    return StudyData(ratings=out, participants=people, rule=rule, warnings=notes)


def from_psychopy(files, *, columns=None, manifest=None, rule: ExclusionRule | None = None,
                  participant_columns=("attitude", "self_esteem"), on_error: str = "raise") -> StudyData:
    """Read PsychoPy Builder CSV files (one per session) with a documented column mapping.

    Args:
        files: PsychoPy ``.csv`` data files or a folder of them.
        columns: ``{ours: PsychoPy column}`` for participant, stimulus, valence, arousal; the
            default is :data:`PSYCHOPY_COLUMNS` (sliders named ``valence_slider`` and
            ``arousal_slider``, the image column ``image``). Slider values are rescaled to 0-100
            when the slider ran 1..9 (SAM) or 0..1 (the mapping's ``scale`` key, a (lo, hi)
            pair, says so; default (0, 100)).
        manifest: as :func:`from_jsPsych` (ids are the ``image`` paths as written in the
            conditions file).
        participant_columns: columns of the PsychoPy file copied into the participants table
            (from the experiment-info dialog), when present.

    A row whose sliders are empty is a trial left unanswered (counted as unmoved); PsychoPy has
    no attention checks here.

    Used in: notebook 08 (key-numbers.json, study-effect-sizes.png, study/correction-sensitivity.csv,
        study/effect-sizes.csv, 4 more outputs).
    """
    rule = rule or ExclusionRule()
    cols = {**PSYCHOPY_COLUMNS, **(columns or {})}
    lo, hi = cols.pop("scale", (0, 100))
    man = experiment.load_manifest(manifest) if manifest is not None else None
    known = None if man is None else {s["stimulus"] for s in man["stimuli"]}
    if isinstance(files, (str, Path)) and Path(files).is_dir():
        files = sorted(Path(files).glob("*.csv"))
    files = [Path(f) for f in ([files] if isinstance(files, (str, Path)) else files)]
    problems, frames, people = [], [], []
    for path in files:
        try:
            df = pd.read_csv(path, dtype=object)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: not a readable CSV ({exc})")
            continue
        missing = [f"{ours} (PsychoPy column {theirs!r})" for ours, theirs in cols.items() if theirs not in df.columns]
        if missing:
            problems.append(f"{path}: not a PsychoPy data file with the expected columns: missing {missing}; "
                            f"pass columns={{...}} to map yours (see ratings.PSYCHOPY_COLUMNS)")
            continue
        d = df.rename(columns={v: k for k, v in cols.items()})
        stim_rows = d["stimulus"].notna()
        d = d[stim_rows].copy()
        d["_row"] = [f"line {i + 2}" for i in d.index]
        answered = d["valence"].notna() & d["arousal"].notna()
        for axis in AXES:
            x = (pd.to_numeric(d[axis], errors="coerce") - lo) / (hi - lo) * 100
            bad = d.index[answered & ~x.between(0, 100)]
            problems += [f"{path}, line {i + 2}: {cols[axis]} = {d.at[i, axis]!r}; expected {lo}..{hi}" for i in bad]
            d[axis] = x
        if known is not None:
            problems += [f"{path}, line {i + 2}: unknown stimulus {d.at[i, 'stimulus']!r}; expected an id listed in the "
                         f"manifest" for i in d.index[~d["stimulus"].astype(str).isin(known)]]
        d["participant"] = d["participant"].astype(str)
        d["answered"] = answered
        frames.append(d.assign(_file=str(path)))
        for pid, g in d.groupby("participant"):
            row = {"participant": pid, **{c: df[c].dropna().iloc[0] for c in participant_columns
                                          if c in df.columns and df[c].notna().any()}}
            row.update(n_ratings=int(g["answered"].sum()), n_unmoved=int((~g["answered"]).sum()), n_checks=0,
                       n_checks_failed=0, source=str(path))
            people.append(row)
    if problems and on_error == "raise":
        raise RatingsFormatError("from_psychopy", problems)
    for p in problems:
        warnings.warn(f"from_psychopy: {p} (left out)", stacklevel=2)
    if not frames:
        raise RatingsFormatError("from_psychopy", problems or ["no trials"])
    d = pd.concat(frames, ignore_index=True)
    d = d[d["answered"] & d["valence"].between(0, 100) & d["arousal"].between(0, 100)]
    if known is not None:
        d = d[d["stimulus"].astype(str).isin(known)]
    dup = d.duplicated(["participant", "stimulus"], keep="first")
    if dup.any():
        warnings.warn(f"from_psychopy: {int(dup.sum())} duplicated trial(s) "
                      f"({'; '.join(d.loc[dup, '_file'] + ' ' + d.loc[dup, '_row'])}); the first is kept", stacklevel=2)
    d = d[~dup]
    out = validate(d[["participant", "stimulus", "arousal", "valence"]].reset_index(drop=True), source="from_psychopy")
    out.attrs.update(simulated=False, source=", ".join(map(str, files)), questions=tuple(participant_columns),
                     exclusion_rule=rule.describe())
    pp = pd.DataFrame(people).groupby("participant", as_index=False).first()
    n_expected = len(known) if known is not None else int(pp["n_ratings"].max())
    pp["n_expected"] = n_expected
    pp["incomplete"] = rule.exclude_incomplete & (pp["n_ratings"] < n_expected)
    pp["failed_attention"] = False
    total = (pp["n_ratings"] + pp["n_unmoved"]).clip(lower=1)
    pp["unmoved"] = pp["n_unmoved"] / total >= rule.max_unmoved_fraction
    pp["excluded"] = pp["incomplete"] | pp["unmoved"]
    pp["reason"] = [", ".join(k for k in ("incomplete", "unmoved") if r[k]) for _, r in pp.iterrows()]
    if "self_esteem" in pp:
        pp["self_esteem"] = pd.to_numeric(pp["self_esteem"], errors="coerce").astype("Int64")
    return StudyData(ratings=out, participants=pp, rule=rule)
