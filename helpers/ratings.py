"""Participants' arousal/valence ratings of the dream images (Paper 1): format, loading, simulation.

File format (CSV or parquet), one row per (participant, image):

==============  ========  ===================================================================
column          type      meaning
==============  ========  ===================================================================
participant     str       participant id (any non-empty text or integer)
layer           str       InceptionV1 layer the image was dreamed for, one of ``dream.LAYERS``
seed            int >= 0  noise seed of the image (0..4 in the study)
arousal         float     slider value in [0, 100]; 50 = neutral, 100 = most aroused
valence         float     slider value in [0, 100]; 50 = neutral, 100 = most pleasant
==============  ========  ===================================================================

Any stimulus set (own photographs, other layers, networks, perturbations) uses the general form,
one row per (participant, stimulus)::

    participant, stimulus, arousal, valence [, layer, seed, network, alpha, condition, ...]

``stimulus`` is the image's id (its path relative to the stimulus folder, as
:func:`helpers.experiment.export` and :func:`from_jsPsych` write it); every other column is an
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
:func:`simulate` makes a clearly labelled synthetic data set from a stated generative model
and returns the planted truth so that the analyses can be checked against it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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
    """A ratings or participants file breaks the documented format; ``problems`` lists each one."""

    def __init__(self, source: str, problems: list[str]):
        self.source, self.problems = source, list(problems)
        shown = self.problems[:MAX_LISTED]
        more = len(self.problems) - len(shown)
        text = f"{source}: {len(self.problems)} problem(s) with the ratings format:\n  - " + "\n  - ".join(shown)
        if more:
            text += f"\n  ... and {more} more"
        super().__init__(text)


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------
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
    import pandera.pandas as pa

    from helpers import inception as dream  # LAYERS lives with the network (no ratings -> dream import)

    layers = set(dream.LAYERS)
    col = lambda check, expected: pa.Column(checks=pa.Check(check, element_wise=True, error=expected), nullable=False)  # noqa: E731
    return pa.DataFrameSchema(
        {"participant": col(_is_id, "a non-empty participant id"),
         "layer": col(lambda v: v in layers, "one of the 144 layer names in helpers.dream.LAYERS"),
         "seed": col(_is_nonneg_int, "an integer >= 0"),
         "arousal": col(_is_number_in(0, 100), "a number from 0 to 100 (50 = neutral)"),
         "valence": col(_is_number_in(0, 100), "a number from 0 to 100 (50 = neutral)")},
        unique=["participant", "layer", "seed"], report_duplicates="all", strict=False)


def _stimulus_schema(df):
    import pandera.pandas as pa

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
    import pandera.pandas as pa

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
    import pandera.pandas as pa

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
    import pandas as pd

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
    """
    import pandas as pd

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
    """
    import pandas as pd

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
    """Read and validate a participants table (see module docstring); raises RatingsFormatError."""
    df, csv = _read(path)
    return validate_participants(df, source=str(path), csv=csv, required=required)


def participants_of(ratings, columns=PARTICIPANT_COLUMNS):
    """The participants table (participant, attitude, self_esteem) carried by a joined ratings frame."""
    missing = [c for c in columns if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings have no participant covariates {missing}; load them with participants=<path>")
    return ratings[list(columns)].drop_duplicates("participant").reset_index(drop=True)


def stimulus_ids(ratings):
    """Each row's stimulus id: the ``stimulus`` column, or ``"<layer>/seed<seed>"`` in the study's form."""
    if "stimulus" in ratings.columns:
        return ratings["stimulus"].astype(str)
    return ratings["layer"].astype(str) + "/seed" + ratings["seed"].astype(str)


def descriptive_columns(ratings) -> list[str]:
    """The descriptive (per-stimulus) columns of a ratings frame: all but ids, ratings and covariates."""
    skip = set(STIMULUS_COLUMNS) | set(PARTICIPANT_COLUMNS) | {"simulated"}
    return [c for c in ratings.columns if c not in skip]


# ---------------------------------------------------------------------------------------------
# layer groups (Figure 11)
# ---------------------------------------------------------------------------------------------
GROUP_PATTERNS = {
    "mixed{N}{m}_pool": r"mixed[345][a-e]_pool",
    "mixed{N}{m}_{K}x{K}_pre_relu": r"mixed[345][a-e]_(3x3|5x5)_pre_relu",
    "conv2d{L}": r"conv2d[012]",
    "mixed{N}{m}": r"mixed[345][a-e]",
}
"""Figure 11's layer types as full-match regular expressions over layer names."""


def layers_matching(pattern: str, layers=None) -> list[str]:
    """Layers (in study order) whose name fully matches a ``GROUP_PATTERNS`` key or a regex."""
    from helpers import inception as dream  # LAYERS lives with the network (no ratings -> dream import)

    regex = re.compile(GROUP_PATTERNS.get(pattern, pattern))
    return [name for name in (layers or dream.LAYERS) if regex.fullmatch(name)]


# ---------------------------------------------------------------------------------------------
# simulation
# ---------------------------------------------------------------------------------------------
PAPER_CORRELATIONS = {
    # Table 1 of the paper: r of mean arousal / valence with the selected model's features (hue, CFC, CSE)
    "arousal": {"hue": 0.120, "feature_congestion": 0.343, "subband_entropy": -0.216},
    "valence": {"hue": 0.080, "feature_congestion": -0.056, "subband_entropy": 0.023},
}
DEFAULT_R2 = {"arousal": 0.37, "valence": 0.033}
"""The paper's selected-model R^2 (Section 4.3): the simulation's target feature-driven share of variance."""
DEFAULT_LAYER_EFFECTS = {
    # planted non-neutral layers (paper Section 4.4.1, O1; "mixed3d" in the paper is read as mixed4d)
    "arousal": {"conv2d0": 10.0, "mixed4d_5x5_pre_relu": -9.0},
    "valence": {"mixed4d_pool_reduce_pre_relu": 9.0, "mixed5a": -9.0},
}
DEFAULT_GROUP_EFFECTS = {
    # Figure 11's layer types (added to every layer of the type; small, so that few single layers leave 50)
    "arousal": {"mixed{N}{m}_pool": 1.2, "mixed{N}{m}_{K}x{K}_pre_relu": -0.8},
    "valence": {"conv2d{L}": 2.0, "mixed{N}{m}": -0.8},
}
DEFAULT_NEUTRAL_LAYERS = ("localresponsenorm0", "mixed3b_3x3_bottleneck_pre_relu")
DEFAULT_BIMODAL = {"mixed3a_1x1_pre_relu": "valence", "mixed4b_3x3": "arousal", "mixed4c_pool_reduce": "both"}
PAPER_NAMED_LAYERS = tuple(dict.fromkeys(
    [*DEFAULT_LAYER_EFFECTS["arousal"], *DEFAULT_LAYER_EFFECTS["valence"], *DEFAULT_NEUTRAL_LAYERS, *DEFAULT_BIMODAL]))
"""The layers the paper names (Sections 4.4.1-4.4.2) and the simulation plants on: a reduced layer set (the class
profile) should include them, or the planted effects have nowhere to show."""


@dataclass
class Simulation:
    """A simulated data set: ratings (joined with covariates), participants, and the planted truth.

    ``truth`` keys: ``model`` (text of the generative model), ``coefficients`` (per axis, per
    feature, in raw feature units per rating point, as planted), ``coefficients_per_sd``,
    ``estimand`` (``{unit: {model: {axis: {term: coefficient}}}}``: what an OLS of the
    expected unit means on the features estimates, i.e. the planted coefficients plus the
    projection of the layer effects onto the features; compare estimates with these),
    ``feature_mean``/``feature_sd``, ``layer_effect`` (per axis, per layer, rating points),
    ``expected_layer_mean`` (per axis, per layer, before clipping), ``non_neutral`` (per
    axis: layers whose expected mean is at least ``non_neutral_margin`` from 50),
    ``neutral_layers`` (expected mean exactly 50 on both axes), ``bimodal`` (layer -> axis),
    ``missing_planted`` (planted layers absent from the features), ``group_effects`` and the
    parameters.
    """

    ratings: object
    participants: object
    truth: dict = field(default_factory=dict)


def _expected_clipped(m, sd: float, lo: float = 0.0, hi: float = 100.0):
    """E[clip(X, lo, hi)] for X ~ N(m, sd) (elementwise)."""
    from scipy.special import ndtr

    if sd <= 0:
        return np.clip(m, lo, hi)
    a, b = (lo - m) / sd, (hi - m) / sd
    pdf = lambda x: np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # noqa: E731
    return lo * ndtr(a) + m * (ndtr(b) - ndtr(a)) + sd * (pdf(a) - pdf(b)) + hi * (1 - ndtr(b))


def _r2_scale(f, rest, design, noise_var: float, target: float) -> float:
    """Scale ``c`` >= 0 at which the population R^2 of ``c f + rest`` on ``design`` (layer level) is ``target``.

    R^2(c) = |P(y - mean y)|^2 / (|y - mean y|^2 + n noise_var) with ``P`` the projection on the
    centred design, i.e. what an OLS of the layer means on the features explains in expectation.
    """
    from scipy.optimize import brentq

    n = len(f)
    if n < 3 or np.var(f) == 0 or target <= 0:
        return 0.0
    X = design - design.mean(0)
    q = np.linalg.qr(X)[0] if X.size else np.zeros((n, 0))

    def r2_of(c):
        y = c * f + rest
        y = y - y.mean()
        return float(np.sum((q.T @ y) ** 2) / (np.sum(y * y) + n * noise_var)) - target

    if r2_of(0.0) >= 0:  # the layer effects alone already explain the target share
        return 0.0
    hi = 1.0
    while r2_of(hi) < 0 and hi < 1e6:
        hi *= 2
    return float(brentq(r2_of, 0.0, hi)) if r2_of(hi) >= 0 else hi


def _estimands(expected_img, features, layers_of_img, seeds_of_img) -> dict:
    """OLS coefficients of the expected unit means on the unit-mean features, as ``stats.regression`` fits them."""
    import pandas as pd

    from helpers import stats

    f = features.reset_index(drop=True)
    ok = f["status"].eq("ok") if "status" in f else pd.Series(True, index=f.index)
    cols = [c for c in stats.FEATURES if c in f.columns]
    frame = pd.DataFrame({"layer": layers_of_img, "seed": seeds_of_img, **{a: expected_img[a] for a in AXES}})
    out: dict = {}
    for unit, keys in (("layer", ["layer"]), ("image", ["layer", "seed"])):
        y = frame.groupby(keys, sort=False)[list(AXES)].mean().reset_index()
        x = f[ok].groupby(keys, sort=False)[cols].mean().reset_index()
        d = y.merge(x, on=keys, how="inner")
        out[unit] = {}
        for model, terms in (("selected", list(stats.SELECTED)), ("full", list(stats.FULL))):
            terms = [t for t in terms if t in d]
            out[unit][model] = {}
            for axis in AXES:
                dd = d[[axis, *terms]].apply(pd.to_numeric, errors="coerce").dropna()
                if len(dd) <= len(terms) + 1:
                    continue
                X = np.c_[np.ones(len(dd)), dd[terms].to_numpy(float)]
                beta = np.linalg.lstsq(X, dd[axis].to_numpy(float), rcond=None)[0]
                out[unit][model][axis] = {"const": float(beta[0]), **{t: float(b) for t, b in zip(terms, beta[1:])}}
    return out


def simulate(features, *, n_participants: int = 150, seed: int = 0, coefficients="paper", r2="paper", layer_effects=None,
             group_effects=None, neutral_layers=DEFAULT_NEUTRAL_LAYERS, bimodal=None, bimodal_shift: float = 56.0,
             intercept=(50.0, 50.0), layer_sd: float = 0.6, image_sd: float = 0.5, participant_sd: float = 12.0,
             noise_sd: float = 10.0, non_neutral_margin: float = 5.0, round_to: float | None = 1.0) -> Simulation:
    """Simulate arousal/valence ratings of every image in ``features`` (clearly synthetic).

    Generative model, for participant ``p`` rating image ``i`` of layer ``l`` on axis ``a``::

        mu[a, i]   = intercept[a] + c[a] * sum_f beta[a, f] * z_f(i)   # z: feature standardised over layer means
                     + group_effect[a, l] + planted[a, l] + u[a, l] + w[a, i]
        rating     = clip(mu[a, i] + b[a, p] + g[p, l] * s[a, l] + e, 0, 100), rounded to ``round_to``

    with ``u ~ N(0, layer_sd)`` per layer, ``w ~ N(0, image_sd)`` per image, participant
    offsets ``b ~ N(0, participant_sd)`` (centred over the participants), ``e ~ N(0, noise_sd)``. By default (``coefficients=
    "paper"``) the weights are ``beta = R^-1 r``, with ``R`` the correlation matrix of the
    features' layer means in *these* data and ``r`` Table 1's correlations
    (:data:`PAPER_CORRELATIONS`), so that the feature part correlates with each feature as the
    paper's judgments did. ``c[a]`` scales the feature part so that, over the layers, it
    explains the share ``r2[a]`` of the variance of the layer means (the rest: group, planted
    and random layer effects and the rating noise averaged over participants and images);
    the default is the paper's selected-model R^2 (arousal 0.37, valence 0.033), so the
    analyses find effects of the paper's size. Bimodal layers split the participants in two random halves ``g = +-1`` and
    shift them by ``s = +-bimodal_shift/2`` on the named axis ("arousal", "valence", or
    "both": low arousal with high valence vs high arousal with low valence). Neutral layers
    get ``u``, ``w`` and ``planted`` chosen so that their expected mean is exactly 50 on both
    axes. Attitude and self-esteem are drawn independently of the ratings (no planted
    effect, as the paper found none). Layer-level effects can correlate with the features,
    so an OLS of layer means on the features estimates ``truth["estimand"]`` (the planted
    coefficients plus that projection), not ``truth["coefficients"]`` alone.

    Args:
        features: DataFrame with one row per image: layer, seed and the feature columns
            named in ``coefficients`` (notebook 02's ``features.parquet``); rows with a
            ``status`` other than "ok" or missing features are rated without feature effect.
        n_participants: number of simulated participants (each rates every image).
        seed: seed of the NumPy generator; same seed -> same data.
        coefficients: ``"paper"`` (weights from Table 1's correlations, see above) or
            ``{axis: {feature: weight per sd of the feature's layer means}}``: rating points per
            sd when ``r2=None``, else relative weights.
        r2: ``"paper"`` (:data:`DEFAULT_R2`), ``{axis: share in [0, 1)}``, or ``None`` (use
            ``coefficients`` as they are).
        layer_effects: ``{axis: {layer: rating points}}`` planted non-neutral layers.
        group_effects: ``{axis: {GROUP_PATTERNS key: rating points}}``.
        neutral_layers: layers forced to an expected mean of exactly 50.
        bimodal: ``{layer: "arousal" | "valence" | "both"}``.
        non_neutral_margin: how far from 50 an expected layer mean must be to count as
            non-neutral in the truth.

    Returns:
        :class:`Simulation`; ``ratings.attrs["simulated"] = True``.
    """
    import pandas as pd

    from helpers import inception as dream  # LAYERS lives with the network (no ratings -> dream import)

    from_paper = isinstance(coefficients, str) and coefficients == "paper"
    coefficients = PAPER_CORRELATIONS if from_paper or coefficients is None else coefficients
    layer_effects = DEFAULT_LAYER_EFFECTS if layer_effects is None else layer_effects
    group_effects = DEFAULT_GROUP_EFFECTS if group_effects is None else group_effects
    bimodal = DEFAULT_BIMODAL if bimodal is None else bimodal
    r2 = dict(DEFAULT_R2) if isinstance(r2, str) and r2 == "paper" else r2
    for name, table in (("layer_effects", layer_effects), ("bimodal", {k: 0 for k in bimodal}),
                        ("neutral_layers", {k: 0 for k in neutral_layers})):
        unknown = [k for k in (table.get("arousal", {}) | table.get("valence", {}) if name == "layer_effects" else table)
                   if k not in dream.LAYERS]
        if unknown:
            raise ValueError(f"simulate: {name} names unknown layers {unknown}")
    bad_axis = {k: v for k, v in bimodal.items() if v not in ("arousal", "valence", "both")}
    if bad_axis:
        raise ValueError(f"simulate: bimodal axis must be 'arousal', 'valence' or 'both', got {bad_axis}")
    if n_participants < 2:
        raise ValueError(f"simulate: n_participants must be >= 2, got {n_participants}")
    if from_paper and r2 is None:
        raise ValueError("simulate: coefficients='paper' gives only the direction of the feature effects; give r2 too")
    if r2 is not None and not all(0 <= float(v) < 1 for v in r2.values()):
        raise ValueError(f"simulate: r2 must map axes to shares in [0, 1), got {r2}")
    missing = {"layer", "seed"} - set(features.columns)
    if missing:
        raise ValueError(f"simulate: features lack columns {sorted(missing)}")

    rng = np.random.default_rng([seed, 0x5E71])  # own stream: unrelated to other uses of the same seed
    img = features[["layer", "seed"]].copy().reset_index(drop=True)
    if img.duplicated().any():
        raise ValueError("simulate: features have duplicate (layer, seed) rows")
    unknown = sorted(set(img["layer"]) - set(dream.LAYERS))
    if unknown:
        raise ValueError(f"simulate: features name unknown layers {unknown[:5]}")
    ok = features["status"].eq("ok").to_numpy() if "status" in features else np.ones(len(img), bool)
    feats = sorted({f for axis in AXES for f in coefficients.get(axis, {})})
    absent = [f for f in feats if f not in features.columns]
    if absent:
        raise ValueError(f"simulate: features lack the columns {absent} that the coefficients name")
    layers = list(dict.fromkeys(img["layer"]))
    layer_pos = {name: i for i, name in enumerate(layers)}
    li = img["layer"].map(layer_pos).to_numpy()
    n_seeds = np.bincount(li, minlength=len(layers))
    mean, sd, z, zl = {}, {}, {}, {}
    for f in feats:  # standardise over the layer means (the unit of Table 1 and of the R^2 target)
        x = pd.to_numeric(features[f], errors="coerce").to_numpy(float).copy()
        x[~ok] = np.nan
        xl = pd.Series(x).groupby(li).mean().reindex(range(len(layers))).to_numpy(float)
        mean[f], sd[f] = (float(np.nanmean(xl)), float(np.nanstd(xl))) if np.isfinite(xl).any() else (0.0, 0.0)
        z[f] = np.nan_to_num((x - mean[f]) / (sd[f] if sd[f] > 0 else 1.0))
        zl[f] = np.nan_to_num((xl - mean[f]) / (sd[f] if sd[f] > 0 else 1.0))
    if from_paper:  # beta = R^-1 r: the feature part correlates with each feature as in Table 1
        coefficients = {}
        corr = np.corrcoef(np.array([zl[f] for f in feats])) if len(layers) > 2 else np.eye(len(feats))
        corr = np.nan_to_num(np.atleast_2d(corr), nan=0.0) + 1e-9 * np.eye(len(feats))
        for axis in AXES:
            target = np.array([PAPER_CORRELATIONS[axis].get(f, 0.0) for f in feats])
            coefficients[axis] = dict(zip(feats, np.linalg.lstsq(corr, target, rcond=None)[0].tolist()))
    group_of = {}
    for axis in AXES:
        for pattern in group_effects.get(axis, {}):
            for name in layers_matching(pattern, layers):
                group_of.setdefault(axis, {})[name] = group_effects[axis][pattern]

    mu, layer_effect, expected, scale = {}, {}, {}, {}
    intercepts = dict(zip(AXES, intercept))
    for axis in AXES:
        u = rng.normal(0.0, layer_sd, len(layers))
        w = rng.normal(0.0, image_sd, len(img))
        eff = np.array([group_of.get(axis, {}).get(n, 0.0) + layer_effects.get(axis, {}).get(n, 0.0) for n in layers]) + u
        feat_part = sum(coefficients.get(axis, {}).get(f, 0.0) * z[f] for f in feats) if feats else np.zeros(len(img))
        feat_part = np.asarray(feat_part, float) * np.ones(len(img))
        scale[axis] = 1.0
        if r2 is not None:  # scale the feature part to the target share of the layer means' variance
            f_layer = np.bincount(li, feat_part, len(layers)) / n_seeds
            rest = eff + np.bincount(li, w, len(layers)) / n_seeds
            design = np.array([zl[f] for f in feats]).T if feats else np.zeros((len(layers), 0))
            scale[axis] = _r2_scale(f_layer, rest, design, float(np.mean(noise_sd ** 2 / (n_participants * n_seeds))),
                                    float(r2.get(axis, 0.0)))
            feat_part = feat_part * scale[axis]
        for name in neutral_layers:  # expected mean exactly 50: cancel features, layer and image effects
            if name in layer_pos:
                rows = li == layer_pos[name]
                eff[layer_pos[name]] = NEUTRAL - intercepts[axis] - feat_part[rows].mean()
                w[rows] = feat_part[rows].mean() - feat_part[rows]
        mu[axis] = intercepts[axis] + feat_part + eff[li] + w
        layer_effect[axis] = dict(zip(layers, eff))
        expected[axis] = pd.Series(mu[axis]).groupby(img["layer"]).mean().reindex(layers).to_dict()

    pid = [f"S{k:03d}" for k in range(1, n_participants + 1)]
    people = pd.DataFrame({"participant": pid,
                           "attitude": pd.Categorical(rng.choice(ATTITUDE_LEVELS, n_participants, p=[0.2, 0.45, 0.35]),
                                                      categories=ATTITUDE_LEVELS, ordered=True),
                           "self_esteem": rng.choice(SELF_ESTEEM_LEVELS, n_participants, p=[0.06, 0.14, 0.3, 0.32, 0.18])})
    offsets = {axis: rng.normal(0.0, participant_sd, n_participants) for axis in AXES}
    offsets = {axis: o - o.mean() for axis, o in offsets.items()}  # centred: the sample's offsets do not move every layer
    groups = {name: rng.permutation(np.r_[np.ones(n_participants // 2), -np.ones(n_participants - n_participants // 2)])
              for name in bimodal}

    n_img = len(img)
    out = {"participant": np.repeat(pid, n_img), "layer": np.tile(img["layer"].to_numpy(), n_participants),
           "seed": np.tile(img["seed"].to_numpy().astype(np.int64), n_participants)}
    expected_img = {}
    for axis in AXES:
        value = np.tile(mu[axis], n_participants) + np.repeat(offsets[axis], n_img)
        for name, which in bimodal.items():
            if name not in layer_pos or (which != "both" and which != axis):
                continue
            sign = -1.0 if (which == "both" and axis == "valence") else 1.0  # "both": high arousal with low valence
            rows = np.tile(li == layer_pos[name], n_participants)
            value[rows] += sign * bimodal_shift / 2 * np.repeat(groups[name], n_img)[rows]
        # expected mean rating of each image over these participants, clipping included (the regression estimand)
        expected_img[axis] = _expected_clipped(value, noise_sd).reshape(n_participants, n_img).mean(axis=0)
        value += rng.normal(0.0, noise_sd, value.shape)
        if round_to:
            value = np.round(value / round_to) * round_to
        out[axis] = np.clip(value, 0.0, 100.0)
    ratings = pd.DataFrame(out).merge(people, on="participant", how="left")
    ratings.attrs.update(simulated=True, source=f"ratings.simulate(seed={seed}, n_participants={n_participants})")

    planted = [*layer_effects.get("arousal", {}), *layer_effects.get("valence", {}), *neutral_layers, *bimodal]
    truth = {
        "model": simulate.__doc__.split("Args:")[0].strip(),
        "seed": seed, "n_participants": n_participants,
        "r2_target": None if r2 is None else {a: float(v) for a, v in r2.items()}, "feature_scale": scale,
        "coefficients_per_sd": {a: {f: v * scale[a] for f, v in coefficients.get(a, {}).items()} for a in AXES},
        "coefficients": {a: {f: coefficients.get(a, {}).get(f, 0.0) * scale[a] / (sd[f] or 1.0) for f in feats} for a in AXES},
        "estimand": _estimands(expected_img, features, img["layer"].to_numpy(), img["seed"].to_numpy()),
        "feature_mean": mean, "feature_sd": sd, "intercept": intercepts,
        "layer_effect": layer_effect, "expected_layer_mean": expected,
        "non_neutral": {a: sorted((n for n, m in expected[a].items()
                                   if abs(m - NEUTRAL) >= non_neutral_margin and not (n in bimodal and bimodal[n] in (a, "both"))),
                                  key=layer_pos.get) for a in AXES},
        "neutral_layers": [n for n in neutral_layers if n in layer_pos],
        "bimodal": {k: v for k, v in bimodal.items() if k in layer_pos}, "bimodal_shift": bimodal_shift,
        "missing_planted": [n for n in dict.fromkeys(planted) if n not in layer_pos],
        "group_effects": {a: dict(group_effects.get(a, {})) for a in AXES},
        "planted_layer_effects": {a: dict(layer_effects.get(a, {})) for a in AXES},
        "sd": {"layer": layer_sd, "image": image_sd, "participant": participant_sd, "noise": noise_sd},
    }
    return Simulation(ratings=ratings, participants=people, truth=truth)


def save(ratings, path, *, participants_path=None) -> Path:
    """Write ratings (without covariates) and optionally the participants table atomically.

    The ``simulated`` flag travels as a column so a reader of the file knows what it holds.
    """
    from helpers import io

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


# ---------------------------------------------------------------------------------------------
# importing experiment data (jsPsych exports of helpers.experiment, PsychoPy CSVs)
# ---------------------------------------------------------------------------------------------
JSPSYCH_COLUMNS = ("trial_type", "task", "participant", "experiment_format", "experiment_version")
"""Columns every data file of a :func:`helpers.experiment.export` carries."""
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
    the included participants joined with their answers, ready for :mod:`helpers.stats`.
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
    import json

    import pandas as pd

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
    from helpers import experiment  # noqa: F401  (only for the suffix list)

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
    """Read the data of an experiment exported by :func:`helpers.experiment.export`.

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
    """
    import warnings

    import pandas as pd

    from helpers import experiment

    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    rule = rule or ExclusionRule()
    man = experiment.load_manifest(manifest) if manifest is not None else None
    known = None if man is None else {s["stimulus"]: s for s in man["stimuli"]}
    questions = [q["name"] for q in man["settings"]["questions"]] if man else []
    problems, notes, frames, versions = [], [], [], {}

    def where(i, csv):
        return f"line {i + 2}" if csv else f"trial {i}"

    for path in _collect(files):
        try:
            df, csv = _read_jspsych(path)
        except RatingsFormatError as exc:
            problems += [f"{path}: {p}" for p in exc.problems]
            continue
        missing = [c for c in JSPSYCH_COLUMNS if c not in df.columns]
        if not missing and not (df["experiment_format"].astype(str) == experiment.FORMAT).all():
            bad = sorted(set(df["experiment_format"].astype(str)) - {experiment.FORMAT})
            problems.append(f"{path}: experiment_format {bad}, expected {experiment.FORMAT!r}: not data of this experiment")
            continue
        rating_rows = df["task"].isin(["rating", "attention_check"]) if "task" in df.columns else pd.Series(False, df.index)
        missing += [c for c in JSPSYCH_RATING_COLUMNS if c not in df.columns] if rating_rows.any() or not missing else []
        if missing:
            problems.append(f"{path}: not a data file of a helpers.experiment export: missing columns {missing} "
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
        raise RatingsFormatError("from_jsPsych", problems)
    for p in problems:
        warnings.warn(f"from_jsPsych: {p} (left out)", stacklevel=2)
    for n in notes:
        warnings.warn(f"from_jsPsych: {n}", stacklevel=2)
    if not frames:
        raise RatingsFormatError("from_jsPsych", problems or ["no rating trials in the given files"])

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
        warnings.warn(f"from_jsPsych: {text}", stacklevel=2)
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
    out = validate(out.reset_index(drop=True), source="from_jsPsych")
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
               "experiment_version": str(g["experiment_version"].iloc[0]), "source": str(g["_file"].iloc[0])}
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
    """
    import warnings

    import pandas as pd

    from helpers import experiment

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
