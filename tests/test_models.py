"""The loading layer: stand-ins work, missing weights fail clearly, files are verified."""
from __future__ import annotations

import pytest
import torch

from helpers import download, models, paths


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
    assert biggan.na_info == {"name": "biggan-deep-256", "source": "random", "seed": 0, "file": None, "sha256": None}
    assert not any(p.requires_grad for p in biggan.parameters())
    again = models.load("biggan-deep-256", source="random", seed=0)
    other = models.load("biggan-deep-256", source="random", seed=1)
    w = "generator.layers.1.conv_1.weight_orig"
    assert torch.equal(biggan.state_dict()[w], again.state_dict()[w])
    assert not torch.equal(biggan.state_dict()[w], other.state_dict()[w])


def test_biggan_state_dict_size_matches_paper(biggan):
    # Janik (2023): "55.9M parameters"; that is the full state dict (BN statistics and SN vectors included).
    assert sum(v.numel() for v in biggan.state_dict().values()) == pytest.approx(55.9e6, rel=1e-3)


def test_biggan_pretrained_loader_checks_keys(biggan, tmp_path):
    state = biggan.state_dict()  # keeps torch's _metadata (spectral-norm version), as a saved file would
    for k in [k for k in state if k.endswith(".weight_v")]:
        del state[k]
    good = tmp_path / "good.bin"
    torch.save(state, good)
    loaded = models.load("biggan-deep-256", path=good)
    assert not models.is_stand_in(loaded)
    w = "generator.conv_to_rgb.weight_orig"
    assert torch.equal(loaded.state_dict()[w], state[w])
    del state[w]
    torch.save(state, tmp_path / "bad.bin")
    with pytest.raises(RuntimeError, match="missing keys"):
        models.load("biggan-deep-256", path=tmp_path / "bad.bin")


def test_resnet_stand_in_and_local_file(tmp_path):
    net = models.load("resnet152", source="random", seed=3)
    with torch.no_grad():
        out = net(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 1000) and torch.isfinite(out).all() and out.std() > 0
    f = tmp_path / "my-resnet.pth"
    torch.save(net.state_dict(), f)
    loaded = models.load("resnet152", path=f)
    assert loaded.na_info["source"] == "pretrained" and len(loaded.na_info["sha256"]) == 64
    assert "pretrained weights my-resnet.pth" in models.describe(loaded)
    # the sha256 was recorded at first load; a changed file is caught on the next load
    f.write_bytes(f.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(download.ChecksumError, match="recorded at first download"):
        models.load("resnet152", path=f)


def test_pinned_prefix_rejects_a_wrong_cached_file():
    cached = paths.cache() / models.SPECS["resnet152"].filename
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
    spec = models.SPECS[name]
    for needle in (name, spec.url, spec.filename, "sha256", str(paths.cache()), "path=", spec.env_var):
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
    from helpers import dream

    net = models.load("inception5h", source="random", seed=0)
    assert models.is_stand_in(net)
    assert len(dream.LAYERS) == 144
