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

import math
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

    Used in: notebooks 03 and 04 through :func:`helpers.study.ratings.load`; notebook 08 through
        :func:`helpers.study.importers.from_jsPsych`.
    """

    def __init__(self, source: str, problems: list[str]):
        self.source, self.problems = source, list(problems)
        shown = self.problems[:MAX_LISTED]
        more = len(self.problems) - len(shown)
        text = f"{source}: {len(self.problems)} problem(s) with the ratings format:\n  - " + "\n  - ".join(shown)
        if more:
            text += f"\n  ... and {more} more"
        super().__init__(text)


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
    if idx is None or (isinstance(idx, float) and math.isnan(idx)):
        return "column"
    return f"row {idx} (line {int(idx) + 2} of the CSV)" if csv else f"row {idx}"


def _problems(df, schema, *, csv: bool, keys: list[str], expected_columns) -> list[str]:
    """Validate ``df`` lazily and turn pandera's failure cases into readable sentences."""
    try:
        schema.validate(df, lazy=True)
        return []
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
    out, seen_dup = [], set()
    checks = {name: c.checks[0].error for name, c in schema.columns.items()}
    for row in fc.itertuples(index=False):
        check, column, value, idx = str(row.check), row.column, row.failure_case, row.index
        if check == "column_in_dataframe":
            out.append(f"missing column {value!r}; expected columns {', '.join(expected_columns)}")
        elif check == "multiple_fields_uniqueness":
            if idx in seen_dup:
                continue
            dup = df.loc[[idx], keys].iloc[0].tolist()
            rows = df.index[(df[keys].astype(str) == [str(x) for x in dup]).all(axis=1)].tolist()
            seen_dup.update(rows)
            out.append(f"{' and '.join(_where(r, csv) for r in rows)}: duplicate {tuple(keys)} = {tuple(dup)}; "
                       f"expected each {'/'.join(keys)} combination once")
        elif check == "not_nullable":
            out.append(f"{_where(idx, csv)}, column {column!r}: empty cell; expected {checks.get(column, 'a value')}")
        else:
            out.append(f"{_where(idx, csv)}, column {column!r}: got {value!r}; expected {checks.get(column, check)}")
    return out


def _read(path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"ratings file not found: {path}")
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=object, keep_default_na=True), True
    if path.suffix == ".parquet":
        return pd.read_parquet(path), False
    raise ValueError(f"{path}: unsupported suffix {path.suffix!r}; expected .csv or .parquet")


def validate(df, *, source: str = "<DataFrame>", csv: bool = False):
    """Check a ratings DataFrame against the format; return it typed and in a fresh RangeIndex.

    A frame with a ``stimulus`` column is checked in the general form (participant, stimulus,
    arousal, valence; ``layer`` any non-empty name and ``seed`` an integer when present; each
    (participant, stimulus) once); without one, in the study's form.

    Raises:
        RatingsFormatError: listing every missing column, empty, non-numeric or out-of-range
            value, unknown layer and duplicate (participant, layer, seed) or (participant,
            stimulus), with row numbers.

    Used in: notebooks 03 and 04 through :func:`helpers.study.ratings.load`; notebook 08 through
        :func:`helpers.study.importers.from_jsPsych`.
    """
    df = df.reset_index(drop=True)
    if "stimulus" in df.columns:  # the general form: any stimulus set
        problems = _problems(df, _stimulus_schema(df), csv=csv, keys=["participant", "stimulus"],
                             expected_columns=STIMULUS_COLUMNS)
    else:  # the study's (participant, layer, seed) form
        problems = _problems(df, _ratings_schema(), csv=csv, keys=["participant", "layer", "seed"],
                             expected_columns=RATING_COLUMNS)
    if problems:
        raise RatingsFormatError(source, problems)
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


def validate_participants(df, *, source: str = "<DataFrame>", csv: bool = False, required=PARTICIPANT_COLUMNS):
    """Check a participants DataFrame (participant, attitude, self_esteem); return it typed.

    ``required`` names the covariates that must be present (``("participant",)`` for a study
    that asked other questions); attitude and self_esteem are checked whenever present.

    Raises:
        RatingsFormatError: as :func:`validate`.

    Used in: notebooks 03 and 04 through :func:`helpers.study.ratings.load`.
    """
    df = df.reset_index(drop=True)
    present = tuple(c for c in PARTICIPANT_COLUMNS if c in required or c in df.columns)
    problems = _problems(df, _participants_schema(present), csv=csv, keys=["participant"], expected_columns=present)
    if problems:
        raise RatingsFormatError(source, problems)
    out = df.copy()
    out["participant"] = out["participant"].astype(str).str.strip()
    if "attitude" in out.columns:
        out["attitude"] = pd.Categorical(out["attitude"], categories=ATTITUDE_LEVELS, ordered=True)
    if "self_esteem" in out.columns:
        out["self_esteem"] = pd.to_numeric(out["self_esteem"]).astype("int64")
    return out


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
        RatingsFormatError: every problem, with file, row, column, value and expectation.

    Used in: notebook 03 (Figure 6, Figure 7, Figure 8, Figure 9, 7 more outputs); notebook 04 (Figure 10, Figure
        11, Figure 12, Figure 13, 9 more outputs).
    """
    df, csv = _read(path)
    out = validate(df, source=str(path), csv=csv)
    if participants:  # None or "" (a notebook's empty PARTICIPANTS parameter): ratings only
        people = load_participants(participants, required=participant_columns)
        unknown = sorted(set(out["participant"]) - set(people["participant"]))
        if unknown:
            rows = out.index[out["participant"].isin(unknown)].tolist()
            raise RatingsFormatError(str(path), [
                f"{_where(r, csv)}, column 'participant': got {out.at[r, 'participant']!r}; expected a participant "
                f"listed in {participants}" for r in rows])
        out = out.merge(people, on="participant", how="left", validate="many_to_one")
    simulated = bool(out["simulated"].astype(bool).any()) if "simulated" in out else False
    out.attrs.update(simulated=simulated, source=str(path))
    return out


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
