"""The loading layer: stand-ins work, missing weights fail clearly, files are verified."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from helpers import download, paths, sources
from helpers.nets import models


@pytest.fixture(scope="module")
def biggan():
    return models.load("biggan-deep-256", source="random", seed=0)


def test_biggan_stand_in_gives_finite_textured_images(biggan):
    from pytorch_pretrained_biggan import truncated_noise_sample

    z = torch.from_numpy(truncated_noise_sample(truncation=0.4, batch_size=2, seed=5678))
    y = torch.zeros(2, 1000)
    y[0, 832] = y[1, 967] = 1
    with torch.no_grad():
        out = biggan(z, y, 0.4)
    assert out.shape == (2, 3, 256, 256)
    assert torch.isfinite(out).all()
    assert out.std() > 0.05, "stand-in output is (nearly) constant"
    assert not torch.allclose(out[0], out[1]), "different classes/latents must give different images"


def test_biggan_stand_in_is_labelled_and_seeded(biggan):
    assert models.is_stand_in(biggan)
    assert "STAND-IN" in models.describe(biggan)
    assert biggan.na_info == {"name": "biggan-deep-256", "source": "random", "seed": 0, "file": None, "sha256": None,
                              "config": models.BIGGAN_FALLBACK}
    assert not any(p.requires_grad for p in biggan.parameters())
    again = models.load("biggan-deep-256", source="random", seed=0)
    other = models.load("biggan-deep-256", source="random", seed=1)
    w = "generator.layers.1.conv_1.weight_orig"
    assert torch.equal(biggan.state_dict()[w], again.state_dict()[w])
    assert not torch.equal(biggan.state_dict()[w], other.state_dict()[w])


def test_biggan_trainable_parameters_match_paper(biggan):
    # Janik (2023): "55.9M parameters" is the trainable count of the network built from the package's config
    assert sum(p.numel() for p in biggan.parameters()) == 55_880_833
    assert sum(v.numel() for v in biggan.state_dict().values()) == 58_573_185  # the size claim in SPECS
    assert "58,573,185" in sources.WEIGHTS["biggan-deep-256"].size


def test_biggan_config_and_urls_come_from_the_package():
    from pytorch_pretrained_biggan.convert_tf_to_pytorch import BigGAN256
    from pytorch_pretrained_biggan.model import PRETRAINED_CONFIG_ARCHIVE_MAP, PRETRAINED_MODEL_ARCHIVE_MAP

    assert sources.WEIGHTS["biggan-deep-256"].urls[0] == PRETRAINED_MODEL_ARCHIVE_MAP["biggan-deep-256"]
    assert sources.BIGGAN_CONFIG.urls[0] == PRETRAINED_CONFIG_ARCHIVE_MAP["biggan-deep-256"]
    assert not hasattr(models, "BIGGAN_DEEP_256_CONFIG")  # no hand-typed copy
    config, source = models.biggan_config(download_missing=False)
    assert config is BigGAN256 and source == models.BIGGAN_FALLBACK
    assert sorted(vars(BigGAN256)) == sorted(models.BIGGAN_CONFIG_FIELDS)


def test_biggan_config_beside_the_weights_and_in_the_cache(tmp_path):
    from pytorch_pretrained_biggan.convert_tf_to_pytorch import BigGAN256

    w = tmp_path / "pytorch_model.bin"
    w.write_bytes(b"")
    changed = dict(BigGAN256.to_dict(), n_stats=7)
    (tmp_path / "config.json").write_text(json.dumps(changed))
    config, source = models.biggan_config(w)
    assert config.n_stats == 7 and "beside the weights" in source  # the file's own config wins over the constant
    (tmp_path / "config.json").write_text("{not json")
    download.record_path(tmp_path / "config.json").unlink()
    with pytest.raises(models.WeightsFileError, match="not a BigGAN config") as err:
        models.biggan_config(w)
    assert "config.json" in str(err.value) and "weights_only" not in str(err.value)
    cached = paths.cache() / sources.BIGGAN_CONFIG.filename
    cached.write_text(BigGAN256.to_json_string())
    try:
        config, source = models.biggan_config(download_missing=False)
        assert config.to_dict() == json.loads(BigGAN256.to_json_string()) and "cached from" in source
    finally:
        cached.unlink()
        download.record_path(cached).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def rehearsal_biggan(tmp_path_factory):
    from helpers.testing import rehearsal

    return rehearsal.write_biggan_deep_256(tmp_path_factory.mktemp("biggan-rehearsal"), seed=0)


def test_rehearsal_biggan_is_the_package_format(rehearsal_biggan):
    from pytorch_pretrained_biggan.convert_tf_to_pytorch import BigGAN256

    folder = rehearsal_biggan.parent
    assert rehearsal_biggan.name == "pytorch_model.bin"
    assert (folder / "config.json").read_text() == BigGAN256.to_json_string()  # as convert_tf_to_pytorch.main writes it
    state = torch.load(rehearsal_biggan, weights_only=True)
    assert "generator.conv_to_rgb.weight_v" in state and "generator.gen_z.weight_u" in state
    assert state._metadata["generator.conv_to_rgb"]["spectral_norm"]["weight.version"] == 1
    # never under the download's pinned names: a stand-in there would (rightly) fail the pin
    assert not (folder / sources.WEIGHTS["biggan-deep-256"].filename).exists()


def test_biggan_pins_are_the_catalog_sha256_and_the_config_pin_is_the_package_constant():
    """The config's pin checks offline: the package's BigGAN256 constant as JSON has exactly those bytes (715)."""
    from pytorch_pretrained_biggan.convert_tf_to_pytorch import BigGAN256

    data = BigGAN256.to_json_string().encode()
    assert len(data) == 715 and hashlib.sha256(data).hexdigest() == sources.BIGGAN_CONFIG.sha256
    assert sources.WEIGHTS["biggan-deep-256"].sha256 == "5900ef4065047e3aa0d1b66197b7f2664dceb59b27080e414ad57e203c485bc5"
    assert "234,411,737 bytes" in sources.WEIGHTS["biggan-deep-256"].size
    assert models.status().set_index("name").loc["biggan-deep-256", "pin"] == sources.WEIGHTS["biggan-deep-256"].sha256


def _outputs(model, train=False):
    from helpers.synthesis import biggan as synthesis_biggan

    z, y = synthesis_biggan.latents([832, 967, 5])
    model.train(train)
    with torch.no_grad():
        return model(z, y, 0.4)


def test_rehearsal_biggan_loads_everywhere_and_equals_from_pretrained(rehearsal_biggan, monkeypatch):
    from pytorch_pretrained_biggan import BigGAN

    from helpers.synthesis import biggan as synthesis_biggan

    folder = rehearsal_biggan.parent
    ref = BigGAN.from_pretrained(str(folder))  # the package's own loader on the same folder (torch.load, strict=False)
    ref_state = {k: v.clone() for k, v in ref.state_dict().items()}
    ref_eval, ref_train = _outputs(ref), _outputs(ref, train=True)  # train: one power iteration (README example)
    cache_file = paths.cache() / sources.WEIGHTS["biggan-deep-256"].filename
    cache_config = paths.cache() / sources.BIGGAN_CONFIG.filename
    routes = {"path=": dict(path=rehearsal_biggan)}
    monkeypatch.setenv("NA_WEIGHTS_BIGGAN_DEEP_256", str(rehearsal_biggan))
    try:
        for route in ("path=", "env"):
            m = models.load("biggan-deep-256", progress=False, **routes.get(route, {}))
            assert m.na_info["source"] == "rehearsal" and models.is_stand_in(m), route
            assert "STAND-IN" in models.describe(m) and "beside the weights" in m.na_info["config"], route
            state = m.state_dict()
            assert state.keys() == ref_state.keys() and all(torch.equal(state[k], ref_state[k]) for k in state), route
            assert torch.equal(_outputs(m), ref_eval), route  # eval mode: stored u/v
            z, y = synthesis_biggan.latents([832, 967, 5])
            ours = synthesis_biggan.generate(m, [832, 967, 5], spectral_norm="train", batch_size=3)
            assert np.array_equal(ours, synthesis_biggan.to_uint8(ref_train)), route
            assert not m.training
        # in the cache a file has the download's name, whose sha256 is pinned: the stand-in is refused there
        monkeypatch.delenv("NA_WEIGHTS_BIGGAN_DEEP_256")
        cache_file.symlink_to(rehearsal_biggan)
        cache_config.symlink_to(folder / "config.json")
        with pytest.raises(download.ChecksumError, match="pinned"):
            models.load("biggan-deep-256", progress=False)
    finally:
        for f in (cache_file, cache_config):
            f.unlink(missing_ok=True)
            download.record_path(f).unlink(missing_ok=True)


def test_biggan_file_without_weight_v_is_refused(rehearsal_biggan, tmp_path):
    state = torch.load(rehearsal_biggan, weights_only=True)  # keeps torch's _metadata (spectral-norm version 1)
    for k in [k for k in state if k.endswith(".weight_v")]:
        del state[k]
    torch.save(state, tmp_path / "no-v.bin")
    with pytest.raises(models.WeightsFileError, match=r"missing \d+ of its 602 keys, such as .*weight_v") as err:
        models.load("biggan-deep-256", path=tmp_path / "no-v.bin", progress=False)
    assert "no-v.bin" in str(err.value)


def test_biggan_old_config_layout_is_refused(rehearsal_biggan, tmp_path):
    # a checkpoint with other channel widths (e.g. the hand-typed config this project once had) is named, not loaded
    state = torch.load(rehearsal_biggan, weights_only=True)
    state["generator.layers.6.conv_3.bias"] = torch.zeros(512)
    torch.save(state, tmp_path / "shapes.bin")
    with pytest.raises(models.WeightsFileError, match=r"generator.layers.6.conv_3.bias \(512,\) in the file vs \(1024,\)"):
        models.load("biggan-deep-256", path=tmp_path / "shapes.bin", progress=False)


def _bad_files(name, folder, good):
    """Three wrong files for network ``name``: 100 kB of random bytes, a truncated real-format file, another network's."""
    import os

    suffix = {"inception5h": ".pb", "biggan-deep-256": ".bin", "resnet152": ".pth", "alexnet": ".pth"}[name]
    rand = folder / f"random-{name}{suffix}"
    rand.write_bytes(os.urandom(100_000))
    trunc = folder / f"truncated-{name}{good.suffix}"
    data = good.read_bytes()
    trunc.write_bytes(data[: len(data) // 2])
    other = {"inception5h": "resnet152", "biggan-deep-256": "resnet152", "resnet152": "biggan-deep-256", "alexnet": "resnet152"}[name]
    return {"random bytes": rand, "truncated": trunc, "wrong network": (other, folder / f"wrong-{name}{suffix}")}


@pytest.fixture(scope="module")
def good_files(tmp_path_factory, rehearsal_biggan):
    from helpers.testing import rehearsal

    folder = tmp_path_factory.mktemp("good")
    files = {"biggan-deep-256": rehearsal_biggan, "resnet152": rehearsal.write_resnet152(folder, seed=0)}
    files["alexnet"] = rehearsal.write_alexnet(folder, seed=0)
    if hasattr(rehearsal, "write_inception5h_zip"):  # the inception owner's real-format writer
        files["inception5h"] = rehearsal.write_inception5h_zip(folder / "inception5h.zip")
    else:  # lucent's .pth layout is a torch.save'd state dict as well
        net = models.load("inception5h", source="random", seed=0)
        torch.save(net.state_dict(), folder / "inception5h.pth")
        files["inception5h"] = folder / "inception5h.pth"
    return files


@pytest.mark.parametrize("name", models.NAMES)
def test_bad_files_give_one_message(name, good_files, tmp_path):
    for kind, f in _bad_files(name, tmp_path, good_files[name]).items():
        if kind == "wrong network":
            other, f = f
            f.symlink_to(good_files[other])
        with pytest.raises(models.WeightsFileError) as err:
            models.load(name, path=f, progress=False)
        msg = str(err.value)
        for needle in (name, str(f), f"{f.stat().st_size:,} bytes", download.sha256sum(f), "expected:", "delete",
                       sources.WEIGHTS[name].url):
            assert needle in msg, (kind, needle, msg)
        assert "weights_only" not in msg and "Traceback" not in msg, (kind, msg)
        assert err.value.reason.startswith("not a"), (kind, msg)
        assert err.value.__cause__ is None and err.value.__suppress_context__, kind  # no torch advice in a chained traceback
        if kind == "wrong network" and name != "inception5h":
            assert "keys" in err.value.reason, msg


def test_rehearsal_resnet_loads_by_path_and_env_but_not_under_the_pinned_name(good_files, monkeypatch, tmp_path):
    from helpers.testing import rehearsal

    f = good_files["resnet152"]
    assert f.name == rehearsal.RESNET_REHEARSAL_NAME
    state = torch.load(f, weights_only=True)
    assert state.keys() == models.load("resnet152", source="random").state_dict().keys()
    net = models.load("resnet152", path=f, progress=False)
    assert net.na_info["source"] == "rehearsal" and models.is_stand_in(net)
    monkeypatch.setenv("NA_WEIGHTS_RESNET152", str(f))
    assert models.load("resnet152", progress=False).na_info["file"] == str(f)
    with pytest.raises(ValueError, match="sha256 prefix is pinned"):
        rehearsal.write_resnet152(tmp_path / sources.WEIGHTS["resnet152"].filename)


@pytest.mark.parametrize("name", ["resnet152", "alexnet"])
def test_rehearsal_torchvision_file_is_torchvisions_layout_and_labelled(name, good_files, monkeypatch):
    """ResNet-152 and AlexNet rehearsal files: the keys and shapes of torchvision's own state dict, loaded by
    $NA_WEIGHTS_<NAME> as source 'rehearsal'; the AlexNet one feeds the CNN measures, labelled stand-in."""
    f = good_files[name]
    state = torch.load(f, weights_only=True)
    ref = models.load(name, source="random").state_dict()
    assert {k: v.shape for k, v in state.items()} == {k: v.shape for k, v in ref.items()}
    monkeypatch.setenv(sources.WEIGHTS[name].env_var, str(f))
    net = models.load(name, progress=False)
    assert net.na_info["source"] == "rehearsal" and net.na_info["file"] == str(f)
    if name == "alexnet":
        from helpers.measures import aesthetics_cnn

        conv = aesthetics_cnn.alexnet_conv1()
        assert conv.is_stand_in, conv.description
        vals = aesthetics_cnn.cnn_measures(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8), cnn=conv)
        assert all(np.isfinite(v) for v in vals.values())


def test_resnet_stand_in_and_local_file(tmp_path):
    net = models.load("resnet152", source="random", seed=3)
    with torch.no_grad():
        out = net(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 1000) and torch.isfinite(out).all() and out.std() > 0
    f = tmp_path / "my-resnet.pth"
    torch.save(net.state_dict(), f)
    loaded = models.load("resnet152", path=f)
    assert loaded.na_info["source"] == "pretrained" and len(loaded.na_info["sha256"]) == 64
    assert not models.is_stand_in(loaded)  # no rehearsal marker beside it
    assert "pretrained weights my-resnet.pth" in models.describe(loaded)
    # the sha256 was recorded at first load; a changed file is caught on the next load
    f.write_bytes(f.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(download.ChecksumError, match="recorded at first download"):
        models.load("resnet152", path=f)


def test_pinned_prefix_rejects_a_wrong_cached_file():
    cached = paths.cache() / sources.WEIGHTS["resnet152"].filename
    cached.write_bytes(b"not the real resnet")
    try:
        with pytest.raises(download.ChecksumError, match="394f9c45"):
            models.load("resnet152", source="pretrained", progress=False)
    finally:
        cached.unlink()


@pytest.mark.parametrize("name", models.NAMES)
def test_missing_weights_fail_with_one_clear_message(name):
    with pytest.raises(models.WeightsUnavailable) as err:
        models.load(name, source="pretrained", progress=False)
    msg = str(err.value)
    spec = sources.WEIGHTS[name]
    for needle in (name, spec.url, spec.filename, "sha256", str(paths.cache()), "path=", spec.env_var,
                   'PROFILE = "smoke"', "make lab PROFILE=smoke"):
        assert needle in msg


def test_env_var_points_at_a_local_file(tmp_path, monkeypatch):
    f = tmp_path / "r.pth"
    torch.save(models.load("resnet152", source="random").state_dict(), f)
    monkeypatch.setenv("NA_WEIGHTS_RESNET152", str(f))
    assert models.load("resnet152").na_info["file"] == str(f)
    assert models.status().set_index("name").loc["resnet152", "present"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="did you mean 'resnet152'"):
        models.load("resnet-152", source="random")
    with pytest.raises(ValueError, match="source must be"):
        models.load("resnet152", source="imagenet")
    with pytest.raises(ValueError, match="cannot be combined"):
        models.load("resnet152", source="random", path="x.pth")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        models.load("resnet152", path="/nonexistent/r.pth")


def test_inception_stand_in_has_all_144_layers():
    from helpers.nets import layers

    net = models.load("inception5h", source="random", seed=0)
    assert models.is_stand_in(net)
    assert len(layers.LAYERS) == 144


def test_the_stand_in_rule_for_models_manifests_and_tables(tmp_path):
    """One rule (models.is_stand_in): a stand-in unless shown to come from the pretrained weights."""
    import types

    import pandas as pd

    net = types.SimpleNamespace(na_info={"source": "pretrained"})
    assert not models.is_stand_in(net)
    assert models.is_stand_in(types.SimpleNamespace(na_info={"source": "rehearsal"}))
    assert models.is_stand_in(types.SimpleNamespace(na_info={"source": "pretrained"}, rehearsal_stand_in=True))
    assert models.is_stand_in(object())  # no provenance at all
    manifest = pd.DataFrame({"layer": ["conv2d0", "mixed3a"], "weights_source": ["pretrained", "pretrained"]})
    assert not models.is_stand_in(manifest)
    assert models.is_stand_in(manifest.assign(weights_source=["pretrained", "random"]))
    # no weights_source column: notebooks 03/04 said stand-in and the feature table said not; the rule says stand-in
    assert models.is_stand_in(manifest.drop(columns="weights_source"))
    assert not models.is_stand_in(pd.DataFrame({"file": ["a.png"], "stand_in": [False]}))  # notebook 05's gallery
    assert models.is_stand_in(pd.DataFrame({"file": ["a.png", "b.png"], "stand_in": [False, True]}))
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    manifest.drop(columns="weights_source").to_parquet(tmp_path / "bare.parquet")
    assert not models.is_stand_in(tmp_path / "manifest.csv") and models.is_stand_in(tmp_path / "bare.parquet")


def test_the_feature_table_uses_the_stand_in_rule(tmp_path, monkeypatch):
    """helpers.measures.table.stimuli labels a manifest without provenance a stand-in (it said the opposite before)."""
    import pandas as pd

    from helpers.measures import table

    monkeypatch.setenv("NA_RESULTS_DIR", str(tmp_path))
    dream = paths.results("smoke") / "dream"
    dream.mkdir(parents=True)
    rows = pd.DataFrame({"layer": ["conv2d0"], "layer_index": [1], "seed": [0], "path": ["images/a.png"]})
    rows.to_csv(dream / "manifest.csv", index=False)
    assert table.stimuli(profile="smoke").attrs["stand_in"]
    rows.assign(weights_source="pretrained").to_csv(dream / "manifest.csv", index=False)
    assert not table.stimuli(profile="smoke").attrs["stand_in"]
