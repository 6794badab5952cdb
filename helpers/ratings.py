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


def _participants_schema():
    import pandera.pandas as pa

    col = lambda check, expected: pa.Column(checks=pa.Check(check, element_wise=True, error=expected), nullable=False)  # noqa: E731
    return pa.DataFrameSchema(
        {"participant": col(_is_id, "a non-empty participant id"),
         "attitude": col(lambda v: v in ATTITUDE_LEVELS, f"one of {', '.join(ATTITUDE_LEVELS)}"),
         "self_esteem": col(lambda v: _is_nonneg_int(v) and int(float(v)) in SELF_ESTEEM_LEVELS, "an integer from 1 to 5")},
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

    Raises:
        RatingsFormatError: listing every missing column, empty, non-numeric or out-of-range
            value, unknown layer and duplicate (participant, layer, seed), with row numbers.
    """
    import pandas as pd

    df = df.reset_index(drop=True)
    problems = _problems(df, _ratings_schema(), csv=csv, keys=["participant", "layer", "seed"], expected_columns=RATING_COLUMNS)
    if problems:
        raise RatingsFormatError(source, problems)
    out = df.copy()
    out["participant"] = out["participant"].astype(str).str.strip()
    out["layer"] = out["layer"].astype(str)
    out["seed"] = pd.to_numeric(out["seed"]).astype("int64")
    for axis in AXES:
        out[axis] = pd.to_numeric(out[axis]).astype("float64")
    return out


def validate_participants(df, *, source: str = "<DataFrame>", csv: bool = False):
    """Check a participants DataFrame (participant, attitude, self_esteem); return it typed.

    Raises:
        RatingsFormatError: as :func:`validate`.
    """
    import pandas as pd

    df = df.reset_index(drop=True)
    problems = _problems(df, _participants_schema(), csv=csv, keys=["participant"], expected_columns=PARTICIPANT_COLUMNS)
    if problems:
        raise RatingsFormatError(source, problems)
    out = df.copy()
    out["participant"] = out["participant"].astype(str).str.strip()
    out["attitude"] = pd.Categorical(out["attitude"], categories=ATTITUDE_LEVELS, ordered=True)
    out["self_esteem"] = pd.to_numeric(out["self_esteem"]).astype("int64")
    return out


def load(path, *, participants=None):
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
        people = load_participants(participants)
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


def load_participants(path):
    """Read and validate a participants table (see module docstring); raises RatingsFormatError."""
    df, csv = _read(path)
    return validate_participants(df, source=str(path), csv=csv)


def participants_of(ratings):
    """The participants table (participant, attitude, self_esteem) carried by a joined ratings frame."""
    missing = [c for c in PARTICIPANT_COLUMNS if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings have no participant covariates {missing}; load them with participants=<path>")
    return ratings[list(PARTICIPANT_COLUMNS)].drop_duplicates("participant").reset_index(drop=True)


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
DEFAULT_COEFFICIENTS = {
    # change in expected rating per standard deviation of the feature (over the images)
    "arousal": {"hue": 3.0, "feature_congestion": 5.0, "subband_entropy": -4.0},
    "valence": {"hue": 0.4, "feature_congestion": -0.4, "subband_entropy": 0.3},
}
DEFAULT_LAYER_EFFECTS = {
    # planted non-neutral layers (paper Section 4.4.1, O1; "mixed3d" in the paper is read as mixed4d)
    "arousal": {"conv2d0": 18.0, "mixed4d_5x5_pre_relu": -16.0},
    "valence": {"mixed4d_pool_reduce_pre_relu": 16.0, "mixed5a": -15.0},
}
DEFAULT_GROUP_EFFECTS = {
    # Figure 11's layer types (added to every layer of the type)
    "arousal": {"mixed{N}{m}_pool": 5.0, "mixed{N}{m}_{K}x{K}_pre_relu": -3.0},
    "valence": {"conv2d{L}": 7.0, "mixed{N}{m}": -3.0},
}
DEFAULT_NEUTRAL_LAYERS = ("localresponsenorm0", "mixed3b_3x3_bottleneck_pre_relu")
DEFAULT_BIMODAL = {"mixed3a_1x1_pre_relu": "valence", "mixed4b_3x3": "arousal", "mixed4c_pool_reduce": "both"}


@dataclass
class Simulation:
    """A simulated data set: ratings (joined with covariates), participants, and the planted truth.

    ``truth`` keys: ``model`` (text of the generative model), ``coefficients`` (per axis, per
    feature, in raw feature units per rating point), ``coefficients_per_sd``,
    ``feature_mean``/``feature_sd``, ``layer_effect`` (per axis, per layer, rating points),
    ``expected_layer_mean`` (per axis, per layer, before clipping), ``non_neutral`` (per
    axis: layers whose expected mean is at least ``non_neutral_margin`` from 50),
    ``neutral_layers`` (expected mean exactly 50 on both axes), ``bimodal`` (layer -> axis),
    ``group_effects`` and the parameters.
    """

    ratings: object
    participants: object
    truth: dict = field(default_factory=dict)


def simulate(features, *, n_participants: int = 150, seed: int = 0, coefficients=None, layer_effects=None,
             group_effects=None, neutral_layers=DEFAULT_NEUTRAL_LAYERS, bimodal=None, bimodal_shift: float = 36.0,
             intercept=(50.0, 52.0), layer_sd: float = 3.0, image_sd: float = 1.5, participant_sd: float = 7.0,
             noise_sd: float = 14.0, non_neutral_margin: float = 10.0, round_to: float | None = 1.0) -> Simulation:
    """Simulate arousal/valence ratings of every image in ``features`` (clearly synthetic).

    Generative model, for participant ``p`` rating image ``i`` of layer ``l`` on axis ``a``::

        mu[a, i]   = intercept[a] + sum_f beta[a, f] * z_f(i)        # z: feature standardised over images
                     + group_effect[a, l] + planted[a, l] + u[a, l] + w[a, i]
        rating     = clip(mu[a, i] + b[a, p] + g[p, l] * s[a, l] + e, 0, 100), rounded to ``round_to``

    with ``u ~ N(0, layer_sd)`` per layer, ``w ~ N(0, image_sd)`` per image, participant
    offsets ``b ~ N(0, participant_sd)``, ``e ~ N(0, noise_sd)``. Bimodal layers split the
    participants in two random halves ``g = +-1`` and shift them by ``s = +-bimodal_shift/2``
    on the named axis ("arousal", "valence", or "both": low arousal with high valence vs
    high arousal with low valence). Neutral layers get ``u``, ``w`` and ``planted`` chosen so
    that their expected mean is exactly 50 on both axes. Attitude and self-esteem are drawn
    independently of the ratings (no planted effect, as the paper found none).

    Args:
        features: DataFrame with one row per image: layer, seed and the feature columns
            named in ``coefficients`` (notebook 02's ``features.parquet``); rows with a
            ``status`` other than "ok" or missing features are rated without feature effect.
        n_participants: number of simulated participants (each rates every image).
        seed: seed of the NumPy generator; same seed -> same data.
        coefficients: ``{axis: {feature: rating points per feature sd}}``.
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

    coefficients = DEFAULT_COEFFICIENTS if coefficients is None else coefficients
    layer_effects = DEFAULT_LAYER_EFFECTS if layer_effects is None else layer_effects
    group_effects = DEFAULT_GROUP_EFFECTS if group_effects is None else group_effects
    bimodal = DEFAULT_BIMODAL if bimodal is None else bimodal
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
    mean, sd, z = {}, {}, {}
    for f in feats:
        x = pd.to_numeric(features[f], errors="coerce").to_numpy(float).copy()
        x[~ok] = np.nan
        mean[f], sd[f] = float(np.nanmean(x)), float(np.nanstd(x))
        z[f] = np.nan_to_num((x - mean[f]) / (sd[f] if sd[f] > 0 else 1.0))

    layers = list(dict.fromkeys(img["layer"]))
    layer_pos = {name: i for i, name in enumerate(layers)}
    li = img["layer"].map(layer_pos).to_numpy()
    group_of = {}
    for axis in AXES:
        for pattern in group_effects.get(axis, {}):
            for name in layers_matching(pattern, layers):
                group_of.setdefault(axis, {})[name] = group_effects[axis][pattern]

    mu, layer_effect, expected = {}, {}, {}
    intercepts = dict(zip(AXES, intercept))
    for axis in AXES:
        u = rng.normal(0.0, layer_sd, len(layers))
        w = rng.normal(0.0, image_sd, len(img))
        eff = np.array([group_of.get(axis, {}).get(n, 0.0) + layer_effects.get(axis, {}).get(n, 0.0) for n in layers]) + u
        feat_part = sum(coefficients.get(axis, {}).get(f, 0.0) * z[f] for f in feats) if feats else np.zeros(len(img))
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
    groups = {name: rng.permutation(np.r_[np.ones(n_participants // 2), -np.ones(n_participants - n_participants // 2)])
              for name in bimodal}

    n_img = len(img)
    out = {"participant": np.repeat(pid, n_img), "layer": np.tile(img["layer"].to_numpy(), n_participants),
           "seed": np.tile(img["seed"].to_numpy().astype(np.int64), n_participants)}
    for axis in AXES:
        value = np.tile(mu[axis], n_participants) + np.repeat(offsets[axis], n_img)
        for name, which in bimodal.items():
            if name not in layer_pos or (which != "both" and which != axis):
                continue
            sign = -1.0 if (which == "both" and axis == "valence") else 1.0  # "both": high arousal with low valence
            rows = np.tile(li == layer_pos[name], n_participants)
            value[rows] += sign * bimodal_shift / 2 * np.repeat(groups[name], n_img)[rows]
        value += rng.normal(0.0, noise_sd, value.shape)
        if round_to:
            value = np.round(value / round_to) * round_to
        out[axis] = np.clip(value, 0.0, 100.0)
    ratings = pd.DataFrame(out).merge(people, on="participant", how="left")
    ratings.attrs.update(simulated=True, source=f"ratings.simulate(seed={seed}, n_participants={n_participants})")

    truth = {
        "model": simulate.__doc__.split("Args:")[0].strip(),
        "seed": seed, "n_participants": n_participants,
        "coefficients_per_sd": {a: dict(coefficients.get(a, {})) for a in AXES},
        "coefficients": {a: {f: coefficients.get(a, {}).get(f, 0.0) / (sd[f] or 1.0) for f in feats} for a in AXES},
        "feature_mean": mean, "feature_sd": sd, "intercept": intercepts,
        "layer_effect": layer_effect, "expected_layer_mean": expected,
        "non_neutral": {a: sorted((n for n, m in expected[a].items()
                                   if abs(m - NEUTRAL) >= non_neutral_margin and not (n in bimodal and bimodal[n] in (a, "both"))),
                                  key=layer_pos.get) for a in AXES},
        "neutral_layers": [n for n in neutral_layers if n in layer_pos],
        "bimodal": dict(bimodal), "bimodal_shift": bimodal_shift,
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

    cols = list(RATING_COLUMNS)
    df = ratings[cols].copy()
    df["simulated"] = bool(ratings.attrs.get("simulated", False))
    io.save_table(df, path)
    if participants_path is not None:
        io.save_table(participants_of(ratings), participants_path)
    return Path(path)
