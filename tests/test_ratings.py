"""Ratings format: validation errors name file/row/column/value; simulation plants what it says."""
from __future__ import annotations

import re
import numpy as np
import pandas as pd
import pytest

from helpers import io
from helpers.nets import layers
from helpers.study import ratings, simulate


def synthetic_features(seed: int = 1000, n_seeds: int = 5) -> pd.DataFrame:
    """A features table shaped like notebook 02's (144 layers x n_seeds), with correlated columns."""
    rng = np.random.default_rng(seed)
    n = len(layers.LAYERS)
    c, h, e = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    rows = []
    for i, layer in enumerate(layers.LAYERS):
        for s in range(n_seeds):
            z = rng.normal(size=6) * 0.3
            rows.append(dict(path=f"{layer}/seed{s}.png", layer=layer, seed=s, hue=0.4 + 0.1 * (h[i] + z[0]), hue_circular=0.4,
                             saturation=0.3 + 0.05 * (h[i] + 0.5 * c[i] + z[1]), brightness=0.5 + 0.05 * (h[i] + 0.5 * c[i] + z[2]),
                             jpeg_bytes=50000 + 8000 * (c[i] + z[3]), png_bytes=90000 + 10000 * c[i],
                             feature_congestion=4 + c[i] + z[4], subband_entropy=3 + 0.3 * (0.4 * c[i] + e[i] + z[5]),
                             spectrum_slope=-2.0, edge_density=0.1, status="ok", error=""))
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def features():
    return synthetic_features()


@pytest.fixture(scope="module")
def sim(features):
    return simulate.ratings(features, n_participants=60, seed=3)


def _good_rows():
    return pd.DataFrame({"participant": ["p1", "p1", "p2", "p2"], "layer": ["conv2d0", "mixed4a", "conv2d0", "mixed4a"],
                         "seed": [0, 1, 0, 1], "arousal": [10, 55.5, 100, 0], "valence": [50, 60, 70, 80]})


def _people():
    return pd.DataFrame({"participant": ["p1", "p2"], "attitude": ["neutral", "positive"], "self_esteem": [3, 5]})


def test_load_round_trip_csv_and_parquet(tmp_path):
    for suffix in (".csv", ".parquet"):
        io.save_table(_good_rows(), tmp_path / f"r{suffix}")
        io.save_table(_people(), tmp_path / f"p{suffix}")
        df = ratings.load(tmp_path / f"r{suffix}", participants=tmp_path / f"p{suffix}")
        assert len(df) == 4 and df["arousal"].dtype == float and df["seed"].dtype == np.int64
        assert df.loc[df.participant == "p2", "self_esteem"].tolist() == [5, 5]
        assert df.attrs["simulated"] is False
        assert "attitude" not in ratings.load(tmp_path / f"r{suffix}", participants="")


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d.drop(columns=["valence"]), ["missing column 'valence'", "found participant, layer, seed, arousal"]),
    (lambda d: d.rename(columns={"valence": "Valence"}), ["missing column 'valence'", "did you mean 'Valence'?"]),
    (lambda d: d.assign(arousal=[10, 140, 100, 0]), ["row 2 (line 3 of the CSV), column 'arousal'", "'140'", "0 to 100"]),
    (lambda d: d.assign(valence=[50, 60, -1, 80]), ["row 3", "column 'valence'", "'-1'"]),
    (lambda d: d.assign(arousal=["10", "high", "100", "0"]), ["row 2", "column 'arousal'", "'high'", "a number"]),
    (lambda d: d.assign(valence=[50, None, 70, 80]), ["row 2", "column 'valence'", "empty cell"]),
    (lambda d: d.assign(layer=["conv2d0", "mixed9z", "conv2d0", "mixed4a"]), ["row 2", "column 'layer'", "'mixed9z'", "layers.LAYERS"]),
    (lambda d: d.assign(seed=[0, 1, 0, "x"]), ["row 4", "column 'seed'", "'x'", "integer"]),
    (lambda d: d.assign(seed=[0, 1, 0, 0], layer=["conv2d0", "mixed4a", "conv2d0", "conv2d0"]),
     ["row 3 (line 4 of the CSV) and row 4 (line 5 of the CSV): duplicate", "('p2', 'conv2d0', '0')"]),
])
def test_bad_ratings_file_names_row_column_and_value(tmp_path, mutate, expected):
    """Rows count from 1 over the data rows (line 1 of a CSV is its heading, so row N is line N+1)."""
    path = tmp_path / "bad.csv"
    io.save_table(mutate(_good_rows()), path)
    with pytest.raises(ratings.RatingsFormatError) as err:
        ratings.load(path)
    msg = str(err.value)
    assert str(path) in msg and "problem(s) with the ratings format" in msg
    for part in expected:
        assert part in msg, msg
    assert ("did you mean" in msg) == any("did you mean" in e for e in expected)  # mixed9z is near no layer


def test_row_numbers_match_the_line_a_spreadsheet_shows(tmp_path):
    """The CSV's own text: the bad value sits on the line the message names."""
    path = tmp_path / "bad.csv"
    path.write_text("participant,layer,seed,arousal,valence\np1,conv2d0,0,10,50\np1,mixed4a,1,55.5,60\n"
                    "p2,conv2d0,0,100,70\np2,mixed4a,1,140,80\n")
    with pytest.raises(ratings.RatingsFormatError) as err:
        ratings.load(path)
    [problem] = err.value.problems
    line = int(problem.split("line ")[1].split()[0])
    assert problem.startswith("row 4 (line 5 of the CSV)") and path.read_text().splitlines()[line - 1] == "p2,mixed4a,1,140,80"
    io.save_table(_good_rows().assign(arousal=[10, 55.5, 100, 140]), tmp_path / "bad.parquet")
    with pytest.raises(ratings.RatingsFormatError, match=r"- row 4, column 'arousal'"):
        ratings.load(tmp_path / "bad.parquet")


def test_problems_are_listed_in_file_order(tmp_path):
    path = tmp_path / "bad.csv"
    bad = _good_rows().assign(arousal=[10, 55, 100, 101], valence=[50, -3, 70, 80], layer=["x", "conv2d0", "mixed4a", "mixed4a"])
    io.save_table(bad.drop(columns=["seed"]).assign(seed=[0, 1, 0, 1]).drop(columns=["participant"]), path)
    with pytest.raises(ratings.RatingsFormatError) as err:
        ratings.load(path)
    assert err.value.problems[0].startswith("missing column 'participant'")  # the whole file first
    io.save_table(bad, path)
    with pytest.raises(ratings.RatingsFormatError) as err:
        ratings.load(path)
    assert [re.match(r"row (\d+) .*?, column '(\w+)'", p).groups() for p in err.value.problems] == [
        ("1", "layer"), ("2", "valence"), ("4", "arousal")], err.value.problems


def test_unknown_layer_suggests_the_nearest_name(tmp_path):
    path = tmp_path / "bad.csv"
    io.save_table(_good_rows().assign(layer=["Conv2d0", "mixed4a_3x3_prerelu", "conv2d0", "mixed4a"]), path)
    with pytest.raises(ratings.RatingsFormatError) as err:
        ratings.load(path)
    first, second = err.value.problems
    assert first.endswith("did you mean 'conv2d0'?") and "got 'Conv2d0'" in first
    assert second.endswith("did you mean 'mixed4a_3x3_pre_relu'?") and second.startswith("row 2")


def test_semicolon_separated_file_shows_the_columns_it_found(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("participant;layer;seed;arousal;valence\np1;conv2d0;0;10,5;50\n")
    with pytest.raises(ratings.RatingsFormatError) as err:
        ratings.load(path)
    [problem] = err.value.problems
    assert "separated by ';'" in problem and "participant, layer, seed, arousal, valence" in problem
    assert "missing column" not in str(err.value)  # one sentence, not five missing columns
    (tmp_path / "p.csv").write_text("participant;attitude;self_esteem\np1;neutral;3\n")
    io.save_table(_good_rows(), tmp_path / "r.csv")
    with pytest.raises(ratings.RatingsFormatError) as err:
        ratings.load(tmp_path / "r.csv", participants=tmp_path / "p.csv")
    assert str(err.value).startswith(f"{tmp_path / 'p.csv'}: 1 problem(s) with the participants format")
    assert "participant, attitude, self_esteem" in str(err.value)


def test_every_problem_is_listed_not_just_the_first(tmp_path):
    path = tmp_path / "bad.csv"
    io.save_table(_good_rows().assign(arousal=[101, 102, 103, 50], layer=["x", "conv2d0", "mixed4a", "conv2d0"]), path)
    with pytest.raises(ratings.RatingsFormatError) as err:
        ratings.load(path)
    assert len(err.value.problems) == 4


def test_bad_participants_file(tmp_path):
    io.save_table(_good_rows(), tmp_path / "r.csv")
    io.save_table(_people().assign(attitude=["neutral", "happy"], self_esteem=[3, 7]), tmp_path / "p.csv")
    with pytest.raises(ratings.RatingsFormatError) as err:
        ratings.load(tmp_path / "r.csv", participants=tmp_path / "p.csv")
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'p.csv'}: 2 problem(s) with the participants format:")  # not "ratings format"
    assert "row 2 (line 3 of the CSV), column 'attitude': got 'happy'" in msg and "column 'self_esteem': got '7'" in msg
    io.save_table(_people().iloc[:1], tmp_path / "p1.csv")
    with pytest.raises(ratings.RatingsFormatError, match="'p2'; expected a participant listed in"):
        ratings.load(tmp_path / "r.csv", participants=tmp_path / "p1.csv")


def test_missing_participants_come_in_the_same_pass_as_the_other_problems(tmp_path):
    rows = pd.concat([_good_rows(), _good_rows().assign(participant=["p3"] * 4, seed=[2, 3, 4, 5])], ignore_index=True)
    io.save_table(rows.assign(arousal=[10, 55, 100, 0, 5, 6, 7, 500]), tmp_path / "r.csv")
    io.save_table(_people().iloc[:1].assign(self_esteem=[9]), tmp_path / "p.csv")
    with pytest.raises(ratings.RatingsFormatError) as err:
        ratings.load(tmp_path / "r.csv", participants=tmp_path / "p.csv")
    ratings_problems, [(source, what, people_problems)] = err.value.problems, err.value.also
    assert [p[:5] for p in ratings_problems] == ["row 3", "row 5", "row 8"], ratings_problems  # file order
    assert "got 'p2'; expected a participant listed in" in ratings_problems[0] and "1 more row(s)" in ratings_problems[0]
    assert "got 'p3'" in ratings_problems[1] and "3 more row(s)" in ratings_problems[1] and "'500'" in ratings_problems[2]
    assert (source, what) == (str(tmp_path / "p.csv"), "participants") and "'9'" in people_problems[0]
    assert f"{tmp_path / 'p.csv'}: 1 problem(s) with the participants format" in str(err.value)


def test_a_1_to_9_scale_warns(tmp_path):
    io.save_table(_good_rows().assign(arousal=[1, 5, 9, 3], valence=[2, 5, 7, 9]), tmp_path / "r.csv")
    with pytest.warns(ratings.RatingsScaleWarning, match="from 1 to 9: this looks like a 1-9 rating scale"):
        df = ratings.load(tmp_path / "r.csv")
    assert df["arousal"].tolist() == [1, 5, 9, 3]  # a warning: the values are kept as they are
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        io.save_table(_good_rows(), tmp_path / "ok.csv")
        ratings.load(tmp_path / "ok.csv")  # 0-100 sliders: no warning
        io.save_table(_good_rows().assign(arousal=[1, 5, 9, 3.5], valence=[2, 5, 7, 9]), tmp_path / "half.csv")
        ratings.load(tmp_path / "half.csv")  # a half step is no 1-9 scale


def test_load_rejects_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        ratings.load(tmp_path / "nope.csv")
    (tmp_path / "r.xlsx").write_text("x")
    with pytest.raises(ValueError, match=".xlsx"):
        ratings.load(tmp_path / "r.xlsx")


def test_simulation_is_valid_labelled_and_seeded(features, sim, tmp_path):
    r = sim.ratings
    assert len(r) == 60 * len(features) and r.attrs["simulated"] is True
    assert r["arousal"].between(0, 100).all() and r["valence"].between(0, 100).all()
    ratings.validate(r)  # the simulation obeys the documented format
    again = simulate.ratings(features, n_participants=60, seed=3)
    pd.testing.assert_frame_equal(r, again.ratings)
    assert not simulate.ratings(features, n_participants=60, seed=4).ratings["arousal"].equals(r["arousal"])
    path = ratings.save(r, tmp_path / "ratings.parquet", participants_path=tmp_path / "participants.csv")
    back = ratings.load(path, participants=tmp_path / "participants.csv")
    assert back["simulated"].all() and back.attrs["simulated"] is True and len(back) == len(r)
    assert set(sim.participants["attitude"]) <= set(ratings.ATTITUDE_LEVELS)


def test_simulation_plants_what_truth_says(features, sim):
    r, t = sim.ratings, sim.truth
    means = r.groupby("layer")[["arousal", "valence"]].mean()
    for layer in t["neutral_layers"]:
        assert abs(means.loc[layer, "arousal"] - 50) < 4 and abs(means.loc[layer, "valence"] - 50) < 4
    for axis in ("arousal", "valence"):
        for layer in t["non_neutral"][axis]:
            assert np.sign(means.loc[layer, axis] - 50) == np.sign(t["expected_layer_mean"][axis][layer] - 50)
    assert t["bimodal"] == simulate.DEFAULT_BIMODAL
    assert t["planted_layer_effects"]["arousal"]["conv2d0"] == 10.0 and t["non_neutral"]["valence"]
    assert t["missing_planted"] == [] and set(simulate.PAPER_NAMED_LAYERS) <= set(layers.LAYERS)


def test_simulation_is_calibrated_to_the_papers_sizes(features):
    """Selected-model R^2 near the paper's 0.37 / 0.033, Table 1-sized r, a handful of non-neutral layers."""
    from helpers.study import effects, simulate, stats

    for seed in (0, 1):
        s = simulate.ratings(features, n_participants=150, seed=seed)
        r2 = stats.regression(s.ratings, features).groupby(["response", "model"])["r2"].first()
        assert 0.25 < r2["arousal", "selected"] < 0.5 and r2["valence", "selected"] < 0.12, r2
        cor = stats.correlations(s.ratings, features).set_index(["row", "col"])["r"]
        assert 0.25 < cor["CFC", "Arousal"] < 0.6 and -0.4 < cor["CSE", "Arousal"] < -0.05
        assert max(abs(cor[f, "Valence"]) for f in ("Hue", "CFC", "CSE")) < 0.3
        sig = effects.layer_tests(s.ratings).groupby("axis")["significant"].sum()
        assert 2 <= sig["arousal"] <= 15 and 2 <= sig["valence"] <= 15, sig
    strong = simulate.ratings(features, n_participants=150, seed=0, r2={"arousal": 0.8, "valence": 0.033})
    r2 = stats.regression(strong.ratings, features).groupby(["response", "model"])["r2"].first()
    assert r2["arousal", "selected"] > 0.65  # the target moves the result: the calibration is not a coincidence


def test_simulation_on_a_reduced_layer_set_reports_missing_planted_layers(features):
    few = features[features.layer.isin(layers.LAYERS[::8])]
    s = simulate.ratings(few, n_participants=40, seed=0)
    present = set(few.layer)
    assert set(s.truth["missing_planted"]) == set(simulate.PAPER_NAMED_LAYERS) - present
    assert set(s.truth["bimodal"]) <= present and np.isfinite(s.truth["feature_scale"]["arousal"])


def test_simulate_rejects_bad_arguments(features):
    with pytest.raises(ValueError, match="unknown layers"):
        simulate.ratings(features, bimodal={"mixed9z": "valence"})
    with pytest.raises(ValueError, match="bimodal axis"):
        simulate.ratings(features, bimodal={"conv2d0": "pleasure"})
    with pytest.raises(ValueError, match="lack columns"):
        simulate.ratings(features.drop(columns=["seed"]))
    with pytest.raises(ValueError, match="give r2"):
        simulate.ratings(features, r2=None)
    with pytest.raises(ValueError, match="subband_entropy"):
        simulate.ratings(features.drop(columns=["subband_entropy"]))


def test_layer_groups_match_figure_11():
    assert layers.layers_matching("conv2d{L}") == ["conv2d0", "conv2d1", "conv2d2"]
    assert len(layers.layers_matching("mixed{N}{m}")) == 9 and "mixed4e" in layers.layers_matching("mixed{N}{m}")
    assert len(layers.layers_matching("mixed{N}{m}_pool")) == 9
    kk = layers.layers_matching("mixed{N}{m}_{K}x{K}_pre_relu")
    assert len(kk) == 18 and "mixed3a_3x3_bottleneck_pre_relu" not in kk
