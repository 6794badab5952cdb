"""Nearest-painting search: Gram definition, exact search, resume, bad images, index recall."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from helpers.figures import paper2
from helpers.nets import models
from helpers.search import artbench, gram, index as search_index

SIZE = 64  # layer3 output is 4x4 at 64 px: fast, and rank 16 covers it fully


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = artbench.make_demo_corpus(tmp_path_factory.mktemp("demo") / "artbench", n=12, size=64, seed=3)
    return root


@pytest.fixture(scope="module")
def corpus(demo):
    return artbench.read_corpus(demo)


@pytest.fixture(scope="module")
def encoder(corpus):
    """A calibrated random ResNet-50: same layer3 (1024 channels, bottleneck blocks) as ResNet-152 in
    a sixth of the blocks, so the many searches below stay fast; the Gram test uses ResNet-152 itself."""
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = torchvision.models.resnet50(weights=None).eval()
    return gram.GramEncoder(model, size=SIZE).calibrate_stand_in([corpus.load(i) for i in range(0, len(corpus), 2)])


@pytest.fixture(scope="module")
def encoder152(corpus):
    model = models.load("resnet152", source="random", seed=0)
    return gram.GramEncoder(model, size=SIZE).calibrate_stand_in([corpus.load(i) for i in range(0, len(corpus), 2)])


def test_triangle_dot_products_equal_full_frobenius_products():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 7, 5, generator=g, dtype=torch.float64)
    grams = x @ x.transpose(1, 2)
    full = grams.flatten(1) @ grams.flatten(1).T
    tri = gram.triangle(grams)
    assert tri.shape == (3, 7 * 8 // 2)
    torch.testing.assert_close(tri @ tri.T, full, rtol=1e-12, atol=1e-12)
    # and the activation identity the low-rank re-ranking relies on: <G_a, G_b> = ||X_a^T X_b||_F^2
    cross = (x[0].T @ x[1]).pow(2).sum()
    torch.testing.assert_close(cross, full[0, 1])


def test_gram_vectors_match_a_direct_computation(encoder152, corpus):
    encoder = encoder152
    imgs = [corpus.load(i) for i in range(3)]
    vec = encoder.encode(imgs)
    # direct: hook layer3 of the full network, G = (1/HW) sum_ij x_ij^C x_ij^D, cosine of flattened Grams
    feats = {}
    hook = encoder.model.layer3.register_forward_hook(lambda m, i, o: feats.__setitem__("x", o.double()))
    try:
        with torch.no_grad():
            encoder.model(torch.stack([encoder.preprocess(im) for im in imgs]))
    finally:
        hook.remove()
    x = feats["x"]
    assert x.shape == (3, 1024, SIZE // 16, SIZE // 16)
    n, c, h, w = x.shape
    grams = torch.einsum("ncij,ndij->ncd", x, x) / (h * w)
    flat = grams.flatten(1)
    cos = (flat @ flat.T) / (flat.norm(dim=1)[:, None] * flat.norm(dim=1)[None])
    torch.testing.assert_close((vec @ vec.T).double(), cos, rtol=0, atol=2e-5)
    assert 0.2 < cos[0, 1] < 0.999  # a calibrated stand-in gives spread-out similarities


def test_preprocess_resizes_shorter_side_and_centre_crops(encoder):
    img = np.zeros((80, 160, 3), np.uint8)
    img[:, 40:120] = 255  # the centre square is white, the sides black
    t = encoder.preprocess(img)
    assert t.shape == (3, SIZE, SIZE)
    white = (1 - np.array(gram.IMAGENET_MEAN)) / np.array(gram.IMAGENET_STD)
    np.testing.assert_allclose(t[:, 5:-5, 5:-5].mean((1, 2)).numpy(), white, atol=1e-4)


def _brute_force(encoder, corpus, queries, k):
    vec = encoder.encode([corpus.load(i) for i in range(len(corpus))])
    qv = encoder.encode(queries)
    sims = (qv @ vec.T).numpy()
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, 1)


def test_exact_search_matches_brute_force(encoder, corpus):
    queries = [corpus.load(3), np.flipud(corpus.load(7)).copy(), corpus.load(10)[::2, ::2].copy()]
    res = search_index.exact_search(queries, corpus, k=4, encoder=encoder, batch_size=3, num_workers=0, progress=False)
    order, sims = _brute_force(encoder, corpus, queries, 4)
    got = res.pivot(index="query", columns="rank", values="row").to_numpy()
    np.testing.assert_array_equal(got, order)
    np.testing.assert_allclose(res.pivot(index="query", columns="rank", values="similarity").to_numpy(), sims, atol=1e-5)
    assert res.loc[0, "item"] == corpus.name(3) and res.loc[0, "similarity"] == pytest.approx(1.0, abs=1e-5)
    assert {"artist", "title", "style"} <= set(res.columns) and res["artist"].str.startswith("demo-artist").all()


def test_exact_search_resumes_after_interruption(encoder, corpus, tmp_path, monkeypatch):
    queries = [corpus.load(2), corpus.load(9)]
    kw = dict(k=3, encoder=encoder, batch_size=4, num_workers=0, progress=False, checkpoint_every=1)
    full = search_index.exact_search(queries, corpus, **kw)
    ck = tmp_path / "search.npz"
    real = encoder.encode_batch
    calls = {"n": 0}

    def flaky(batch):
        calls["n"] += 1
        if calls["n"] == 4:  # 1 query batch + 2 corpus batches, then "power cut"
            raise KeyboardInterrupt
        return real(batch)

    monkeypatch.setattr(encoder, "encode_batch", flaky)
    with pytest.raises(KeyboardInterrupt):
        search_index.exact_search(queries, corpus, checkpoint=ck, **kw)
    assert int(np.load(ck)["position"]) == 8
    calls["n"] = -100
    resumed = search_index.exact_search(queries, corpus, checkpoint=ck, **kw)
    assert calls["n"] == -100 + 1 + 1  # queries + the remaining 4 images in one batch only
    pd.testing.assert_frame_equal(resumed, full)


def test_bad_images_are_skipped_with_a_warning(encoder, tmp_path):
    root = artbench.make_demo_corpus(tmp_path / "bad", n=6, size=64, seed=1, bad=2)
    corpus = artbench.read_corpus(root)
    assert len(corpus) == 8
    with pytest.warns(UserWarning, match="corrupt_file-0.jpg"):
        res = search_index.exact_search([corpus.load(0)], corpus, k=8, encoder=encoder, batch_size=4, num_workers=0,
                                     progress=False)
    assert len(res) == 6 and not res["item"].str.contains("corrupt").any()
    with pytest.warns(UserWarning, match="corrupt_file-1.jpg"):
        index = search_index.build_index(corpus, tmp_path / "idx", encoder=encoder, n_fit=4, batch_size=4, num_workers=0,
                                      progress=False)
    assert index.ok.sum() == 6
    assert not index.search([corpus.load(0)], k=8)["item"].str.contains("corrupt").any()


def test_index_recall_and_resume(encoder, corpus, tmp_path, monkeypatch):
    queries = [corpus.load(i) for i in (0, 5)] + [np.fliplr(corpus.load(9)).copy()]
    exact = search_index.exact_search(queries, corpus, k=5, encoder=encoder, num_workers=0, progress=False)
    kw = dict(encoder=encoder, sketch_dim=64, rank=16, n_fit=8, batch_size=4, num_workers=0, progress=False, flush_every=1)
    index = search_index.build_index(corpus, tmp_path / "full", **kw)
    assert index.bytes_per_item() == pytest.approx(2 * (65 + 1024 * 16) + 1 + 4)
    np.testing.assert_allclose(index.energy, 1.0, atol=1e-4)  # 4x4 positions: rank 16 keeps everything
    # the candidate scan is the exact top-c of the stored sketches' inner products (-> positions in index.rows)
    qs = np.random.default_rng(0).standard_normal((3, index.sketch.shape[1])).astype(np.float32)
    est, pos = index._candidates(qs, 4)
    full = qs @ np.asarray(index.sketch[index.rows], np.float32).T
    assert np.array_equal(pos, np.argsort(-full, axis=1, kind="stable")[:, :4])
    np.testing.assert_allclose(est, np.take_along_axis(full, pos, 1), rtol=1e-5)
    res = index.search(queries, k=5, candidates=len(corpus))
    assert search_index.recall_at(res, exact, k=1) == 1.0 and search_index.recall_at(res, exact, k=5) == 1.0
    np.testing.assert_allclose(res["similarity"], exact["similarity"], atol=2e-3)  # fp16 storage
    # exact re-ranking of the sketch candidates reproduces exact search wherever the true top-k are candidates
    res_x = index.search(queries, k=5, candidates=len(corpus), rerank="exact")
    np.testing.assert_allclose(res_x["similarity"], exact["similarity"], atol=1e-5)
    # a truncated factor loses energy and is measured, not assumed
    low = search_index.build_index(corpus, tmp_path / "low", **{**kw, "rank": 2})
    assert (low.energy < 0.999).any() and (low.energy > 0.5).all()
    assert search_index.recall_at(low.search(queries, k=5, candidates=len(corpus)), exact, k=1) >= 2 / 3

    # resume: interrupt after two committed batches, then finish; same bytes as the uninterrupted build
    real = encoder.encode_batch
    calls = {"n": 0}

    def flaky(batch):
        calls["n"] += 1
        if calls["n"] == 5:  # 2 batches fitting the mean direction, 2 index batches, then stop
            raise KeyboardInterrupt
        return real(batch)

    monkeypatch.setattr(encoder, "encode_batch", flaky)
    with pytest.raises(KeyboardInterrupt):
        search_index.build_index(corpus, tmp_path / "resumed", **kw)
    with pytest.raises(ValueError, match="incomplete"):
        search_index.Index.load(tmp_path / "resumed")
    monkeypatch.setattr(encoder, "encode_batch", real)
    resumed = search_index.build_index(corpus, tmp_path / "resumed", **kw)
    for name in ("sketch.f16", "factors.f16", "ok.u8", "mean.npy"):
        assert (tmp_path / "resumed" / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name
    pd.testing.assert_frame_equal(resumed.search(queries, k=5), index.search(queries, k=5))


def test_index_refuses_other_settings(encoder, corpus, tmp_path):
    kw = dict(encoder=encoder, sketch_dim=32, rank=2, n_fit=4, batch_size=10, num_workers=0, progress=False)
    search_index.build_index(corpus, tmp_path / "i", **kw)
    with pytest.raises(ValueError, match="other settings"):
        search_index.build_index(corpus, tmp_path / "i", **{**kw, "rank": 3})


def test_figures_draw(encoder, corpus):
    import matplotlib

    matplotlib.use("Agg")
    queries = search_index.as_queries([corpus.load(1), corpus.load(4)])
    res = search_index.exact_search(queries, corpus, k=3, encoder=encoder, num_workers=0, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = paper2.nearest_pairs(res, queries, corpus, notes=["DEMO"], columns=2)
        strip = paper2.topk_strip(res, queries, corpus, k=3)
    assert len(fig.axes) == 4 and len(strip.axes) == 8
    strip = paper2.topk_strip(res, queries, corpus, k=3, max_rows=1)
    assert len(strip.axes) == 4 and "first 1 of 2" in strip._suptitle.get_text()


def test_self_retrieval_finds_each_probe_at_rank_one(encoder, corpus, tmp_path):
    probes = search_index.probe_queries(corpus, n=4, seed=0)
    assert probes.items["expected"].nunique() == 4 and probes.items["item"].str.startswith("self:").all()
    exact = search_index.exact_search(probes, corpus, k=3, encoder=encoder, num_workers=0, progress=False)
    check = search_index.self_retrieval(exact, probes)
    assert check["ok"].all() and (check["found"] == check["expected"]).all()
    np.testing.assert_allclose(check["similarity"], 1.0, atol=1e-5)
    index = search_index.build_index(corpus, tmp_path / "i", encoder=encoder, sketch_dim=64, rank=16, n_fit=4,
                                  batch_size=6, num_workers=0, progress=False)
    assert search_index.self_retrieval(index.search(probes, k=3), probes)["ok"].all()
    # a chain that scrambles rows (here: results pointing at the wrong items) is caught
    wrong = exact.assign(item=exact.groupby("query")["item"].transform(lambda s: s.iloc[::-1].to_numpy()))
    assert not search_index.self_retrieval(wrong, probes)["ok"].any()


def test_choose_pairs_prefers_distinct_paintings():
    res = pd.DataFrame({"query": ["a", "b", "c", "d", "e"], "rank": 1, "item": ["hub", "hub", "x", "hub", "y"],
                        "similarity": [0.99, 0.98, 0.90, 0.97, 0.80]})
    assert paper2.choose_pairs(res, n=3) == ["a", "c", "e"]  # the hub once, then the best distinct ones
    assert paper2.choose_pairs(res, n=4) == ["a", "c", "e", "b"]  # filled up when too few distinct
    assert paper2.choose_pairs(res, queries=["d", "a"]) == ["d", "a"]
    with pytest.raises(ValueError, match=r"\['zz'\]"):
        paper2.choose_pairs(res, queries=["zz"])


def test_bf16_encoder_agrees_with_fp32(encoder, corpus):
    bf = gram.GramEncoder(encoder.model, size=SIZE, precision="bf16")
    imgs = [corpus.load(i) for i in range(4)]
    v32, v16 = encoder.encode(imgs), bf.encode(imgs)
    assert bf.config()["precision"] == "bf16" and v16.dtype == torch.float32
    agree = (v32 * v16).sum(1)
    # bf16 moves a Gram by about 1% in cosine here (0.99 measured on this stand-in): an option, never the default
    assert (agree > 0.95).all() and (agree < 1 - 1e-5).all() and encoder.precision == "fp32"
    with pytest.raises(ValueError, match="precision must be one of"):
        gram.GramEncoder(encoder.model, precision="fp8")


# --- the fast path (issue 22): same results as the straight path, within stated tolerances --------------

def test_cached_triangle_equals_the_straight_gather():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 9, 4, generator=g)
    grams = x @ x.transpose(1, 2)
    assert torch.equal(gram.triangle(grams), gram.triangle_straight(grams))
    assert torch.equal(gram.triangle(grams[0]), gram.triangle_straight(grams[0]))  # no batch dimension
    assert torch.equal(gram.triangle(grams.double()), gram.triangle_straight(grams.double()))  # per-dtype cache


def test_fold_batchnorm_is_the_same_function(encoder):
    net = gram.fold_batchnorm(encoder.trunk)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in encoder.trunk.modules())  # the original is untouched
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref, got = encoder.trunk(x), net(x)
    assert ((got - ref).norm() / ref.norm()) < 1e-5
    encoder.trunk.train()
    try:
        with pytest.raises(ValueError, match="training mode"):
            gram.fold_batchnorm(encoder.trunk)
    finally:
        encoder.trunk.eval()


def test_fast_encoder_matches_the_straight_one(encoder, corpus):
    """Tolerance (fp32): each image's fast Gram vector has cosine >= 1 - 1e-6 with the straight one, and
    pairwise similarities move by < 1e-5 (the gaps that decide rankings here are > 1e-3)."""
    straight = gram.GramEncoder(encoder.model, size=SIZE, fast=False)
    assert encoder.fast and not straight.fast and encoder.config()["fast"] and not straight.config()["fast"]
    imgs = [corpus.load(i) for i in range(6)]
    v0, v1 = straight.encode(imgs), encoder.encode(imgs)
    assert ((v0 * v1).sum(1) > 1 - 1e-6).all()
    assert (v0 @ v0.T - v1 @ v1.T).abs().max() < 1e-5
    # calibrating a stand-in after the fast trunk was built rebuilds it from the new statistics
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        model = torchvision.models.resnet50(weights=None).eval()
    fresh = gram.GramEncoder(model, size=SIZE)
    fresh.encode(imgs[:1])
    built = fresh.inference_trunk()
    fresh.calibrate_stand_in(imgs[::-1])
    assert fresh._net is None
    ref = gram.GramEncoder(model, size=SIZE, fast=False)  # the same (now calibrated) modules
    assert ((fresh.encode(imgs) * ref.encode(imgs)).sum(1) > 1 - 1e-6).all() and fresh.inference_trunk() is not built


def test_float32_one_thread_factors_match_float64():
    g = torch.Generator().manual_seed(3)
    xn = gram.GramEncoder.normalised(torch.relu(torch.randn(3, 64, 49, generator=g) + 0.2))
    f64, e64 = search_index._factors(xn, 8)
    f32, e32 = search_index._factors(xn, 8, torch.float32, one_thread=True)
    g64, g32 = f64 @ f64.transpose(1, 2), f32 @ f32.transpose(1, 2)  # eigenvectors' signs are arbitrary: compare F F^T
    assert ((g64 - g32).norm() / g64.norm()) < 1e-4 and (e64 - e32).abs().max() < 1e-5
    assert torch.get_num_threads() >= 1


def test_fast_index_ranks_as_the_straight_path(encoder, tmp_path):
    """recall@10 at small size: the default (fast) index against exact search on the straight fp32 path."""
    root = artbench.make_demo_corpus(tmp_path / "c", n=40, size=64, seed=5)
    corpus = artbench.read_corpus(root)
    straight = gram.GramEncoder(encoder.model, size=SIZE, fast=False)
    queries = [np.fliplr(corpus.load(i)).copy() for i in range(0, 40, 5)]
    truth = search_index.exact_search(queries, corpus, k=10, encoder=straight, num_workers=0, progress=False)
    fast_exact = search_index.exact_search(queries, corpus, k=10, encoder=encoder, num_workers=0, progress=False)
    assert search_index.recall_at(fast_exact, truth, k=10) == 1.0
    kw = dict(sketch_dim=64, rank=16, n_fit=8, batch_size=8, num_workers=0, progress=False)
    fast = search_index.build_index(corpus, tmp_path / "fast", encoder=encoder, **kw)
    slow = search_index.build_index(corpus, tmp_path / "slow", encoder=straight, **kw)
    assert fast.meta["encoder"]["fast"] and not slow.meta["encoder"]["fast"]
    np.testing.assert_allclose(np.asarray(fast.sketch, np.float32), np.asarray(slow.sketch, np.float32), atol=2e-3)
    ff, fs = (torch.from_numpy(np.asarray(i.factors, np.float32)) for i in (fast, slow))
    gf, gs = ff @ ff.transpose(1, 2), fs @ fs.transpose(1, 2)
    assert ((gf - gs).norm() / gs.norm()) < 2e-3  # fp16 storage of both
    found = fast.search(queries, k=10, candidates=40)
    assert search_index.recall_at(found, truth, k=10) >= 0.99
