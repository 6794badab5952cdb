"""The notebooks' explorers: turn a knob in JupyterLab, see the network's answer within seconds.

* :func:`dream_explorer` (notebook 01): pick a layer, the renders, the octaves and the start image; the layer's dream
  at class size beside the cached stimulus of notebook 01's job.
* :func:`biggan_explorer` (notebook 05): α, seed and class sliders regenerate BigGAN's image under Eq. 3; "keep"
  collects favourites into a Figure 3-style panel, saved with the exact settings (:func:`save_favourites`).
* :func:`block_explorer` (notebook 06): the block B1..B13 redrawn by Eq. 4, by seed, beside the original.
* :func:`nearest_explorer` (notebook 07): pick a generated image, see its top-k paintings with their metadata.

Each is an :func:`helpers.figures.explore.explorer`: a widget in JupyterLab, the static figure of its defaults
under papermill. torch is imported only inside the functions that run a network (``helpers.synthesis``).
"""
from __future__ import annotations

import textwrap
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from helpers import io, paths, profiles
from helpers.figures import base, explore
from helpers.nets import models
from helpers.nets.layers import LAYERS

BLOCKS = tuple(f"B{i}" for i in range(1, 14))  # the paper's B1..B13 (helpers.synthesis.biggan.BLOCKS adds entry, output)


def dream_settings(profile: str, *, start=None) -> dict:
    """Notebook 01's algorithm settings at class size (smoke's for the smoke profile): the explorer's defaults.

    Args:
        profile: the notebook's profile.
        start: the start-image source the notebook uses (its ``START_IMAGES`` resolved: "study", "noise" or a
            folder); None: the profile's.

    Returns:
        dict of size, n_renders, iter_n, step, octave_n, octave_scale, tile_size and start (the start-image source).

    Used in: notebook 01 through :func:`helpers.figures.explorers.dream_explorer`.
    """
    cfg = profiles.resolve("01", "smoke" if profile == "smoke" else "class")
    keys = ("size", "n_renders", "iter_n", "step", "octave_n", "octave_scale", "tile_size", "start")
    out = {k: cfg[k] for k in keys}
    if start is not None:
        out["start"] = start
    return out


def dream_explorer(model, *, settings: dict, dream_dir=None, layer: str = "mixed4c", seeds=(0, 1, 2, 3, 4),
                   layers=LAYERS, notes=(), interactive=None, device=None, threads=None, fast: bool = True,
                   precision: str = "fp32"):
    """Notebook 01's explorer: one layer's dream, now, beside the stimulus notebook 01's job made for it.

    Args:
        model: inception5h (pretrained or stand-in), as notebook 01 loads it.
        settings: :func:`dream_settings` (size, step, ... and the defaults of the renders and octaves sliders).
        dream_dir: notebook 01's ``results/<profile>/dream`` folder; its PNG of the same (layer, seed) is shown beside
            the new dream when it exists.
        layer: the layer shown first (and under papermill); seeds: the start images offered (seed k: the study's
            file k+1, or seeded noise); layers: the dropdown's layers.
        notes: red lines for the figure (:data:`helpers.figures.base.STAND_IN`).
        interactive: as in :func:`helpers.figures.explore.explorer`.
        device, threads, fast, precision: as in :func:`helpers.synthesis.dream.dream`.

    Returns:
        :class:`helpers.figures.explore.Explorer` in JupyterLab, else the static Figure.

    Used in: notebook 01.
    """
    from helpers.synthesis import dream, dream_jobs, start_images

    s = dict(settings)
    starts = {}

    def start(seed):
        if seed not in starts:
            starts[seed] = start_images.start_images(s["start"], [seed], size=s["size"])[seed]
        return starts[seed]

    def render(layer, n_renders, octave_n, seed):
        img0, label = start(seed)
        t0 = time.perf_counter()
        img = dream.dream(model, layer, img0, n_renders=n_renders, iter_n=s["iter_n"], step=s["step"], octave_n=octave_n,
                          octave_scale=s["octave_scale"], tile_size=s["tile_size"], seed=seed, device=device,
                          threads=threads, fast=fast, precision=precision)
        took = time.perf_counter() - t0
        cached = Path(dream_dir) / dream_jobs.image_name(layer, seed) if dream_dir else None
        fig, axes = plt.subplots(1, 2, figsize=(7.2, 4.0))
        for ax in axes:
            ax.set_xticks([]), ax.set_yticks([])
        axes[0].imshow(img)
        axes[0].set_title(f"{layer}, start {label}\n{n_renders} renders x {octave_n} octaves, {s['size']} px ({took:.1f} s)",
                          fontsize=8)
        if cached is not None and cached.exists():
            axes[1].imshow(io.read_image(cached))
            axes[1].set_title(f"cached stimulus (notebook 01's job)\n{cached.name}", fontsize=8)
        else:
            axes[1].axis("off")
            axes[1].text(0.5, 0.5, f"no cached stimulus for\n{layer}, seed {seed}\n(notebook 01's job did not make it)",
                         ha="center", va="center", fontsize=8, transform=axes[1].transAxes)
        fig.tight_layout()
        return base.label(fig, *notes)

    controls = {"layer": explore.choice(list(layers), value=layer, label="layer"),
                "n_renders": explore.slider(1, max(20, s["n_renders"]), value=s["n_renders"], label="renders"),
                "octave_n": explore.slider(1, max(6, s["octave_n"]), value=s["octave_n"], label="octaves"),
                "seed": explore.choice([(f"start image {k}", k) for k in seeds], value=seeds[0], label="start")}
    return explore.explorer(controls, render, interactive=interactive,
                            title=f"DeepDream of one layer at {s['size']} px ({models.describe(model)})")


def _class_options(classes):
    from helpers.synthesis import biggan

    return [(f"{c} {n}", int(c)) for c, n in zip(classes, biggan.class_names(classes))]


def biggan_explorer(model, *, class_id: int = 832, seed: int = 0, alpha: float = 0.35, noise_seed: int | None = None,
                    spectral_norm: str = "stored", profile: str = "class", name: str = "p2-fig03-favourites",
                    interactive=None, device=None):
    """Notebook 05's explorer: α, seed and class sliders regenerate BigGAN's image; "keep" makes a Figure 3.

    Every image is made as in notebook 05's Figure 2 (:func:`helpers.synthesis.biggan_gallery.gallery` with one class
    and one network: the paper's latent row 0 for that class). "keep" adds the current image to the favourites and
    saves them (:func:`save_favourites`) as ``figures/<profile>/<name>.png`` (+ PDF), a Figure 3-style panel, with
    ``<name>.json`` beside it holding each image's exact class, seed, α, latent seed, truncation, spectral-norm mode
    and weights, and each image as a PNG in ``<name>/``. Favourites saved by an earlier session are loaded first.

    Args:
        model: BigGAN-deep-256 (pretrained or stand-in), as notebook 05 loads it.
        class_id, seed, alpha: the sliders' first values (shown under papermill).
        noise_seed: latent seed (default: the paper's 5678); spectral_norm: as in :func:`helpers.synthesis.biggan.generate`.
        profile: the figures folder; name: the panel's file stem.
        interactive: as in :func:`helpers.figures.explore.explorer`.

    Returns:
        :class:`helpers.figures.explore.Explorer` in JupyterLab, else the static Figure.

    Used in: notebook 05.
    """
    from helpers.synthesis import biggan, biggan_gallery

    noise_seed = biggan.NOISE_SEED if noise_seed is None else int(noise_seed)
    stand_in = models.is_stand_in(model)
    made = {}
    favourites = load_favourites(name, profile=profile)

    def render(class_id, seed, alpha):
        spec = biggan_gallery.perturbed(seed, alpha=alpha)
        g = biggan_gallery.gallery(model, [class_id], [spec], noise_seed=noise_seed, spectral_norm=spectral_norm,
                                   device=device, progress=False)
        cname = g.row_labels[0]
        made.update(image=g.images[0, 0], settings={
            "class_id": int(class_id), "class_name": cname, "equation": 3, "network_seed": int(seed),
            "alpha": float(alpha), "noise_seed": noise_seed, "latent_row": 0, "truncation": biggan.TRUNCATION,
            "spectral_norm": spectral_norm, "weights": g.weights, "stand_in": bool(stand_in)})
        fig, ax = plt.subplots(figsize=(4.2, 4.6))
        ax.imshow(g.images[0, 0])
        ax.set_axis_off()
        ax.set_title(f"{cname} ({class_id})\nEq. 3: network seed {seed}, α = {alpha:g}", fontsize=9)
        fig.tight_layout()
        return base.label(fig, base.STAND_IN if stand_in else None)

    def keep(values, figure):
        favourites.append({"settings": dict(made["settings"]), "image": made["image"]})
        png = save_favourites(favourites, name, profile=profile)
        return f"kept {len(favourites)}: saved {paths.display(png)} and {png.with_suffix('.json').name}"

    def forget(values, figure):
        if not favourites:
            return "nothing kept yet"
        favourites.pop()
        png = save_favourites(favourites, name, profile=profile)
        return f"{len(favourites)} kept: saved {paths.display(png)}"

    controls = {"class_id": explore.slider(0, 999, value=int(class_id), label="class"),
                "seed": explore.slider(0, 99, value=int(seed), label="network seed"),
                "alpha": explore.slider(0.0, 1.0, step=0.05, value=float(alpha), label="α")}
    return explore.explorer(controls, render, interactive=interactive, buttons={"keep": keep, "forget last": forget},
                            title=f"Eq. 3 perturbed BigGAN ({models.describe(model)})")


def favourites_panel(favourites, *, columns: int = 3, cell_size: float = 2.4):
    """A Figure 3-style panel of kept images, each captioned with its class, network seed and α.

    Args:
        favourites: list of ``{"settings": dict, "image": uint8 HxWx3}`` (:func:`biggan_explorer`'s "keep").

    Used in: notebook 05 through :func:`helpers.figures.explorers.biggan_explorer`.
    """
    n = max(len(favourites), 1)
    cols = min(columns, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * cell_size, rows * (cell_size + 0.45)), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, f in zip(axes.flat, favourites):
        s = f["settings"]
        ax.imshow(f["image"])
        ax.set_title(f"{s['class_name']} · seed {s['network_seed']} · α {s['alpha']:g}", fontsize=7)
    if not favourites:
        axes[0, 0].text(0.5, 0.5, "no favourites kept", ha="center", va="center")
    fig.suptitle("Selected images of perturbed BigGANs (Eq. 3), as the paper's Figure 3", fontsize=9)
    fig.tight_layout()
    return base.label(fig, base.STAND_IN if any(f["settings"].get("stand_in", True) for f in favourites) else None)


def save_favourites(favourites, name: str = "p2-fig03-favourites", *, profile: str = "class") -> Path:
    """Write the panel (PNG + PDF), ``<name>.json`` with every image's settings, and the images in ``<name>/``, atomically.

    Returns:
        Path of the panel's PNG.

    Used in: notebook 05 through :func:`helpers.figures.explorers.biggan_explorer`.
    """
    folder = paths.figures(profile)
    records = []
    for k, f in enumerate(favourites):
        s = f["settings"]
        file = f"{name}/{k:02d}-seed{s['network_seed']}-alpha{s['alpha']:g}-class{s['class_id']}.png"
        io.save_image(f["image"], folder / file)
        records.append({**s, "file": file})
    fig = favourites_panel(favourites)
    png = base.save(fig, name, profile=profile, close=True)
    io.save_json({"figure": png.name, "how": "helpers.figures.explorers.biggan_explorer (notebook 05)",
                  "favourites": records}, png.with_suffix(".json"))
    return png


def load_favourites(name: str = "p2-fig03-favourites", *, profile: str = "class") -> list:
    """The favourites an earlier session saved (:func:`save_favourites`), or ``[]``; images that are gone are skipped.

    Used in: notebook 05 through :func:`helpers.figures.explorers.biggan_explorer`.
    """
    meta = paths.figures(profile) / f"{name}.json"
    if not meta.exists():
        return []
    out = []
    for r in io.load_json(meta).get("favourites", []):
        f = paths.figures(profile) / r["file"]
        if f.exists():
            out.append({"settings": {k: v for k, v in r.items() if k != "file"}, "image": io.read_image(f)})
    return out


def block_explorer(model, *, classes, block: str = "B2", seed: int = 0, sn_power_iterations: int = 30,
                   spectral_norm: str = "stored", interactive=None, device=None):
    """Notebook 06's explorer: one block of BigGAN redrawn by Eq. 4 with a seed, beside the original network.

    Args:
        model: BigGAN-deep-256 (pretrained or stand-in).
        classes: ImageNet ids offered (the first is shown under papermill).
        block, seed: the first block (B1..B13) and network seed.
        sn_power_iterations, spectral_norm: as in :func:`helpers.synthesis.biggan_gallery.gallery`.

    Returns:
        :class:`helpers.figures.explore.Explorer` in JupyterLab, else the static Figure.

    Used in: notebook 06.
    """
    from helpers.synthesis import biggan_gallery

    stand_in = models.is_stand_in(model)
    originals = {}

    def make(spec, class_id):
        return biggan_gallery.gallery(model, [class_id], [spec], sn_power_iterations=sn_power_iterations,
                                      spectral_norm=spectral_norm, device=device, progress=False)

    def render(block, seed, class_id):
        if class_id not in originals:
            originals[class_id] = make(biggan_gallery.original(), class_id).images[0, 0]
        g = make(biggan_gallery.resampled(seed, block=block), class_id)
        fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.7))
        for ax, img, t in zip(axes, (g.images[0, 0], originals[class_id]),
                              (f"{block} redrawn (Eq. 4), seed {seed}", "original network")):
            ax.imshow(img)
            ax.set_axis_off()
            ax.set_title(t, fontsize=9)
        fig.suptitle(g.row_labels[0], fontsize=9)
        fig.tight_layout()
        return base.label(fig, base.STAND_IN if stand_in else None)

    controls = {"block": explore.choice(list(BLOCKS), value=block, label="block"),
                "seed": explore.slider(0, 99, value=int(seed), label="network seed"),
                "class_id": explore.choice(_class_options(classes), value=int(classes[0]), label="class")}
    return explore.explorer(controls, render, interactive=interactive,
                            title=f"Eq. 4: one block redrawn ({models.describe(model)})")


def _thumb(img, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize((size, size), Image.BICUBIC))


def _caption(row, width: int = 24) -> str:
    def short(v):
        return textwrap.shorten(str(v if v is not None and v == v else "?"), width=width, placeholder="…")

    artist = short(row.get("artist")).replace("-", " ").title()
    return (f"#{int(row['rank'])} cos {row['similarity']:.3f}\n{short(row.get('title') or row.get('item'))}\n{artist}\n"
            f"{short(row.get('style')).replace('_', ' ')} · {short(row.get('split'))}")


def nearest_explorer(results, queries, corpus, *, k: int = 5, query=None, notes=(), interactive=None,
                     thumb: int = 160):
    """Notebook 07's explorer: a generated image and its top-k paintings with artist, title, style and split.

    Args:
        results: the search's DataFrame (``query``, ``rank``, ``item``, ``similarity``, ``row`` and the metadata).
        queries: :class:`helpers.search.artbench.Corpus` of the generated images (``label`` column for the menu).
        corpus: the artworks (``row`` in ``results`` indexes it).
        k: paintings per query; query: the query id shown first (default: the first).
        notes: red lines (:func:`helpers.figures.paper2.nearest_notes`).

    Returns:
        :class:`helpers.figures.explore.Explorer` in JupyterLab, else the static Figure.

    Used in: notebook 07.
    """
    names = [queries.name(i) for i in range(len(queries))]
    labels = list(queries.items["label"]) if "label" in queries.items else names
    have = set(results["query"])
    options = [(f"{j}: {lab}", q) for j, (lab, q) in enumerate(zip(labels, names)) if q in have]
    if not options:
        raise ValueError("nearest_explorer: no query of `queries` has results")

    def render(query):
        res = results[results["query"] == query].sort_values("rank").head(k)
        fig, axes = plt.subplots(1, k + 1, figsize=(1.75 * (k + 1), 2.9), squeeze=False)
        for ax in axes.flat:
            ax.set_axis_off()
        axes[0, 0].imshow(_thumb(queries.load(names.index(query)), thumb))
        axes[0, 0].set_title(textwrap.fill(labels[names.index(query)], 22), fontsize=7, color="#1f3f8f")
        for j, (_, row) in enumerate(res.iterrows(), 1):
            axes[0, j].imshow(_thumb(corpus.load(int(row["row"])), thumb))
            axes[0, j].set_title(_caption(row), fontsize=6)
        fig.suptitle(f"top-{k} nearest paintings (Gram cosine)", fontsize=8)
        fig.tight_layout()
        return base.label(fig, *notes)

    first = query if query is not None else options[0][1]
    return explore.explorer({"query": explore.choice(options, value=first, label="generated image")}, render,
                            interactive=interactive, title="Nearest paintings of one generated image")
