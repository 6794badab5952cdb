"""What the figures say in words (issue 24, section 3), the notebooks' code style, and the progress bars (section 4).

Each test names the figure whose text it checks; the smoke build's executed notebooks are checked in
``tests/test_notebooks.py``.
"""
from __future__ import annotations

import ast
import io as _io
import contextlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from statsmodels.stats.multitest import multipletests  # noqa: E402

from helpers import io, paths, progress, registry  # noqa: E402
from helpers.figures import base, features, paper1, paper2, study  # noqa: E402
from helpers.measures import aesthetics, separation  # noqa: E402
from helpers.nets import layers  # noqa: E402
from helpers.study import density  # noqa: E402

MAX_LINE = 110


def _texts(fig) -> str:
    out = [t.get_text() for t in fig.texts]
    if fig._suptitle is not None:
        out.append(fig._suptitle.get_text())
    for ax in fig.axes:
        out += [ax.get_title(loc=w) for w in ("left", "center", "right")] + [ax.get_xlabel(), ax.get_ylabel()]
        out += [t.get_text() for t in ax.texts + ax.get_xticklabels() + ax.get_yticklabels()]
        if ax.get_legend() is not None:
            out += [t.get_text() for t in ax.get_legend().get_texts()]
    for leg in fig.legends:
        out += [t.get_text() for t in leg.get_texts()] + [leg.get_title().get_text()]
    return "\n".join(out)


# --- label maps ------------------------------------------------------------------------------
def test_every_measure_column_has_words():
    """p1-feature-correlations / p1-feature-separation: no snake_case column name reaches the figure."""
    # the columns of a smoke feature table (notebook 02) and every Aesthetics Toolbox column (CNN ones too); the
    # toolbox's edge density is renamed aesthetics_edge_density in the table, our Canny density keeps the name
    columns = set(aesthetics.COLUMNS) | set(features.DISTRIBUTION_COLUMNS) | {
        "hue_concentration", "spectrum_intercept", "edge_density_sigma1", "edge_density_sigma4",
        "aesthetics_edge_density"}
    missing = sorted(c for c in columns if c not in features.MEASURE_LABELS)
    assert not missing, f"measures without words in features.MEASURE_LABELS: {missing}"
    assert all("_" not in features.measure_label(c) for c in columns)
    assert features.measure_label("eoe_1st_order") == "edge-orientation entropy, 1st order"
    assert features.measure_label("some_new_column") == "some new column"  # unknown: readable, not an error


def test_every_layer_type_and_group_pattern_has_words():
    """p1-feature-separation names its groups; p1-fig11's x labels say what each layer type is."""
    types = {layers.layer_type(n) for n in layers.LAYERS}
    assert types <= set(features.LAYER_TYPE_NAMES), types - set(features.LAYER_TYPE_NAMES)
    assert set(layers.GROUP_PATTERNS) <= set(paper1.LAYER_GROUP_NAMES)
    assert all("{" not in paper1.group_name(g) for g in layers.GROUP_PATTERNS)


def test_every_correction_and_test_is_spelled_out():
    """p1-fig10 / p1-figS13 titles: statsmodels' method names in words."""
    for method in ("fdr_bh", "fdr_by", "bonferroni", "holm", "sidak", "holm-sidak", "simes-hochberg", "hommel",
                   "fdr_tsbh", "fdr_tsbky"):
        multipletests([0.01, 0.2], method=method)  # a real statsmodels method name
        assert method in base.CORRECTION_NAMES and "_" not in base.in_words(method, base.CORRECTION_NAMES)
    assert base.in_words("fdr_bh", base.CORRECTION_NAMES) == "Benjamini-Hochberg FDR"
    assert base.in_words("wilcoxon", base.TEST_NAMES) == "Wilcoxon signed-rank"


# --- Paper 1 figures ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim():
    from helpers.study import simulate

    rng = np.random.default_rng(0)
    feats = pd.DataFrame({"layer": layers.LAYERS, "seed": 0, "hue": rng.uniform(0.4, 0.6, 144),
                          "saturation": rng.uniform(0.2, 0.5, 144), "brightness": rng.uniform(0.4, 0.7, 144),
                          "jpeg_bytes": rng.uniform(2000, 6000, 144), "feature_congestion": rng.uniform(3, 9, 144),
                          "subband_entropy": rng.uniform(3, 3.4, 144)})
    return feats, simulate.ratings(feats, n_participants=20, seed=0).ratings


def test_fig10_title_names_test_and_correction_in_words(sim):
    from helpers.study import effects

    _, r = sim
    fig = paper1.layer_boxplots(r, tests=effects.layer_tests(r), rows=3)
    text = _texts(fig)
    assert "Wilcoxon signed-rank" in text and "Benjamini-Hochberg FDR" in text and "fdr_bh" not in text
    plt.close(fig)


def test_fig11_says_what_each_group_is(sim):
    from helpers.study import effects

    _, r = sim
    fig = paper1.layer_groups(r, effects.group_tests(r))
    ticks = [t.get_text() for ax in fig.axes for t in ax.get_xticklabels()]
    assert ticks and not any("{" in t for t in ticks)
    assert any(t.startswith("pool branches") for t in ticks) and any(t.startswith("stem convolutions") for t in ticks)
    plt.close(fig)


def test_fig07_sizes_in_kb_and_r_above_the_panel(sim):
    from helpers.study import stats

    f, r = sim
    fig = paper1.features_vs_judgments(stats.image_means(r, f))
    assert "JPEG size (kB)" in _texts(fig) and "bytes" not in _texts(fig)
    jpeg = [ax for ax in fig.axes if ax.get_xlabel() == "JPEG size (kB)"][0]
    assert jpeg.get_xlim()[1] < 10  # 2000-6000 bytes drawn as 2-6 kB
    assert all(ax.get_title(loc="left").startswith("r = ") for ax in fig.axes)
    assert not any(t.get_text().startswith("r = ") for ax in fig.axes for t in ax.texts)  # not inside, under labels
    plt.close(fig)


def test_table1_heatmap_spells_out_the_clutter_measures(sim):
    from helpers.study import stats

    f, r = sim
    fig = paper1.correlation_heatmap(stats.correlations(r, f))
    text = _texts(fig)
    assert "Feature Congestion" in text and "Sub-band Entropy" in text
    plt.close(fig)


def test_fig13_has_a_legend_for_markers_and_targets(sim):
    _, r = sim
    jd = density.joint_density_stats(r, bins=26)
    dens = density.joint_densities(r, bins=26)
    corners = density.nearest_corners(jd)
    imgs = {n: np.full((8, 8, 3), 90, np.uint8) for n in corners["layer"]}
    fig = paper1.density_cases(dens, jd, list(corners.layer), imgs, titles=list(corners.target),
                               targets=list(zip(corners.target_arousal, corners.target_valence)))
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert legend == ["mean rating", "median rating", "target corner or side of the plane"]
    plt.close(fig)


def test_extremes_show_each_layer_once_and_say_when_none_leans_toward_a_target(sim):
    _, r = sim
    jd = density.joint_density_stats(r, bins=26)
    per_target = density.nearest_corners(jd, k=4)
    assert per_target["layer"].duplicated().any()  # chosen per target, the old way: the same layer in several rows
    once = density.nearest_corners(jd, k=4, distinct=True)
    assert not once["layer"].map(layers.layer_family).duplicated().any()
    assert (once.groupby("target").size() <= 4).all() and set(once["target"]) == set(per_target["target"])
    rank1 = density.nearest_corners(jd)
    assert list(once[once["rank"] == 1]["layer"]) == list(rank1["layer"])  # Figure 13's layers are unchanged
    # a neutral median leans 0 points toward any corner; one at (20, 80) leans 42 toward (0, 100)
    row = {"target_arousal": 0.0, "target_valence": 100.0, "median_arousal": 20.0, "median_valence": 80.0}
    assert paper1.lean_toward(row) == pytest.approx(np.hypot(30, 30))
    assert paper1.lean_toward({**row, "median_arousal": 50.0, "median_valence": 50.0}) == 0
    neutral = once.assign(median_arousal=50.0, median_valence=50.0)
    fig = paper1.extreme_layer_images(neutral, {})
    assert _texts(fig).count("no layer moved") == neutral["target"].nunique()
    assert "each layer shown once" in _texts(fig)
    plt.close(fig)


def test_dream_octaves_title_reads_as_words():
    rng = np.random.default_rng(0)
    img = lambda s: rng.integers(0, 255, (s, s, 3), dtype=np.uint8)  # noqa: E731
    fig = paper1.dream_progress({"layer": "mixed4c", "start": img(96), "renders": {1: img(96), 2: img(96)},
                                 "octaves": [img(96), img(68)]})
    assert "after renders 1 and 2" in fig._suptitle.get_text() and "[" not in fig._suptitle.get_text()
    assert len(fig.axes) == 5 and all(ax.get_images() for ax in fig.axes)
    plt.close(fig)


# --- notebook 02 figures ----------------------------------------------------------------------------
def _grouped(n_per=8, seed=0):
    rng = np.random.default_rng(seed)
    g = np.repeat(["conv", "lrn", "head"], n_per)
    a = np.repeat([0.0, 10.0, 20.0], n_per) + rng.random(3 * n_per)
    return pd.DataFrame({"path": [f"{i}.png" for i in range(3 * n_per)], "group": g, "feature_congestion": a,
                         "jpeg_bytes": a * 100 + rng.normal(0, 50, 3 * n_per), "eoe_1st_order": rng.normal(size=3 * n_per),
                         "dcm_x": rng.normal(size=3 * n_per), "status": "ok"})


def test_correlation_map_draws_a_real_dendrogram_in_the_heat_maps_order():
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    df = _grouped()
    fig = features.correlation_map(df)
    heat = [ax for ax in fig.axes if ax.get_images() and ax.get_yticklabels()][0]
    rows = [t.get_text() for t in heat.get_yticklabels()]
    assert "edge-orientation entropy, 1st order" in rows and not any("_" in t for t in rows)
    dend = [ax for ax in fig.axes if ax.collections and not ax.get_images() and ax is not heat]
    assert dend, "no dendrogram axes"
    _, x = separation.ok_numeric(df, separation.measure_columns(df))
    r = x.corr(method="spearman").fillna(0.0)
    d = np.clip(1 - np.abs(r.to_numpy()), 0, None)
    np.fill_diagonal(d, 0)
    order = leaves_list(linkage(squareform((d + d.T) / 2, checks=False), method="average"))
    assert rows == [features.measure_label(r.columns[i]) for i in order]
    plt.close(fig)


def test_separation_legend_counts_what_it_colours_and_names_the_groups():
    df = _grouped()
    sep = separation.separation(df, "group")
    fig = features.separation_bars(sep, groups=df["group"].value_counts())
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    n_sig = int((sep["p_bh"] < 0.05).sum())
    assert legend[0].startswith("Benjamini-Hochberg adjusted p < 0.05") and f"{n_sig} of all {len(sep)}" in legend[0]
    assert legend[1].startswith("not significant")
    blue = [p for p in ax.patches if np.allclose(p.get_facecolor()[:3], matplotlib.colors.to_rgb("tab:blue"))]
    assert len(blue) == n_sig
    text = _texts(fig)
    assert "local response normalisation (8)" in text and "auxiliary heads (8)" in text  # the groups, named
    assert "(highest: " in text and "lrn)" not in text
    plt.close(fig)


def test_clutter_map_rows_are_short_and_band_names_explained():
    from tests.synthetic_images import objects

    fig = features.clutter_maps({"mixed4d_5x5_bottleneck_pre_relu\nseed 0": objects(5, size=48)})
    label = fig.axes[0].get_ylabel()
    assert all(len(line) <= 22 for line in label.split("\n"))
    assert "s = scale" in _texts(fig) and "lowpass" in _texts(fig)
    plt.close(fig)


def test_nearly_constant_colour_bar_gets_one_readable_tick():
    fig, ax = plt.subplots()
    values = 0.0316 + 1e-7 * np.arange(16).reshape(4, 4)
    cb = fig.colorbar(ax.imshow(values))
    features._colorbar_ticks(cb, values)
    labels = [cb.ax.yaxis.get_major_formatter()(v, 0) for v in cb.ax.yaxis.get_major_locator()()]
    assert len(labels) == 1 and "nearly" in labels[0] and len(labels[0].split("\n")[0]) <= 6
    plt.close(fig)


# --- Paper 2 and study figures -------------------------------------------------------------------
class _Images:
    def __init__(self, names, demo=False):
        self._names, self.demo = list(names), demo

    def __len__(self):
        return len(self._names)

    def name(self, i):
        return self._names[i]

    def load(self, i):
        return np.full((16, 16, 3), 40 * (i % 6), np.uint8)


def _results(same: bool):
    rows = []
    for q in range(4):
        for rank in range(1, 4):
            item = rank if same else q * 10 + rank
            rows.append({"query": f"q{q}.png", "rank": rank, "item": f"art{item}.jpg", "row": item % 5,
                         "similarity": 0.9 - 0.1 * rank, "artist": "a-b", "title": "t", "style": "realism"})
    return pd.DataFrame(rows)


def test_fig04_says_when_its_matches_are_identical_and_never_says_artbench_over_a_demo_corpus():
    queries = _Images([f"q{i}.png" for i in range(4)])
    same = paper2.nearest_pairs(_results(same=True), queries, _Images(range(5), demo=True))
    text = _texts(same)
    assert "only 1 distinct nearest painting" in text and "ArtBench-10" not in same._suptitle.get_text()
    distinct = paper2.nearest_pairs(_results(same=False), queries, _Images(range(5)))
    assert "distinct" not in _texts(distinct) and "ArtBench-10" in distinct._suptitle.get_text()
    strip = paper2.topk_strip(_results(same=True), queries, _Images(range(5), demo=True), k=3)
    assert "same top-3 list" in _texts(strip)
    assert "same top-3" not in _texts(paper2.topk_strip(_results(same=False), queries, _Images(range(5)), k=3))
    plt.close("all")


def test_figS06_says_what_natural_images_are():
    rng = np.random.default_rng(0)
    per_image = pd.DataFrame({"group": ["perturbed", "natural"] * 3, "edge_density": rng.random(6)})
    spectra = pd.DataFrame([{"group": g, "image": f"{g}{i}", "k": k, "amplitude": 1 / k}
                            for g in ("perturbed", "natural") for i in range(2) for k in (0.1, 0.2, 0.3)])
    fig = paper2.spectra_and_edges(per_image, spectra, stand_in=False)
    assert "natural = scikit-image sample photos" in _texts(fig)
    fig2 = paper2.spectra_and_edges(per_image, spectra, stand_in=False, group_notes={"natural": "photos in mine/"})
    assert "photos in mine/" in _texts(fig2) and "scikit-image" not in _texts(fig2)
    plt.close("all")


def test_study_effect_sizes_shows_n_and_what_red_means():
    t = pd.DataFrame({"axis": ["arousal"] * 3, "layer": ["a", "b", "c"], "n": 12, "mean_diff": [-5.0, 1.0, 8.0],
                      "mean_ci_low": [-9.0, -2.0, 3.0], "mean_ci_high": [-1.0, 4.0, 13.0]})
    fig = study.effect_sizes(t)
    text = _texts(fig)
    assert "N = 12 participants" in text and "interval excludes 0" in text
    plt.close(fig)


# --- notebook outputs: links, paths, rounding, progress ------------------------------------------------
def test_preview_links_work_from_the_build_folder_when_run_headless(tmp_path, monkeypatch):
    import os

    for var, name in (("NA_FIGURES_DIR", "figures"), ("NA_BUILD_DIR", "build")):
        monkeypatch.setenv(var, str(tmp_path / name))
    fig_path = paths.figures("smoke") / "sheet.png"
    io.save_image(np.zeros((20, 20, 3), np.uint8), fig_path)
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # the pipeline's kernels run in notebooks/
    link = base.link_from_notebook(fig_path, frontend=False)
    assert link == "../../figures/smoke/sheet.png"  # from build/smoke/, where the executed notebook is saved
    assert (tmp_path / "build" / "smoke" / link).resolve() == fig_path.resolve()
    assert base.link_from_notebook(fig_path, frontend=True) == "../figures/smoke/sheet.png"  # from notebooks/
    assert os.path.relpath(fig_path, os.getcwd()) == "../figures/smoke/sheet.png"
    html = base.preview(fig_path).data
    assert 'href="../../figures/smoke/sheet.png"' in html  # pytest is no kernel: headless


def test_display_shortens_home_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.display(tmp_path / ".cache" / "x") == "~/.cache/x"
    assert paths.display(paths.root() / "figures" / "a.png") == "figures/a.png"


def test_rounded_rounds_floats_only():
    got = io.rounded({"r2": 0.371234, "n": 144, "p": [1.23456e-5, np.float64(2.71828)], "ok": True, "x": None})
    assert got == {"r2": 0.371, "n": 144, "p": [1.23e-05, 2.72], "ok": True, "x": None}


def test_progress_in_a_headless_kernel_prints_one_clean_line(monkeypatch):
    monkeypatch.setattr(progress, "in_kernel", lambda: True)
    monkeypatch.setattr(progress, "has_frontend", lambda: False)
    out = _io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        for _ in progress.tqdm(range(144), desc="dream", unit="img"):
            pass
        for _ in progress.tqdm(range(5), desc="inner", leave=False):  # transient bars say nothing
            pass
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dream: 144/144 img in 00:0") and "\r" not in out.getvalue()


def test_progress_outside_a_kernel_is_plain_tqdm_and_a_frontend_gets_the_widget(monkeypatch):
    from tqdm.auto import tqdm as auto  # the widget bar in a notebook frontend
    from tqdm.std import tqdm as std

    monkeypatch.setattr(progress, "in_kernel", lambda: False)
    monkeypatch.setattr(progress, "has_frontend", lambda: False)
    assert type(progress.tqdm(total=2, disable=True)) is std
    monkeypatch.setattr(progress, "has_frontend", lambda: True)
    assert isinstance(progress.tqdm(total=2, disable=True), auto)


def test_has_frontend_reads_the_kernels_stdin_flag(monkeypatch):
    """nbclient (papermill) executes with allow_stdin=False; JupyterLab allows stdin."""
    import IPython

    class Kernel:
        _allow_stdin = True

    class ZMQInteractiveShell:
        kernel = Kernel()

    monkeypatch.setattr(IPython, "get_ipython", lambda: ZMQInteractiveShell())
    monkeypatch.delenv("NA_STATIC", raising=False)
    assert progress.has_frontend()
    Kernel._allow_stdin = False
    assert not progress.has_frontend()
    Kernel._allow_stdin = True
    monkeypatch.setenv("NA_STATIC", "1")
    assert not progress.has_frontend()


# --- notebooks' code -------------------------------------------------------------------------------
@pytest.mark.parametrize("notebook", registry.notebooks())
def test_notebook_code_lines_fit_110_characters(notebook):
    nb = nbformat.read(paths.notebooks() / notebook, as_version=4)
    long = [(c.get("id"), len(line)) for c in nb.cells if c.cell_type == "code"
            for line in c.source.splitlines() if len(line) > MAX_LINE]
    assert not long, f"{notebook}: code lines over {MAX_LINE} characters (cell id, length): {long}"


@pytest.mark.parametrize("notebook", registry.notebooks())
def test_notebook_code_parses_and_never_shadows_a_module_it_imports(notebook):
    """Notebook 05 named its feature table ``stats``, hiding the ``stats`` module for the rest of a session."""
    nb = nbformat.read(paths.notebooks() / notebook, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    tree = ast.parse(code)
    modules = {a.asname or a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
               for a in n.names}
    modules |= {"stats", "np", "pd", "plt"}  # names readers expect to be modules in this project
    assigned = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in ast.walk(n) if isinstance(t, ast.Name)
                and isinstance(t.ctx, ast.Store)}
    assert not (assigned & modules), f"{notebook} assigns to module names {sorted(assigned & modules)}"
