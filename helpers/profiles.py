"""The three profiles and the one place a notebook's sizes are resolved from them.

=========  ===========================================================================
profile    what it is
=========  ===========================================================================
``paper``  the papers' settings: pretrained weights, full sizes (``make figures``; hours)
``class``  pretrained weights at teaching size: minutes on a laptop (the notebooks' default)
``smoke``  stand-in weights, tiny sizes (CI and ``make smoke``; seconds per notebook)
=========  ===========================================================================

:data:`NOTEBOOKS` holds, for every notebook that scales with the profile, each setting's value per
profile. A notebook passes its parameters through :func:`resolve`: a parameter left at ``None`` takes
the profile's value, any other value (e.g. set by papermill) wins. The result is a :class:`Settings`,
read by name (``cfg.size``) or as a mapping (``cfg["size"]``), never by position.
"""
from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Mapping

from helpers.nets.layers import CLASS_LAYERS, LAYERS

PROFILES = ("paper", "class", "smoke")  # papers' settings; real weights at teaching size; stand-ins, tiny


def check(profile: str) -> str:
    """Return ``profile`` if it is one of :data:`PROFILES`, else raise a clear ValueError.

    Used in: notebook 00; notebooks 01 (p1-dream-contact-sheet.png, p1-dream-octaves.png), 03, 04, 05 and 06
        through :func:`helpers.figures.base.save`; notebooks 02, 07 and 08 through :func:`helpers.paths.results`.
    """
    if profile not in PROFILES:
        raise ValueError(f"PROFILE must be one of {PROFILES}, got {profile!r}")
    return profile


def default(*, cli: bool = False) -> str:
    """The profile to start with: ``$NA_PROFILE`` when set, else ``"class"`` (a notebook) or ``"smoke"`` (the command line).

    One switch for every entry point: each notebook's parameters cell reads ``PROFILE = profiles.default()``
    (papermill's value, injected in a cell after it, still wins), ``pipeline run --profile`` defaults to
    ``default(cli=True)``, and ``make lab PROFILE=smoke`` exports ``NA_PROFILE``.

    Raises:
        ValueError: ``NA_PROFILE`` holds something other than one of :data:`PROFILES`.

    Used in: notebooks 00-08 (the parameters cell's ``PROFILE``); :func:`helpers.pipeline.main` (``--profile``).
    """
    value = os.environ.get("NA_PROFILE", "").strip()
    if value:
        if value not in PROFILES:
            raise ValueError(f"NA_PROFILE must be one of {', '.join(PROFILES)}, got {value!r}")
        return value
    return "smoke" if cli else "class"


def _same(value) -> dict:
    """The same value in every profile."""
    return {p: value for p in PROFILES}


# Paper 2's figures (Janik 2023): the classes each figure shows, and the seeds. The paper picked five of
# seeds 0-10 for Figures 2 and 5 without naming them: we take 0-4, unselected; S1 / S2 show seeds 0-23.
_FIG2_CLASSES = [832, 967, 528, 978]  # stupa, espresso, dial telephone, seashore
_FIG5_CLASSES = [832, 967, 980, 528]  # stupa, espresso, volcano, dial telephone
_CONSECUTIVE_SEEDS = list(range(24))

NOTEBOOKS: dict[str, dict[str, dict]] = {
    # 01: paper = the study (Methods "Image generation" and Image_Generation.py); class = pretrained weights,
    # 20 layers x 1 seed at 256 px, 10 renders; smoke = stand-in weights, tiny, bigger steps so changes show
    # (96 px keeps the 68-px octave above the auxiliary heads' 65 px).
    "01": {
        "layers": {"paper": "all", "class": list(CLASS_LAYERS), "smoke": "all"},
        "seeds": {"paper": [0, 1, 2, 3, 4], "class": [0], "smoke": [0]},
        "size": {"paper": 800, "class": 256, "smoke": 96},
        "n_renders": {"paper": 50, "class": 10, "smoke": 2},
        "iter_n": _same(1),
        "step": {"paper": 2.0, "class": 2.0, "smoke": 12.0},
        "octave_n": {"paper": 5, "class": 5, "smoke": 2},
        "octave_scale": _same(1.4),
        "tile_size": _same(512),
        "start": {"paper": "study", "class": "study", "smoke": None},
        "source": {"paper": "pretrained", "class": "pretrained", "smoke": "random"},
        "threads": {"paper": None, "class": None, "smoke": 1},
        "workers": {"paper": "auto", "class": "auto", "smoke": 1},
    },
    # 02: smoke shows fewer examples and skips the CNN measures (no weights) and the 2nd-order edge-orientation
    # entropy (10^8 edge pairs per image, ~2 s each; tests/test_aesthetics.py checks it). None: all measures.
    "02": {
        "n_examples": {"paper": 4, "class": 4, "smoke": 2},
        "aesthetics_which": {"paper": None, "class": None,
                             "smoke": ["size", "color", "edge_density", "eoe_1st_order", "fourier", "fractal", "phog",
                                       "balance"]},
    },
    # 04: smoke uses a coarser density grid and a token power analysis
    "04": {
        "bins": {"paper": 101, "class": 101, "smoke": 51},
        "power_n": {"paper": [10, 20, 40, 80, 150], "class": [10, 20, 40, 80, 150], "smoke": [4, 12]},
        "power_sims": {"paper": 20, "class": 20, "smoke": 4},
    },
    # 05 and 06: "class" is pretrained weights at teaching size (a few classes and networks, minutes on a laptop CPU)
    "05": {
        "source": {"paper": "pretrained", "class": "pretrained", "smoke": "random"},  # BigGAN's weights
        "fig2_seeds": {"paper": [0, 1, 2, 3, 4], "class": [0, 1, 2], "smoke": [0, 1]},
        "fig2_classes": {"paper": _FIG2_CLASSES, "class": [832, 967], "smoke": [832, 967]},
        "s1_seeds": {"paper": _CONSECUTIVE_SEEDS, "class": list(range(8)), "smoke": [0, 1]},
        "s1_classes": _same([832, 967]),
        "alphas": {"paper": [0.0, 0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1.0], "class": [0.0, 0.2, 0.35, 0.6],
                   "smoke": [0.0, 0.35, 0.6]},
        "sweep_classes": {"paper": _FIG2_CLASSES, "class": [832, 967], "smoke": [832]},
        "distance_seeds": {"paper": _CONSECUTIVE_SEEDS, "class": list(range(6)), "smoke": [0, 1, 2]},
        "distance_alphas": {"paper": [0.05, 0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1.0], "class": [0.1, 0.35, 0.6],
                            "smoke": [0.1, 0.35, 0.6]},
        "distance_alpha_seeds": {"paper": [0, 1, 2, 3, 4], "class": [0, 1, 2], "smoke": [0, 1]},
        "original_noise_seeds": {"paper": [5678, 5679, 5680, 5681, 5682], "class": [5678, 5679], "smoke": [5679]},
    },
    "06": {
        "source": {"paper": "pretrained", "class": "pretrained", "smoke": "random"},
        "fig5_seeds": {"paper": [0, 1, 2, 3, 4], "class": [0, 1, 2], "smoke": [0, 1]},
        "fig5_classes": {"paper": _FIG5_CLASSES, "class": [832, 967], "smoke": [832, 967]},
        "s2_seeds": {"paper": _CONSECUTIVE_SEEDS, "class": list(range(8)), "smoke": [0, 1]},
        "s2_classes": _same([832, 967]),
        "sweep_blocks": {"paper": [f"B{i}" for i in range(1, 14)], "class": [f"B{i}" for i in range(1, 14)],
                         "smoke": ["B1", "B2", "B9", "B13"]},  # smoke: first, the paper's, the attention block, the last
        "sweep_classes": {"paper": _FIG5_CLASSES, "class": [967], "smoke": [832]},
        "s7_seeds": {"paper": [0, 1, 2, 3, 4], "class": [0, 1], "smoke": [0]},
        "s7_classes": {"paper": _FIG5_CLASSES, "class": [832, 967], "smoke": [832]},
    },
    # 07: paper = all 60,000 ArtBench-10 artworks, 256x256 ImageFolder, 224 px input; class = the smallest
    # distribution (32x32 CIFAR-python), a fixed 1,000-artwork subset (the first 100 of each style of the test
    # split), 112 px input: minutes on a laptop CPU; smoke = a demo corpus (20 procedurally drawn "paintings",
    # 96 px) at 64 px, stand-in weights, no download, an index rebuilt every run.
    "07": {
        "corpus_layout": {"paper": "imagefolder-split", "class": "cifar-python", "smoke": "imagefolder-split"},
        "n_per_style": {"paper": None, "class": 100, "smoke": None},
        "split": {"paper": None, "class": "test", "smoke": None},
        "image_size": {"paper": 224, "class": 112, "smoke": 64},
        "demo_corpus": {"paper": None, "class": None, "smoke": {"n": 20, "size": 96}},
        "weights": {"paper": "pretrained", "class": "pretrained", "smoke": "random"},
        "batch_size": {"paper": 32, "class": 32, "smoke": 8},
        "download": {"paper": True, "class": True, "smoke": False},
        "rebuild": {"paper": False, "class": False, "smoke": True},
        "demo_queries": {"paper": False, "class": False, "smoke": True},  # demo queries when notebook 05 has not run
    },
    # 08: class and smoke use fewer images, participants and power simulations (the paper's values in "paper")
    "08": {
        "n_images": {"paper": 0, "class": 72, "smoke": 12},  # 0: all images
        "n_participants": {"paper": 150, "class": 20, "smoke": 4},
        "display_size": {"paper": 512, "class": 512, "smoke": 128},
        "power_n": {"paper": [10, 20, 40, 80, 150], "class": [5, 10, 20, 40], "smoke": [4, 12]},
        "power_sims": {"paper": 50, "class": 10, "smoke": 4},
    },
}
"""Each notebook's settings per profile: ``{notebook: {setting: {profile: value}}}``."""


class Settings(Mapping):
    """A notebook's resolved settings: read by name (``cfg.size``) or as a mapping (``cfg["size"]``, ``dict(cfg)``).

    Used in: notebooks 01, 02, 04, 05, 06, 07 and 08 through :func:`helpers.profiles.resolve`.
    """

    def __init__(self, notebook: str, profile: str, values: dict):
        self._notebook, self._profile, self._values = notebook, profile, dict(values)

    def __getattr__(self, name):
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"notebook {self._notebook} has no setting {name!r}; settings: "
                                 f"{', '.join(self._values)}") from None

    def __getitem__(self, name):
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Settings({self._notebook!r}, {self._profile!r}, {self._values!r})"


def resolve(notebook: str, profile: str, **given) -> Settings:
    """The settings of ``notebook`` for ``profile``: every value in ``given`` that is not None wins.

    Args:
        notebook: ``"01"``, ``"02"``, ``"04"``, ``"05"``, ``"06"``, ``"07"`` or ``"08"`` (:data:`NOTEBOOKS`).
        profile: ``"paper"``, ``"class"`` or ``"smoke"``.
        given: the notebook's parameters by setting name (lower case), ``None`` for "the profile's".

    Returns:
        :class:`Settings` holding every setting of the notebook (not only those given), in
        :data:`NOTEBOOKS` order; the profile's values are copies (changing one changes no table).

    Raises:
        ValueError: unknown profile, notebook or setting name.

    Used in: notebooks 01, 02, 04, 05, 06, 07 and 08.
    """
    check(profile)
    if notebook not in NOTEBOOKS:
        raise ValueError(f"resolve: notebook must be one of {sorted(NOTEBOOKS)}, got {notebook!r}")
    table = NOTEBOOKS[notebook]
    unknown = [k for k in given if k not in table]
    if unknown:
        raise ValueError(f"resolve: {unknown} are not settings of notebook {notebook}; known: {sorted(table)}")
    values = {k: given[k] if given.get(k) is not None else copy.deepcopy(v[profile]) for k, v in table.items()}
    if notebook == "01":  # before the network loads: a misspelt layer fails here, not after minutes of dreaming
        _check_layers(values["layers"])
    return Settings(notebook, profile, values)


def _check_layers(value) -> None:
    """``"all"``, a layer name or a list of them from the 144 study layers, else a ValueError with the nearest name."""
    if value == "all":
        return
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)):
        raise ValueError(f"LAYERS must be \"all\", a layer name or a list of them, got {value!r}")
    bad = []
    for name in names:
        if name not in LAYERS:
            near = [n for n in LAYERS if n.lower() == str(name).lower()] or difflib.get_close_matches(str(name), LAYERS, n=1)
            bad.append(f"{name!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
    if bad:
        raise ValueError(f"LAYERS: {', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not among the 144 study layers "
                         f"(helpers.nets.layers.LAYERS)")
