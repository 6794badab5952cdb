"""Participants' arousal/valence ratings: the file format, its validation, loading and saving.

File format (CSV or parquet), one row per (participant, image):

==============  ========  ===================================================================
column          type      meaning
==============  ========  ===================================================================
participant     str       participant id (any non-empty text or integer)
layer           str       InceptionV1 layer the image was dreamed for, one of ``helpers.nets.layers.LAYERS``
seed            int >= 0  noise seed of the image (0..4 in the study)
arousal         float     slider value in [0, 100]; 50 = neutral, 100 = most aroused
valence         float     slider value in [0, 100]; 50 = neutral, 100 = most pleasant
==============  ========  ===================================================================

Any stimulus set (own photographs, other layers, networks, perturbations) uses the general form,
one row per (participant, stimulus)::

    participant, stimulus, arousal, valence [, layer, seed, network, alpha, condition, ...]

``stimulus`` is the image's id (its path relative to the stimulus folder, as
:func:`helpers.study.experiment.export` and :func:`helpers.study.importers.from_jsPsych` write it); every other column is an
optional descriptive variable that the analyses can group by (``group_by="condition"``). The
study's (participant, layer, seed) form above is the special case without a ``stimulus``
column; :func:`stimulus_ids` gives such rows the id ``"<layer>/seed<seed>"``.

Participants table (CSV or parquet), one row per participant:

==============  ========  ===================================================================
participant     str       participant id, as in the ratings
attitude        str       one of ``ATTITUDE_LEVELS`` (3 levels, self-reported mood)
self_esteem     int       1..5 (``SELF_ESTEEM_LEVELS``; 5 = highest self-reported self-esteem)
==============  ========  ===================================================================

:func:`load` and :func:`load_participants` validate with pandera and raise
:class:`RatingsFormatError` listing every problem (file, row, column, bad value, what was
expected); nothing is dropped silently. The study's ratings are not public:
:func:`helpers.study.simulate.simulate` makes a clearly labelled synthetic data set from a stated
generative model and returns the planted truth so that the analyses can be checked against it.
"""
from __future__ import annotations

import difflib
import math
import warnings
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from helpers import io
from helpers.nets.layers import LAYERS

RATING_COLUMNS = ("participant", "layer", "seed", "arousal", "valence")


STIMULUS_COLUMNS = ("participant", "stimulus", "arousal", "valence")


DESCRIPTIVE_COLUMNS = ("layer", "seed", "network", "alpha", "condition")
"""Descriptive columns the docs name; any other column of a ratings file is kept as well."""


PARTICIPANT_COLUMNS = ("participant", "attitude", "self_esteem")


ATTITUDE_LEVELS = ("negative", "neutral", "positive")


SELF_ESTEEM_LEVELS = (1, 2, 3, 4, 5)


AXES = ("arousal", "valence")


NEUTRAL = 50.0


MAX_LISTED = 25  # problems listed in one error message


class RatingsFormatError(ValueError):
    """A ratings or participants file breaks the documented format; ``problems`` lists each one.

    ``what`` names the format in the heading ("ratings" or "participants"); ``also`` holds the
    problems of a second file found in the same pass, as ``(source, what, problems)``.

    Used in: notebooks 03 and 04 through :func:`helpers.study.ratings.load`; notebook 08 through
        :func:`helpers.study.importers.from_jsPsych`.
    """

    def __init__(self, source: str, problems: list[str], *, what: str = "ratings", also=()):
        self.source, self.problems, self.what = source, list(problems), what
        self.also = [(s, w, list(p)) for s, w, p in also]
        blocks = [(source, what, self.problems)] if self.problems else []
        text = "\n".join(_block(*b) for b in blocks + [b for b in self.also if b[2]])
        super().__init__(text)


class RatingsScaleWarning(UserWarning):
    """Ratings that look like a small whole-number scale (1-9) where the analyses expect 0-100 sliders.

    Used in: notebooks 03 and 04 through :func:`helpers.study.ratings.load`.
    """


def _block(source: str, what: str, problems: list[str]) -> str:
    shown = problems[:MAX_LISTED]
    more = len(problems) - len(shown)
    text = f"{source}: {len(problems)} problem(s) with the {what} format:\n  - " + "\n  - ".join(shown)
    return text + (f"\n  ... and {more} more" if more else "")


def _did_you_mean(value, choices, *, cutoff: float = 0.8) -> str:
    """``"; did you mean 'x'?"`` for the nearest of ``choices`` (case first, then difflib), or ``""``."""
    text = str(value).strip()
    by_case = [c for c in choices if c.lower() == text.lower()]
    near = by_case or difflib.get_close_matches(text, list(choices), n=1, cutoff=cutoff)
    return f"; did you mean {near[0]!r}?" if near else ""


def _is_number_in(lo: float, hi: float):
    def check(v) -> bool:
        try:
            x = float(v)
        except (TypeError, ValueError):
            return False
        return not isinstance(v, bool) and math.isfinite(x) and lo <= x <= hi
    return check


def _is_nonneg_int(v) -> bool:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return False
    return not isinstance(v, bool) and math.isfinite(x) and x >= 0 and x == int(x)


def _is_id(v) -> bool:
    return str(v).strip() != ""


def _ratings_schema():
    layers = set(LAYERS)
    col = lambda check, expected: pa.Column(checks=pa.Check(check, element_wise=True, error=expected), nullable=False)  # noqa: E731
    return pa.DataFrameSchema(
        {"participant": col(_is_id, "a non-empty participant id"),
         "layer": col(lambda v: v in layers, "one of the 144 layer names in helpers.nets.layers.LAYERS"),
         "seed": col(_is_nonneg_int, "an integer >= 0"),
         "arousal": col(_is_number_in(0, 100), "a number from 0 to 100 (50 = neutral)"),
         "valence": col(_is_number_in(0, 100), "a number from 0 to 100 (50 = neutral)")},
        unique=["participant", "layer", "seed"], report_duplicates="all", strict=False)


def _stimulus_schema(df):
    col = lambda check, expected: pa.Column(checks=pa.Check(check, element_wise=True, error=expected), nullable=False)  # noqa: E731
    cols = {"participant": col(_is_id, "a non-empty participant id"),
            "stimulus": col(_is_id, "a non-empty stimulus id (the image's relative path)"),
            "arousal": col(_is_number_in(0, 100), "a number from 0 to 100 (50 = neutral)"),
            "valence": col(_is_number_in(0, 100), "a number from 0 to 100 (50 = neutral)")}
    if "layer" in df.columns:
        cols["layer"] = col(_is_id, "a non-empty layer name")
    if "seed" in df.columns:
        cols["seed"] = col(_is_nonneg_int, "an integer >= 0")
    return pa.DataFrameSchema(cols, unique=["participant", "stimulus"], report_duplicates="all", strict=False)


def _participants_schema(required=PARTICIPANT_COLUMNS):
    col = lambda check, expected: pa.Column(checks=pa.Check(check, element_wise=True, error=expected), nullable=False)  # noqa: E731
    cols = {"participant": col(_is_id, "a non-empty participant id"),
            "attitude": col(lambda v: v in ATTITUDE_LEVELS, f"one of {', '.join(ATTITUDE_LEVELS)}"),
            "self_esteem": col(lambda v: _is_nonneg_int(v) and int(float(v)) in SELF_ESTEEM_LEVELS, "an integer from 1 to 5")}
    return pa.DataFrameSchema({k: v for k, v in cols.items() if k in required or k == "participant"},
                              unique=["participant"], report_duplicates="all", strict=False)


def _where(idx, csv: bool) -> str:
    """``row N`` counted from 1 over the data rows (``line N+1`` of a CSV, whose line 1 is the heading)."""
    if idx is None or (isinstance(idx, float) and math.isnan(idx)):
        return "column"
    return f"row {int(idx) + 1} (line {int(idx) + 2} of the CSV)" if csv else f"row {int(idx) + 1}"


def _delimiter_problem(df, expected_columns) -> str | None:
    """A sentence when the heading holds ';' or a tab instead of commas (a CSV saved by a ';' locale), else None."""
    if all(c in df.columns for c in expected_columns):
        return None
    for sep, name in ((";", "';'"), ("\t", "a tab")):
        joined = [str(c) for c in df.columns if sep in str(c)]
        if joined:
            found = [c.strip() for c in sep.join(str(c) for c in df.columns).split(sep)]
            return (f"the columns are separated by {name}, not by commas: read with commas the file has "
                    f"{len(df.columns)} column(s) {[str(c) for c in df.columns]}; split at {name} its columns are "
                    f"{', '.join(found)}. Save it as a comma-separated CSV (spreadsheets: \"CSV (comma delimited)\"; "
                    f"decimal points, not commas), or read it with pandas.read_csv(path, sep={sep!r}) and pass the "
                    f"frame to ratings.validate")
    return None


def _problems(df, schema, *, csv: bool, keys: list[str], expected_columns, suggest=None) -> list[str]:
    """Validate ``df`` lazily and turn pandera's failure cases into readable sentences, in file order.

    Missing columns come first, then the rows from the top of the file down (within a row, in column
    order). ``suggest`` maps a column to the names its values are checked against (did-you-mean).
    """
    delimiter = _delimiter_problem(df, expected_columns)
    if delimiter:
        return [delimiter]
    try:
        schema.validate(df, lazy=True)
        return []
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
    found, seen_dup = [], set()  # (row or -1 for the whole file, column position, sentence)
    order = {c: i for i, c in enumerate(df.columns)}
    checks = {name: c.checks[0].error for name, c in schema.columns.items()}
    suggest = suggest or {}
    for row in fc.itertuples(index=False):
        check, column, value, idx = str(row.check), row.column, row.failure_case, row.index
        if check == "column_in_dataframe":
            near = _did_you_mean(value, [str(c) for c in df.columns], cutoff=0.7)
            found.append((-1, len(found), f"missing column {value!r}; expected columns {', '.join(expected_columns)}; "
                          f"found {', '.join(map(str, df.columns))}{near}"))
        elif check == "multiple_fields_uniqueness":
            if idx in seen_dup:
                continue
            dup = df.loc[[idx], keys].iloc[0].tolist()
            rows = df.index[(df[keys].astype(str) == [str(x) for x in dup]).all(axis=1)].tolist()
            seen_dup.update(rows)
            found.append((min(rows), -1, f"{' and '.join(_where(r, csv) for r in rows)}: duplicate {tuple(keys)} = "
                          f"{tuple(dup)}; expected each {'/'.join(keys)} combination once"))
        elif check == "not_nullable":
            found.append((int(idx), order.get(column, 0),
                          f"{_where(idx, csv)}, column {column!r}: empty cell; expected {checks.get(column, 'a value')}"))
        else:
            near = _did_you_mean(value, suggest[column]) if column in suggest else ""
            where = (int(idx), order.get(column, 0)) if idx is not None and not pd.isna(idx) else (-1, len(found))
            found.append((*where, f"{_where(idx, csv)}, column {column!r}: got {value!r}; "
                                  f"expected {checks.get(column, check)}{near}"))
    return [text for *_, text in sorted(found, key=lambda t: t[:2])]


def _scale_warning(df, source: str) -> None:
    """Warn when every rating is a whole number of at most 10: a 1-9 scale read as 0-100 sliders."""
    values = df[list(AXES)].to_numpy(dtype=float).ravel()
    if values.size and values.max() <= 10 and (values == values.round()).all():
        warnings.warn(f"{source}: every arousal and valence value is a whole number from {values.min():g} to "
                      f"{values.max():g}: this looks like a 1-9 rating scale (e.g. the Self-Assessment Manikin), but "
                      f"the analyses read 0-100 sliders with 50 = neutral. Rescale first: for 1-9, (x - 1) * 12.5 "
                      f"maps 1..9 onto 0..100 (5 -> 50)", RatingsScaleWarning, stacklevel=3)


def _read(path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"ratings file not found: {path}")
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=object, keep_default_na=True), True
    if path.suffix == ".parquet":
        return pd.read_parquet(path), False
    raise ValueError(f"{path}: unsupported suffix {path.suffix!r}; expected .csv or .parquet")


def _ratings_problems(df, csv: bool) -> list[str]:
    if "stimulus" in df.columns:  # the general form: any stimulus set
        return _problems(df, _stimulus_schema(df), csv=csv, keys=["participant", "stimulus"],
                         expected_columns=STIMULUS_COLUMNS)
    return _problems(df, _ratings_schema(), csv=csv, keys=["participant", "layer", "seed"],  # the study's form
                     expected_columns=RATING_COLUMNS, suggest={"layer": LAYERS})


def _typed_ratings(df):
    out = df.copy()
    out["participant"] = out["participant"].astype(str).str.strip()
    if "stimulus" in out.columns:
        out["stimulus"] = out["stimulus"].astype(str).str.strip()
    if "layer" in out.columns:
        out["layer"] = out["layer"].astype(str)
    if "seed" in out.columns:
        out["seed"] = pd.to_numeric(out["seed"]).astype("int64")
    for axis in AXES:
        out[axis] = pd.to_numeric(out[axis]).astype("float64")
    return out


def validate(df, *, source: str = "<DataFrame>", csv: bool = False):
    """Check a ratings DataFrame against the format; return it typed and in a fresh RangeIndex.

    A frame with a ``stimulus`` column is checked in the general form (participant, stimulus,
    arousal, valence; ``layer`` any non-empty name and ``seed`` an integer when present; each
    (participant, stimulus) once); without one, in the study's form. Ratings that are all whole
    numbers of at most 10 pass with a :class:`RatingsScaleWarning` (a 1-9 scale, not 0-100 sliders).

    Raises:
        RatingsFormatError: listing, in file order with rows counted from 1, every missing column
            (and the columns found; a file separated by ';' says so), empty, non-numeric or
            out-of-range value, unknown layer (with the nearest name) and duplicate
            (participant, layer, seed) or (participant, stimulus).

    Used in: notebooks 03 and 04 through :func:`helpers.study.ratings.load`; notebook 08 through
        :func:`helpers.study.importers.from_jsPsych`.
    """
    df = df.reset_index(drop=True)
    problems = _ratings_problems(df, csv)
    if problems:
        raise RatingsFormatError(source, problems)
    _scale_warning(df, source)
    return _typed_ratings(df)


def _participants_problems(df, csv: bool, required) -> list[str]:
    present = tuple(c for c in PARTICIPANT_COLUMNS if c in required or c in df.columns)
    return _problems(df, _participants_schema(present), csv=csv, keys=["participant"], expected_columns=present)


def _typed_participants(df):
    out = df.copy()
    out["participant"] = out["participant"].astype(str).str.strip()
    if "attitude" in out.columns:
        out["attitude"] = pd.Categorical(out["attitude"], categories=ATTITUDE_LEVELS, ordered=True)
    if "self_esteem" in out.columns:
        out["self_esteem"] = pd.to_numeric(out["self_esteem"]).astype("int64")
    return out


def validate_participants(df, *, source: str = "<DataFrame>", csv: bool = False, required=PARTICIPANT_COLUMNS):
    """Check a participants DataFrame (participant, attitude, self_esteem); return it typed.

    ``required`` names the covariates that must be present (``("participant",)`` for a study
    that asked other questions); attitude and self_esteem are checked whenever present.

    Raises:
        RatingsFormatError: as :func:`validate`, headed "problem(s) with the participants format".

    Used in: notebooks 03 and 04 through :func:`helpers.study.ratings.load`.
    """
    df = df.reset_index(drop=True)
    problems = _participants_problems(df, csv, required)
    if problems:
        raise RatingsFormatError(source, problems, what="participants")
    return _typed_participants(df)


def _unlisted(df, people, csv: bool, participants) -> list[str]:
    """One sentence per rated participant missing from the participants table, in file order."""
    if "participant" not in df.columns or "participant" not in people.columns:
        return []
    listed = set(people["participant"].dropna().astype(str).str.strip())
    ids = df["participant"].astype(str).str.strip()
    rated = df["participant"].notna() & (ids != "")
    out = []
    for pid, rows in ids[rated & ~ids.isin(listed)].groupby(ids, sort=False).groups.items():
        rows = sorted(rows)
        more = f" and {len(rows) - 1} more row(s)" if len(rows) > 1 else ""
        out.append((rows[0], f"{_where(rows[0], csv)}{more}, column 'participant': got {pid!r}; expected a "
                             f"participant listed in {participants} ({len(listed)} listed)"))
    return [text for _, text in sorted(out)]


def load(path, *, participants=None, participant_columns=PARTICIPANT_COLUMNS):
    """Read and validate a ratings file (and optionally its participants table).

    Args:
        path: ``.csv`` or ``.parquet`` in the format of this module's docstring.
        participants: path of the participants table; when given, its ``attitude`` and
            ``self_esteem`` are joined onto every rating, and every rating's participant
            must be listed there.

    Returns:
        DataFrame with columns participant, layer, seed, arousal, valence (float, 0-100)
        [, attitude, self_esteem]; ``attrs["simulated"]`` (True only when the file carries a
        true ``simulated`` column, as :func:`save` writes for simulations), ``attrs["source"]``.

    Raises:
        RatingsFormatError: every problem of both files in one pass (the ratings file's, then the
            participants file's), with file, row, column, value and expectation; rated participants
            missing from the participants table are among the ratings file's problems.

    Used in: notebook 03 (Figure 6, Figure 7, Figure 8, Figure 9, 7 more outputs); notebook 04 (Figure 10, Figure
        11, Figure 12, Figure 13, 9 more outputs).
    """
    df, csv = _read(path)
    df = df.reset_index(drop=True)
    problems = _ratings_problems(df, csv)
    people = people_problems = None
    if participants:  # None or "" (a notebook's empty PARTICIPANTS parameter): ratings only
        people, people_csv = _read(participants)
        people = people.reset_index(drop=True)
        people_problems = _participants_problems(people, people_csv, participant_columns)
        if not any(p.startswith("the columns are separated") for p in problems):
            problems = _merge_in_file_order(problems, _unlisted(df, people, csv, participants))
    if problems or people_problems:
        also = [(str(participants), "participants", people_problems)] if people_problems else []
        if problems:
            raise RatingsFormatError(str(path), problems, also=also)
        raise RatingsFormatError(str(participants), people_problems, what="participants")
    _scale_warning(df, str(path))
    out = _typed_ratings(df)
    if participants:
        out = out.merge(_typed_participants(people), on="participant", how="left", validate="many_to_one")
    simulated = bool(out["simulated"].astype(bool).any()) if "simulated" in out else False
    out.attrs.update(simulated=simulated, source=str(path))
    return out


def _merge_in_file_order(problems: list[str], extra: list[str]) -> list[str]:
    """Merge two lists of sentences, each in file order, by their first row number (file-wide ones first)."""
    def key(text):
        head = text.split(",", 1)[0].split(" (", 1)[0]
        return int(head.split()[1]) if head.startswith("row ") and head.split()[1].isdigit() else -1
    return sorted(problems + extra, key=key)  # stable: equal rows keep their order


def load_participants(path, *, required=PARTICIPANT_COLUMNS):
    """Read and validate a participants table (see module docstring); raises RatingsFormatError.

    Used in: notebooks 03 and 04 through :func:`helpers.study.ratings.load`.
    """
    df, csv = _read(path)
    return validate_participants(df, source=str(path), csv=csv, required=required)


def participants_of(ratings, columns=PARTICIPANT_COLUMNS):
    """The participants table (participant, attitude, self_esteem) carried by a joined ratings frame.

    Used in: notebooks 03 (ratings.parquet) and 08 through :func:`helpers.study.ratings.save`.
    """
    missing = [c for c in columns if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings have no participant covariates {missing}; load them with participants=<path>")
    return ratings[list(columns)].drop_duplicates("participant").reset_index(drop=True)


def stimulus_ids(ratings):
    """Each row's stimulus id: the ``stimulus`` column, or ``"<layer>/seed<seed>"`` in the study's form.

    Used in: notebooks 03 (p1-mixed-model.csv) and 08 (key-numbers.json, study/mixed-model.csv, study/power.csv)
        through :func:`helpers.study.mixed.mixed_models`.
    """
    if "stimulus" in ratings.columns:
        return ratings["stimulus"].astype(str)
    return ratings["layer"].astype(str) + "/seed" + ratings["seed"].astype(str)


def save(ratings, path, *, participants_path=None) -> Path:
    """Write ratings (without covariates) and optionally the participants table atomically.

    The ``simulated`` flag travels as a column so a reader of the file knows what it holds.

    Used in: notebook 03 (ratings.parquet); notebook 08.
    """
    if "stimulus" in ratings.columns:  # the general form keeps every descriptive column
        cols = list(STIMULUS_COLUMNS) + [c for c in ratings.columns if c not in STIMULUS_COLUMNS
                                         and c not in PARTICIPANT_COLUMNS and c != "simulated"]
        people = [c for c in ratings.columns if c in PARTICIPANT_COLUMNS]
    else:
        cols, people = list(RATING_COLUMNS), list(PARTICIPANT_COLUMNS)
    df = ratings[cols].copy()
    df["simulated"] = bool(ratings.attrs.get("simulated", False))
    io.save_table(df, path)
    if participants_path is not None:
        io.save_table(participants_of(ratings, people), participants_path)
    return Path(path)
