"""The one profile resolver: each notebook's settings per profile, given values first, read by name."""
from __future__ import annotations

import nbformat
import pytest

from helpers import paths, profiles
from helpers.nets import layers


def test_none_takes_the_profiles_value_and_a_given_value_wins():
    assert profiles.resolve("05", "paper").fig2_seeds == [0, 1, 2, 3, 4]
    c = profiles.resolve("05", "class", fig2_seeds=None, s1_seeds=[3])
    assert c.fig2_seeds == [0, 1, 2] and c.s1_seeds == [3] and c["s1_seeds"] == [3]
    assert profiles.resolve("06", "paper").sweep_blocks == [f"B{i}" for i in range(1, 14)]
    assert profiles.resolve("08", "paper", n_images=0).n_images == 0  # 0 ("all") is a value, not "the profile's"
    with pytest.raises(ValueError, match="not settings of notebook 05"):
        profiles.resolve("05", "paper", fig5_seeds=None)
    with pytest.raises(ValueError, match="PROFILE must be one of"):
        profiles.resolve("05", "demo")
    with pytest.raises(ValueError, match="notebook must be one of"):
        profiles.resolve("03", "paper")
    with pytest.raises(AttributeError, match="no setting 'fig5_seeds'"):
        profiles.resolve("05", "paper").fig5_seeds


def test_settings_hold_every_setting_by_name_and_copy_the_tables():
    cfg = profiles.resolve("01", "class")
    assert list(cfg) == list(profiles.NOTEBOOKS["01"]) and dict(cfg)["size"] == 256 and cfg.layers == list(layers.CLASS_LAYERS)
    cfg.layers.append("conv2d0")  # a copy: the table is unchanged
    assert profiles.resolve("01", "class").layers == list(layers.CLASS_LAYERS)
    assert {k: cfg[k] for k in ("size", "n_renders")} == {"size": 256, "n_renders": 10}


def test_the_papers_values_and_the_smoke_settings():
    """The paper profile keeps the papers' settings; smoke is small (what make smoke and CI run)."""
    assert {k: v for k, v in profiles.resolve("01", "paper").items() if k != "layers"} == dict(
        seeds=[0, 1, 2, 3, 4], size=800, n_renders=50, iter_n=1, step=2.0, octave_n=5, octave_scale=1.4, tile_size=512,
        start="study", source="pretrained", threads=None, workers="auto")
    assert profiles.resolve("05", "paper").fig2_classes == [832, 967, 528, 978]
    assert profiles.resolve("06", "paper").fig5_classes == [832, 967, 980, 528]
    assert dict(profiles.resolve("07", "paper")) == {
        "corpus_layout": "imagefolder-split", "n_per_style": None, "split": None, "image_size": 224, "demo_corpus": None,
        "weights": "pretrained", "batch_size": 32, "download": True, "rebuild": False, "demo_queries": False}
    smoke = profiles.resolve("07", "smoke")
    assert smoke.weights == "random" and not smoke.download and smoke.demo_corpus == {"n": 20, "size": 96}
    assert profiles.resolve("04", "smoke").bins == 51 and profiles.resolve("04", "class").bins == 101
    assert dict(profiles.resolve("08", "smoke")) == {"n_images": 12, "n_participants": 4, "display_size": 128,
                                                      "power_n": [4, 12], "power_sims": 4}


def test_every_notebook_with_a_table_resolves_its_settings_there():
    """A notebook that scales with the profile calls profiles.resolve with its own number (no inline resolution)."""
    for nb_number in profiles.NOTEBOOKS:
        [path] = paths.notebooks().glob(f"{nb_number}-*.ipynb")
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert f'profiles.resolve("{nb_number}", PROFILE' in code, path.name
        assert "PROFILE ==" not in code and "biggan.sizes" not in code, path.name


def test_profile_check():
    assert profiles.check("smoke") == "smoke"
    with pytest.raises(ValueError, match="PROFILE must be one of"):
        profiles.check("Paper")


def test_notebook_01s_layers_are_checked_before_the_network_loads():
    assert profiles.resolve("01", "smoke", layers=["mixed4a", "conv2d0"]).layers == ["mixed4a", "conv2d0"]
    assert profiles.resolve("01", "smoke", layers="mixed4c").layers == "mixed4c"
    with pytest.raises(ValueError, match=r"LAYERS: 'Mixed4b' \(did you mean 'mixed4b'\?\), 'xyz' are not among the 144"):
        profiles.resolve("01", "class", layers=["mixed4a", "Mixed4b", "xyz"])
    with pytest.raises(ValueError, match="a layer name or a list of them, got 3"):
        profiles.resolve("01", "class", layers=3)


def test_na_profile_is_the_default_profile(monkeypatch):
    monkeypatch.delenv("NA_PROFILE", raising=False)
    assert (profiles.default(), profiles.default(cli=True)) == ("class", "smoke")
    monkeypatch.setenv("NA_PROFILE", " smoke ")
    assert profiles.default() == profiles.default(cli=True) == "smoke"
    monkeypatch.setenv("NA_PROFILE", "tiny")
    with pytest.raises(ValueError, match="NA_PROFILE must be one of paper, class, smoke, got 'tiny'"):
        profiles.default()
