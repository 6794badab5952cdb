"""helpers.synthesis.biggan on the BigGAN-deep-256 stand-in (real architecture, random weights)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from helpers.figures import paper2
from helpers.nets import models
from helpers.synthesis import biggan, biggan_distances, biggan_gallery


@pytest.fixture(scope="module")
def model():
    return models.load("biggan-deep-256", source="random", seed=0, progress=False)


@pytest.fixture(scope="module")
def original(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(model, original):
    state = model.state_dict()
    return [k for k in original if not torch.equal(state[k], original[k])]


def test_blocks_match_the_paper(model):
    df = biggan.blocks(model).set_index("block")
    assert list(df.index) == list(biggan.BLOCKS)
    assert sorted(df.index[df.upsample]) == sorted(["B2", "B4", "B6", "B8", "B11", "B13"])
    assert list(df.index[df.attention]) == ["B9"]
    assert df.loc["B2", "n_parameters"] == 8_654_336 and 8.4e6 < df.loc["B2", "n_parameters"] < 8.7e6
    # the paper's "55.9M" is the trainable count of the network built from the package's BigGAN256 config
    assert df.n_parameters.sum() == sum(p.numel() for p in model.parameters()) == 55_880_833
    assert df.n_state.sum() == sum(v.numel() for v in model.state_dict().values()) == 58_573_185
    assert "generator.layers.1.conv_1.weight_orig(512, 512, 3, 3)" in df.loc["B2", "parameters"]
    # channel widths of convert_tf_to_pytorch.BigGAN256 (x channel_width 128); B9 is the attention block
    widths = {"B7": (1024, 1024), "B8": (1024, 512), "B10": (512, 512), "B11": (512, 256), "B12": (256, 256),
              "B13": (256, 128)}
    for block, (cin, cout) in widths.items():
        assert (df.loc[block, "in_channels"], df.loc[block, "out_channels"]) == (cin, cout), block


def test_every_state_key_has_a_block(model):
    assert {biggan.block_of(k) for k in model.state_dict()} == set(biggan.BLOCKS)
    with pytest.raises(KeyError, match="no block"):
        biggan.block_of("discriminator.weight")


@pytest.mark.parametrize("backup,include", [("disk", "parameters"), ("memory", "all")])
def test_perturb_restores_bit_for_bit(model, original, backup, include):
    selected = biggan.tensors(model, include=include)
    nonzero = {k for k in selected if original[k].any()}  # 0 * (1 + a n) = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # include="all" may turn running variances negative
        with biggan.perturb(model, seed=3, backup=backup, include=include):
            assert set(_same(model, original)) == nonzero
    assert _same(model, original) == []


def test_perturb_restores_after_an_exception(model, original):
    with pytest.raises(ZeroDivisionError):
        with biggan.perturb(model, seed=4, blocks=["B2", "output"]):
            assert _same(model, original)
            1 / 0
    assert _same(model, original) == []


def test_seed_names_a_network(model):
    def snapshot():
        return {k: v.clone() for k, v in biggan.tensors(model, blocks=["entry", "B13"]).items()}

    with biggan.perturb(model, seed=7):
        a = snapshot()
    with biggan.perturb(model, seed=7):
        b = snapshot()
    with biggan.perturb(model, seed=8):
        c = snapshot()
    with biggan.perturb(model, seed=7, blocks="B13"):
        d = snapshot()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not any(torch.equal(a[k], c[k]) for k in a if a[k].any())
    b13 = [k for k in a if biggan.block_of(k) == "B13"]
    assert all(torch.equal(a[k], d[k]) for k in b13)  # a block subset gets the noise it has in the full network
    orig = {k: v for k, v in biggan.tensors(model, blocks="entry").items()}
    assert all(torch.equal(d[k], orig[k]) for k in orig)


def test_alpha_zero_is_identity_and_bad_input_is_named(model, original):
    with biggan.perturb(model, alpha=0.0, seed=1):
        assert _same(model, original) == []
    with pytest.raises(ValueError, match="alpha"):
        with biggan.perturb(model, alpha=-0.1):
            pass
    with pytest.raises(ValueError, match="B14"):
        with biggan.perturb(model, blocks=["B14"]):
            pass
    with pytest.raises(ValueError, match="include"):
        biggan.tensors(model, include="buffers")


def test_distances_match_the_analytic_expectation(model, original):
    with biggan.perturb(model, seed=11):
        measured = biggan_distances.cosine_distance(model, original)
        diluted = biggan_distances.cosine_distance(model, original, include="all")  # buffers unperturbed
    assert measured == pytest.approx(biggan_distances.analytic_distance(0.35), abs=2e-3)
    assert biggan_distances.analytic_distance(0.35) == pytest.approx(0.0561, abs=1e-4)
    assert biggan_distances.analytic_distance(0.35, between_perturbed=True) == pytest.approx(0.1091, abs=1e-4)
    streamed = biggan_distances.perturbation_distances(model, [11, 12], progress=False)
    assert streamed["to_original"][0] == pytest.approx(measured, abs=1e-9)  # same networks as perturb()
    over_all = biggan_distances.perturbation_distances(model, [11], measure="all", progress=False)
    assert over_all["to_original"][0] == pytest.approx(diluted, abs=1e-9) and diluted < measured
    f = over_all["perturbed_norm2"] / over_all["total_norm2"]
    assert diluted == pytest.approx(biggan_distances.analytic_distance(0.35, fraction=f), abs=2e-3)
    assert streamed["pairwise"][0, 1] == pytest.approx(biggan_distances.analytic_distance(0.35, between_perturbed=True), abs=4e-3)
    assert biggan_distances.cosine_distance(model, original) == pytest.approx(0.0, abs=1e-12)


def test_cosine_distance_against_a_flat_reference():
    a = {"x": torch.randn(5, 3, generator=torch.Generator().manual_seed(0)), "y": torch.arange(4.0)}
    b = {"x": torch.randn(5, 3, generator=torch.Generator().manual_seed(1)), "y": torch.ones(4)}
    fa, fb = (torch.cat([d["x"].reshape(-1), d["y"]]).double() for d in (a, b))
    expected = 1 - float(fa @ fb / (fa.norm() * fb.norm()))
    assert biggan_distances.cosine_distance(a, b) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="differ"):
        biggan_distances.cosine_distance(a, {"x": a["x"]})


def test_resample_keeps_per_pixel_statistics_and_restores(model, original):
    name = "generator.layers.1.conv_1.weight_orig"
    before = original[name].reshape(-1, 9).double()
    with biggan.resample(model, block="B2", seed=0):
        after = model.state_dict()[name].reshape(-1, 9).double()
        assert not torch.equal(after, before)
        n = before.shape[0]
        se_mean = before.std(dim=0) / np.sqrt(n)
        assert torch.all((after.mean(dim=0) - before.mean(dim=0)).abs() < 5 * se_mean)
        assert torch.allclose(after.std(dim=0), before.std(dim=0), rtol=0.01)
        one = "generator.layers.1.conv_0.weight_orig"
        x, y = original[one].double(), model.state_dict()[one].double()
        assert abs(float(y.mean() - x.mean())) < 5 * float(x.std()) / np.sqrt(x.numel())
        assert float(y.std()) == pytest.approx(float(x.std()), rel=0.01)
        touched = set(_same(model, original))
        assert {biggan.block_of(k) for k in touched} == {"B2"}
        assert "generator.layers.1.conv_1.weight_u" in touched  # spectral-norm vectors re-estimated
    assert _same(model, original) == []


def test_resample_is_seeded(model):
    name = "generator.layers.1.conv_3.weight_orig"
    with biggan.resample(model, block="B2", seed=5):
        a = model.state_dict()[name].clone()
    with biggan.resample(model, block="B2", seed=5):
        b = model.state_dict()[name].clone()
    with biggan.resample(model, block="B2", seed=6):
        c = model.state_dict()[name].clone()
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_latents_follow_the_papers_rows():
    z, y = biggan.latents([967, 832, 5])
    z9, _ = biggan.latents()
    assert torch.equal(z[0], z9[1]) and torch.equal(z[1], z9[0])  # same latent per class in any list
    assert z.shape == (3, 128) and y.shape == (3, 1000) and y.argmax(1).tolist() == [967, 832, 5]
    assert torch.all(z.abs() <= 0.4 * 2 + 1e-6)
    with pytest.raises(ValueError, match="0..999"):
        biggan.latents([1000])


def test_generate_returns_uint8_images(model):
    img = biggan.generate(model, [832])
    assert img.shape == (1, 256, 256, 3) and img.dtype == np.uint8 and img.std() > 0
    assert biggan.class_names([832, 967, 978]) == ["stupa", "espresso", "seashore"]


def test_spectral_norm_modes(model, original):
    stored = biggan.generate(model, [832, 967], batch_size=2)
    train = biggan.generate(model, [832, 967], batch_size=2, spectral_norm="train")
    again = biggan.generate(model, [832, 967], batch_size=2, spectral_norm="train")
    assert np.array_equal(train, again)  # every batch starts from the stored u/v: no drift between calls
    with biggan.perturb(model, seed=1):  # Eq. 3: the stored u/v are not the perturbed weights' singular vectors
        p_stored = biggan.generate(model, [832], spectral_norm="stored")
        p_train = biggan.generate(model, [832], spectral_norm="train")
    assert not np.array_equal(p_stored, p_train)
    assert stored.shape == train.shape
    assert _same(model, original) == [] and not model.training  # u/v put back, eval mode restored
    with pytest.raises(ValueError, match="spectral_norm"):
        biggan.generate(model, [832], spectral_norm="eval")


def test_train_mode_is_one_power_iteration_from_the_stored_vectors(model):
    # what a fresh from_pretrained model (train mode) does on its first forward pass
    import copy

    ref = copy.deepcopy(model)
    ref.train()
    z, y = biggan.latents([832])
    with torch.no_grad(), biggan.perturb(model, seed=2), biggan.perturb(ref, seed=2):
        expected = biggan.to_uint8(ref(z, y, 0.4))
        got = biggan.generate(model, [832], spectral_norm="train")
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("wrap", [None, 2])
def test_gallery_titles_do_not_overlap(wrap):
    g = biggan_gallery.Gallery(np.zeros((2, 3, 8, 8, 3), np.uint8), [832, 967], [biggan_gallery.perturbed(s) for s in range(3)],
                       stand_in=True, weights="stand-in")
    fig = paper2.gallery_grid(g, title="Eq. 3, α = 0.35: one network per column, a long title that may need two lines",
                              wrap=wrap)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(r) for t in fig.texts if t.get_text()]
    title = [t for t in fig.texts if t.get_text().startswith("Eq. 3")][0].get_window_extent(r)
    col = [ax.title.get_window_extent(r) for ax in fig.axes if ax.get_title()]
    imgs = [ax.get_window_extent(r) for ax in fig.axes]
    assert col and all(title.y0 >= c.y1 for c in col)  # the figure title sits above every column title
    for c in col:  # a column title touches no image (also not the one of the row above in wrap mode)
        assert not any(c.overlaps(i) for i in imgs)
    assert any("STAND-IN" in t.get_text() for t in fig.texts) and len(boxes) >= 2


def test_subnormal_attention_weights_only_are_zeroed_and_images_stay_the_same(model):
    """generate() on the CPU rounds subnormal attention weights to 0 (a 20-25x slowdown otherwise): only those
    weights change, and a redrawn block's image is the same uint8 image as the package's own forward pass."""
    from pytorch_pretrained_biggan.model import SelfAttn

    att = next(m for m in model.modules() if isinstance(m, SelfAttn))
    x = torch.tensor([[0.0, -20.0, -86.0, -90.0, -100.0, -200.0, -1.0]])  # exp(-86) is just normal, exp(-90) not
    plain = att.softmax(x)
    assert 0 < plain[0, 3] < torch.finfo(torch.float32).tiny < plain[0, 2]
    with biggan.subnormal_attention_zeroed(model):
        zeroed = att.softmax(x.clone())
    normal = plain >= torch.finfo(torch.float32).tiny
    assert torch.equal(zeroed[normal], plain[normal]) and torch.all(zeroed[~normal] == 0)
    assert torch.equal(att.softmax(x), plain)  # the hook is gone afterwards
    seen = []
    hook = att.softmax.register_forward_hook(
        lambda m, a, out: seen.append(int(((out > 0) & (out < torch.finfo(out.dtype).tiny)).sum())))
    z, y = biggan.latents([832])
    try:
        with biggan.resample(model, block="B2", seed=0):
            with torch.no_grad():
                package = biggan.to_uint8(model(z, y, 0.4))  # the package's forward, subnormals and all
            ours = biggan.generate(model, [832], device="cpu")
    finally:
        hook.remove()
    assert seen[0] > 1000  # the redrawn block does produce subnormal weights ...
    assert np.array_equal(ours, package)  # ... and zeroing them leaves the image as it was
