"""Export a self-contained jsPsych rating experiment from any folder of images.

:func:`export` writes a folder that runs offline (open ``index.html`` from a laptop, or copy it to any
static web host)::

    index.html               the page: jsPsych + plugins + this project's dual-slider plugin
    config.js                every setting and the stimulus list (``window.NA_CONFIG``)
    experiment.js            the timeline (welcome, questions, blocks of ratings, breaks, data saving)
    na-dual-slider.js        plugin: one image, valence and arousal sliders on ONE screen, SAM pictograms
    jspsych/                 vendored jsPsych 8 files (``helpers/vendor/jspsych``, MIT, see LICENSE there)
    stimuli/s0001.png ...    the images resized to ``display_size`` (neutral names: the file name of a
                             stimulus, e.g. its layer, is not shown to the participant)
    manifest.json            what was exported: settings, experiment version, each image with the
                             sha256 of its source and of its displayed file, skipped files and why
    stimuli.csv              the stimulus table (id, displayed file, descriptive columns)

One trial per image; both sliders run 0-100, start at 50 and must both be moved before Continue
is enabled. The order is shuffled per participant with a seeded generator (the seed is the export's
``seed`` and the participant id; :func:`participant_order` recomputes it) and recorded in the data.
Images are preloaded in chunks of ``preload_chunk`` right before they are needed (jsPsych#605: one
preload of 560 images hit the 60 s default timeout). Data: a CSV download at the end (JSON on a
button), optionally POSTed as JSON to ``post_url``. :func:`helpers.ratings.from_jsPsych` reads it back.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

FORMAT = "na-rating-experiment/1"
"""Written into every exported data row (``experiment_format``); the importer checks it."""
VENDOR = Path(__file__).resolve().parent / "vendor" / "jspsych"
ASSETS = Path(__file__).resolve().parent / "experiment_assets"
VENDORED_FILES = ("jspsych.min.js", "jspsych.css", "plugin-preload.min.js", "plugin-html-button-response.min.js",
                  "plugin-survey-multi-choice.min.js")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif")

DEFAULT_QUESTIONS = (
    # The study measured mood ("attitude", 3 levels) and self-esteem (5 levels) before the ratings; the
    # paper gives neither wording (Marczak-Czajka et al. 2024, Section 4.3). These defaults are ours: a
    # three-level mood item, and the Single-Item Self-Esteem scale (Robins, Hendin & Trzesniewski 2001,
    # "I have high self-esteem", 1 = not very true of me .. 5 = very true of me). Pass your own.
    {"name": "attitude", "prompt": "How would you describe your mood right now?",
     "options": ["negative", "neutral", "positive"], "values": ["negative", "neutral", "positive"], "horizontal": True},
    {"name": "self_esteem", "prompt": "&ldquo;I have high self-esteem.&rdquo;",
     "options": ["1 (not very true of me)", "2", "3", "4", "5 (very true of me)"], "values": [1, 2, 3, 4, 5],
     "horizontal": True},
)
DEFAULT_ATTENTION_CHECKS = (
    {"prompt": "<b>Attention check:</b> please move the <b>pleasant</b> slider all the way to the LEFT and the "
               "<b>calm/excited</b> slider all the way to the RIGHT.", "valence": 0, "arousal": 100},
    {"prompt": "<b>Attention check:</b> please move the <b>pleasant</b> slider all the way to the RIGHT and the "
               "<b>calm/excited</b> slider all the way to the LEFT.", "valence": 100, "arousal": 0},
)
ATTENTION_TOLERANCE = 10
"""An attention check passes when both sliders end within this many points of the asked value."""
TEXTS = {
    "title": "Image ratings",
    "welcome_html": "<h2>Image ratings</h2><p>You will see a series of images. For each one, say how it makes you "
                    "feel with two sliders.</p><p>Your answers are anonymous. You can stop at any time by closing "
                    "this page.</p>",
    "instructions_html": "<p>For each image, move <b>both</b> sliders: how <b>pleasant</b> it feels "
                         "(valence) and how <b>excited</b> it makes you (arousal). The middle means neutral.</p>"
                         "<p>Go with your first impression.</p>",
    "break_html": "<p>Block {done} of {total} done. Take a short break, then continue.</p>",
    "loading_html": "<p>Loading images...</p>",
    "end_html": "<h2>Thank you!</h2><p>Your data are ready. If the download did not start, use the buttons "
                "below and send the file to the experimenter.</p>",
    "start_label": "Start", "continue_label": "Continue",
    "download_csv_label": "Download data (CSV)", "download_json_label": "Download data (JSON)",
    "post_ok_text": "Data sent.", "post_failed_text": "Sending the data failed; please download them",
    "valence_question": "How pleasant does this image feel?", "valence_left": "unpleasant", "valence_right": "pleasant",
    "arousal_question": "How calm or excited does it make you feel?", "arousal_left": "calm", "arousal_right": "excited",
}


# ---------------------------------------------------------------------------------------------
# SAM-style pictograms (drawn here; 5 per scale, low to high)
# ---------------------------------------------------------------------------------------------
def sam_svg(axis: str, level: int, *, size: int = 56) -> str:
    """One Self-Assessment-Manikin-style pictogram as an SVG string (our own drawing).

    Args:
        axis: "valence" (the mouth goes from a frown to a smile) or "arousal" (eyes open wider and
            a burst in the chest grows, from a calm sleepy figure to an agitated one).
        level: 1 (lowest) .. 5 (highest).
        size: width and height in px.
    """
    if axis not in ("valence", "arousal") or level not in (1, 2, 3, 4, 5):
        raise ValueError(f"sam_svg: axis must be 'valence'/'arousal' and level 1-5, got {axis!r}, {level!r}")
    k = (level - 3) / 2  # -1 .. 1
    ink = 'stroke="#222" stroke-width="2.2" fill="none" stroke-linecap="round" stroke-linejoin="round"'
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 60 60" '
             f'role="img" aria-label="{axis} {level} of 5">',
             '<path d="M18 58 L22 36 Q30 31 38 36 L42 58" fill="#e8e4da" stroke="#222" stroke-width="2"/>',  # body
             '<circle cx="30" cy="20" r="13" fill="#f6f1e6" stroke="#222" stroke-width="2"/>']  # head
    if axis == "valence":
        parts += ['<circle cx="25" cy="17" r="1.8" fill="#222"/>', '<circle cx="35" cy="17" r="1.8" fill="#222"/>']
        parts.append(f'<path d="M23 {26 - 2 * k:.1f} Q30 {26 + 7 * k:.1f} 37 {26 - 2 * k:.1f}" {ink}/>')  # mouth
    else:
        eye = 0.4 + 2.2 * (level - 1) / 4  # half-height of the eyes
        parts += [f'<ellipse cx="25" cy="17" rx="2.4" ry="{eye:.2f}" fill="#222"/>',
                  f'<ellipse cx="35" cy="17" rx="2.4" ry="{eye:.2f}" fill="#222"/>',
                  f'<path d="M26 26 L34 26" {ink}/>']
        r_out, r_in, n = 2.5 + 2.4 * (level - 1), 1.5 + 1.0 * (level - 1), 5 + level  # chest burst
        import math

        pts = []
        for j in range(2 * n):
            r = r_out if j % 2 == 0 else r_in
            a = math.pi * j / n - math.pi / 2
            pts.append(f"{30 + r * math.cos(a):.1f},{46 + r * math.sin(a):.1f}")
        parts.append(f'<polygon points="{" ".join(pts)}" fill="#d9534f" stroke="#222" stroke-width="1"/>')
        if level >= 4:  # motion lines
            parts += [f'<path d="M{9 - level} 14 L{13 - level} 18 M{51 + level} 14 L{47 + level} 18" {ink}/>']
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# per-participant order (the same generator as experiment.js)
# ---------------------------------------------------------------------------------------------
def _fnv1a(text: str) -> int:
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def _imul(a: int, b: int) -> int:
    return (a * b) & 0xFFFFFFFF


def _mulberry32(a: int):
    state = [a & 0xFFFFFFFF]

    def rand() -> float:
        state[0] = (state[0] + 0x6D2B79F5) & 0xFFFFFFFF
        t = state[0]
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296
    return rand


def participant_order(participant: str, stimuli, *, seed: int = 0) -> list:
    """The order in which ``participant`` sees ``stimuli`` (ids in export order), as experiment.js draws it.

    FNV-1a hash of ``"<seed>:<participant>"`` seeds mulberry32, which drives a Fisher-Yates shuffle.
    """
    rand = _mulberry32(_fnv1a(f"{seed}:{participant}"))
    out = list(stimuli)
    for i in range(len(out) - 1, 0, -1):
        j = int(rand() * (i + 1))
        out[i], out[j] = out[j], out[i]
    return out


# ---------------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------------
def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _image_inputs(images, root):
    """DataFrame (path + descriptive columns) and the folder the paths are relative to."""
    import pandas as pd

    if isinstance(images, pd.DataFrame):
        if "path" not in images.columns:
            raise ValueError(f"experiment.export: a DataFrame of images needs a 'path' column (got {list(images.columns)})")
        if root is None:
            raise ValueError("experiment.export: pass root= (the folder the 'path' column is relative to)")
        return images.reset_index(drop=True).copy(), Path(root)
    folder = Path(images)
    if not folder.is_dir():
        raise FileNotFoundError(f"experiment.export: {folder} is not a folder of images")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    rel = [p.relative_to(folder) for p in files]
    table = pd.DataFrame({"path": [r.as_posix() for r in rel]})
    if any(len(r.parts) > 1 for r in rel):  # sub-folders name the conditions
        table["condition"] = [r.parts[0] if len(r.parts) > 1 else "" for r in rel]
    return table, folder


def image_table(folder):
    """The images under ``folder`` as a table: ``path`` (relative, = stimulus id) [, ``condition`` = first sub-folder]."""
    return _image_inputs(folder, None)[0]


def export(images, folder, *, root=None, display_size: int = 512, block_size: int = 40, preload_chunk: int = 20,
           max_load_time_s: float = 60.0, attention_checks=DEFAULT_ATTENTION_CHECKS, questions=DEFAULT_QUESTIONS,
           require_movement: bool = True, post_url: str | None = None, auto_download: bool = True, seed: int = 0,
           experiment_id: str = "na-ratings", texts=None, image_format: str = "png", jpeg_quality: int = 90,
           overwrite: bool = False, progress: bool = True) -> Path:
    """Write a self-contained jsPsych 8 rating experiment for a set of images.

    Args:
        images: a folder (searched recursively; stimulus id = path relative to it; the first
            sub-folder, if any, becomes the descriptive column ``condition``) or a DataFrame
            with a ``path`` column relative to ``root`` and any descriptive columns (``layer``,
            ``seed``, ``network``, ``alpha``, ``condition``, ...), e.g. notebook 01's manifest.
        folder: the experiment folder to write (must be empty or absent unless ``overwrite``).
        display_size: images are resized (Lanczos, aspect kept) so the longer side is this many px,
            and shown at that size.
        block_size: ratings per block; a break screen separates blocks.
        preload_chunk: images preloaded at once, right before their trials.
        max_load_time_s: time limit of each preload chunk (jsPsych's ``max_load_time``).
        attention_checks: list of ``{"prompt", "valence", "arousal"}`` (asked values 0-100), each shown
            once at a seeded random position; ``()`` for none.
        questions: participant questions asked before the ratings: ``{"name", "prompt", "options",
            "values"}``, ``values`` being what the data record for each option (default: attitude and
            self-esteem, see ``DEFAULT_QUESTIONS``).
        require_movement: Continue stays disabled until both sliders were moved.
        post_url: if given, the data are also POSTed there as JSON at the end.
        auto_download: start the CSV download when the last trial ends.
        seed: seeds every participant's order (with the participant id).
        experiment_id: name used in the data and in the downloaded file names.
        texts: overrides for ``TEXTS`` (welcome, instructions, slider labels, ...).
        image_format: "png" or "jpg" for the displayed files.

    Returns:
        Path of ``folder``. Unreadable image files are skipped with a warning naming each file and
        listed under ``skipped`` in the manifest.
    """
    import pandas as pd
    from PIL import Image, UnidentifiedImageError
    from tqdm.auto import tqdm

    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"experiment.export: {folder} is not empty; pass overwrite=True to replace it")
    if image_format not in ("png", "jpg"):
        raise ValueError(f"experiment.export: image_format must be 'png' or 'jpg', got {image_format!r}")
    for name, v in (("display_size", display_size), ("block_size", block_size), ("preload_chunk", preload_chunk)):
        if int(v) < 1:
            raise ValueError(f"experiment.export: {name} must be >= 1, got {v}")
    for q in questions:
        missing = {"name", "prompt", "options"} - set(q)
        if missing:
            raise ValueError(f"experiment.export: question {q} lacks {sorted(missing)}")
        if len(q.get("values", q["options"])) != len(q["options"]):
            raise ValueError(f"experiment.export: question {q['name']!r} has {len(q['options'])} options but "
                             f"{len(q['values'])} values")
    for a in attention_checks:
        if not ({"prompt", "valence", "arousal"} <= set(a)) or not all(0 <= a[k] <= 100 for k in ("valence", "arousal")):
            raise ValueError(f"experiment.export: attention check {a} needs prompt, valence and arousal in 0-100")
    table, src_root = _image_inputs(images, root)
    if table["path"].duplicated().any():
        raise ValueError(f"experiment.export: duplicate image paths {table.loc[table['path'].duplicated(), 'path'].tolist()[:5]}")
    texts = {**TEXTS, **(texts or {})}

    if folder.exists() and overwrite:
        shutil.rmtree(folder)
    tmp = folder.with_name(f".{folder.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "stimuli").mkdir(parents=True)
    (tmp / "jspsych").mkdir()
    stimuli, skipped = [], []
    for row in tqdm(table.to_dict("records"), desc="export images", disable=not progress):
        src = src_root / row["path"]
        try:
            with Image.open(src) as im:
                im.load()
                rgb = im.convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            warnings.warn(f"experiment.export: {src}: unreadable image ({exc}); skipped", stacklevel=2)
            skipped.append({"path": str(row["path"]), "error": f"{type(exc).__name__}: {exc}"})
            continue
        w, h = rgb.size
        scale = display_size / max(w, h)
        shown = rgb.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
        name = f"stimuli/s{len(stimuli) + 1:04d}.{image_format}"
        if image_format == "png":
            shown.save(tmp / name, format="PNG")
        else:
            shown.save(tmp / name, format="JPEG", quality=int(jpeg_quality))
        extra = {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.items() if k != "path"}
        stimuli.append({"stimulus": Path(str(row["path"])).as_posix(), "file": name, "source_sha256": _sha256(src),
                        "sha256": _sha256(tmp / name), "source_width": w, "source_height": h,
                        "width": shown.size[0], "height": shown.size[1], **extra})
    if not stimuli:
        shutil.rmtree(tmp)
        raise ValueError(f"experiment.export: no readable image in {src_root} ({len(skipped)} skipped)")

    settings = {"display_size": int(display_size), "block_size": int(block_size), "preload_chunk": int(preload_chunk),
                "max_load_time_ms": int(max_load_time_s * 1000), "require_movement": bool(require_movement),
                "post_url": post_url, "auto_download": bool(auto_download), "seed": int(seed),
                "attention_checks": [dict(a) for a in attention_checks], "attention_tolerance": ATTENTION_TOLERANCE,
                "questions": [{**q, "values": list(q.get("values", q["options"]))} for q in questions],
                "image_format": image_format, "texts": texts}
    version = hashlib.sha256(json.dumps({"settings": settings, "stimuli": [(s["stimulus"], s["sha256"]) for s in stimuli]},
                                        sort_keys=True).encode()).hexdigest()[:16]
    vendor = json.loads((VENDOR / "VENDOR.json").read_text())
    scales = [{"name": ax, "question": texts[f"{ax}_question"], "left": texts[f"{ax}_left"], "right": texts[f"{ax}_right"],
               "pictograms": [sam_svg(ax, lv) for lv in range(1, 6)]} for ax in ("valence", "arousal")]
    config = {"format": FORMAT, "experiment_id": experiment_id, "experiment_version": version, "seed": int(seed),
              "participant_param": "participant", "display_size": int(display_size), "block_size": int(block_size),
              "preload_chunk": int(preload_chunk), "max_load_time_ms": settings["max_load_time_ms"],
              "require_movement": bool(require_movement), "post_url": post_url, "auto_download": bool(auto_download),
              "questions": settings["questions"], "attention_checks": settings["attention_checks"], "scales": scales,
              "stimuli": [{"stimulus": s["stimulus"], "file": s["file"]} for s in stimuli],
              **{k: v for k, v in texts.items() if not k.startswith(("valence_", "arousal_"))}}
    (tmp / "config.js").write_text("window.NA_CONFIG = " + json.dumps(config, indent=1) + ";\n")
    for name in VENDORED_FILES + ("LICENSE", "VENDOR.json"):
        shutil.copyfile(VENDOR / name, tmp / "jspsych" / name)
    for name in ("experiment.js", "na-dual-slider.js"):
        shutil.copyfile(ASSETS / name, tmp / name)
    (tmp / "index.html").write_text(_INDEX_HTML.format(title=texts["title"], size=int(display_size)))
    pd.DataFrame(stimuli).to_csv(tmp / "stimuli.csv", index=False)
    manifest = {"format": FORMAT, "experiment_id": experiment_id, "experiment_version": version,
                "created_by": "helpers.experiment.export", "source_folder": str(src_root), "settings": settings,
                "vendored": vendor["packages"], "n_stimuli": len(stimuli), "stimuli": stimuli, "skipped": skipped,
                "files": {p.relative_to(tmp).as_posix(): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder


def load_manifest(path) -> dict:
    """Read an export's ``manifest.json`` (path of the file or of the experiment folder)."""
    path = Path(path)
    path = path / "manifest.json" if path.is_dir() else path
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable experiment manifest ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r} (written by experiment.export)")
    return manifest


def stimulus_table(manifest):
    """The exported stimuli as a DataFrame: stimulus, file, hashes, sizes and the descriptive columns."""
    import pandas as pd

    return pd.DataFrame(manifest["stimuli"])


def verify(folder) -> list[str]:
    """Re-hash every file the manifest lists; return the problems (empty when the folder is intact)."""
    folder = Path(folder)
    manifest = load_manifest(folder)
    out = []
    for rel, digest in manifest["files"].items():
        p = folder / rel
        if not p.exists():
            out.append(f"{p}: missing")
        elif _sha256(p) != digest:
            out.append(f"{p}: sha256 differs from the manifest")
    return out


_INDEX_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<!-- jsPsych 8 and plugins, vendored unchanged from npm (see jspsych/VENDOR.json and jspsych/LICENSE) -->
<script src="jspsych/jspsych.min.js"></script>
<script src="jspsych/plugin-preload.min.js"></script>
<script src="jspsych/plugin-html-button-response.min.js"></script>
<script src="jspsych/plugin-survey-multi-choice.min.js"></script>
<script src="na-dual-slider.js"></script>
<script src="config.js"></script>
<link rel="stylesheet" href="jspsych/jspsych.css">
<style>
  .na-trial {{ display: flex; flex-direction: column; align-items: center; gap: 6px; }}
  .na-image {{ display: block; margin: 4px auto; }}
  .na-prompt {{ max-width: {size}px; color: #8a1c1c; font-size: 18px; margin-bottom: 4px; }}
  .na-scale {{ width: min({size}px, 92vw); margin-top: 6px; }}
  .na-question {{ font-size: 16px; margin-bottom: 2px; }}
  .na-sam {{ display: flex; justify-content: space-between; }}
  .na-slider {{ width: 100%; }}
  .na-ends {{ display: flex; justify-content: space-between; font-size: 13px; color: #555; }}
  #na-continue {{ margin-top: 10px; }}
</style>
</head>
<body>
<div id="jspsych-target"></div>
<script src="experiment.js"></script>
</body>
</html>
"""


# ---------------------------------------------------------------------------------------------
# running it: a local web server and a scripted participant in headless Chromium
# ---------------------------------------------------------------------------------------------
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1100,1500")
INSTALL_HINT = ("install Chromium and its WebDriver: Debian/Ubuntu `sudo apt-get install chromium chromium-driver`; "
                "macOS `brew install --cask chromium chromedriver`; and Selenium: `pip install selenium`")


def find_chromium() -> tuple[str, str] | None:
    """(chromium binary, chromedriver binary) found on PATH, or None."""
    import os

    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    driver = shutil.which("chromedriver") or (os.path.exists("/usr/bin/chromedriver") and "/usr/bin/chromedriver") or None
    return (browser, driver) if browser and driver else None


class serve:
    """Serve a folder on ``http://127.0.0.1:<free port>/`` from a background thread (a context manager).

    ``with experiment.serve(folder) as url: ...``; requests are not logged. POST requests (an export
    with ``post_url="data"``, relative to the page) are answered 200 and their JSON bodies kept in
    ``received`` (a list of dicts), which is how a lab server would collect the data.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.received: list = []

    def __enter__(self) -> str:
        import functools
        import threading
        from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

        received = self.received

        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    received.append(json.loads(body))
                    self.send_response(200)
                except json.JSONDecodeError:
                    self.send_response(400)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(self.folder)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def chromium(download_dir, *, user_data_dir=None):
    """A Selenium WebDriver for headless Chromium that saves downloads to ``download_dir``.

    Raises:
        RuntimeError: when Chromium, chromedriver or Selenium are missing, saying how to install them.
    """
    import tempfile

    found = find_chromium()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise RuntimeError(f"Selenium is not installed; {INSTALL_HINT}") from None
    if not found:
        raise RuntimeError(f"Chromium or chromedriver not found on PATH; {INSTALL_HINT}")
    opts = webdriver.ChromeOptions()
    opts.binary_location = found[0]
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={user_data_dir or tempfile.mkdtemp(prefix='na-chromium-')}")
    opts.add_experimental_option("prefs", {"download.default_directory": str(Path(download_dir).resolve()),
                                           "download.prompt_for_download": False,
                                           "profile.default_content_setting_values.automatic_downloads": 1})
    return webdriver.Chrome(service=Service(found[1]), options=opts)


def play(driver, url, *, participant: str, responses, answers=None, download_dir=None, screenshot=None,
         timeout_s: float = 60.0, move: str = "both", download_timeout_s: float = 60.0) -> dict:
    """Play one participant through an exported experiment in a Selenium-driven browser.

    On every rating screen both sliders are moved with the keyboard (Home, then arrow keys), as a
    person using the keyboard would; attention checks are answered as they ask; the questions get
    ``answers``; at the end the CSV and JSON download buttons are clicked.

    Args:
        driver: a WebDriver (:func:`chromium`).
        url: the experiment's address (``serve(folder)`` or ``file://.../index.html``).
        participant: id passed as ``?participant=``.
        responses: callable ``(stimulus_id) -> (valence, arousal)`` (0-100 ints).
        answers: ``{question name: option index}`` (default: the first option of each).
        download_dir: where the browser saves downloads; the function waits for both files there.
        screenshot: path of a PNG screenshot of the first rating trial (or None).
        move: "both" (normal), "none" (leaves the sliders untouched; only possible when the export
            has ``require_movement=False``) - for testing the importer's flags.
        download_timeout_s: how long to wait for each download to be complete.

    Returns:
        dict: n_ratings, n_checks, csv and json paths (when ``download_dir`` is given).
    """
    import time

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    sep = "&" if "?" in url else "?"
    driver.get(f"{url}{sep}participant={participant}")
    config = driver.execute_script("return window.NA_CONFIG")
    file_to_id = {s["file"]: s["stimulus"] for s in config["stimuli"]}
    answers = answers or {}
    n_ratings = n_checks = n_questions = 0
    deadline = time.monotonic() + timeout_s + 5 * len(config["stimuli"])
    shot_done = False

    def set_slider(name, value):
        el = driver.find_element(By.ID, f"na-slider-{name}")
        value = int(round(value))
        keys = [Keys.HOME] + [Keys.ARROW_RIGHT] * value if value <= 50 else [Keys.END] + [Keys.ARROW_LEFT] * (100 - value)
        el.send_keys(*keys)

    while time.monotonic() < deadline:
        if driver.execute_script("return window.NA_FINISHED === true"):
            break
        sliders = driver.find_elements(By.ID, "na-continue")
        if sliders:
            prompt = driver.find_elements(By.CSS_SELECTOR, ".na-prompt")
            img = driver.find_element(By.CSS_SELECTOR, ".na-image").get_attribute("src")
            stim = file_to_id[img.split("/", 3)[-1] if "://" in img else img]
            stim = file_to_id.get("stimuli/" + img.rsplit("/stimuli/", 1)[-1], stim)
            if prompt:
                idx = n_checks % len(config["attention_checks"])
                target = (config["attention_checks"][idx]["valence"], config["attention_checks"][idx]["arousal"])
                n_checks += 1
            else:
                target = responses(stim)
                n_ratings += 1
            if move == "both":
                set_slider("valence", target[0])
                set_slider("arousal", target[1])
            if screenshot and not shot_done and not prompt:
                driver.save_screenshot(str(screenshot))
                shot_done = True
            sliders[0].click()
            continue
        radios = driver.find_elements(By.CSS_SELECTOR, "#jspsych-survey-multi-choice_form input[type=radio]")
        if radios:
            q = config["questions"][min(n_questions, len(config["questions"]) - 1)]
            n_questions += 1
            radios[int(answers.get(q["name"], 0))].click()
            driver.find_element(By.ID, "jspsych-survey-multi-choice-next").click()
            continue
        buttons = driver.find_elements(By.CSS_SELECTOR, "#jspsych-html-button-response-btngroup button")
        if buttons:
            buttons[0].click()
            continue
        time.sleep(0.05)
    else:
        raise TimeoutError(f"experiment.play: {participant} did not finish within the time limit "
                           f"({n_ratings} ratings done)")
    out = {"n_ratings": n_ratings, "n_checks": n_checks}
    if download_dir is not None:
        stem = f"{config['experiment_id']}_{participant}"
        driver.find_element(By.ID, "na-download-json").click()
        if not config.get("auto_download"):
            driver.find_element(By.ID, "na-download-csv").click()
        for ext in ("csv", "json"):
            out[ext] = _wait_for_download(Path(download_dir) / f"{stem}.{ext}", timeout_s=download_timeout_s)
    return out


def _download_state(path: Path) -> str:
    """``"done"``, ``"missing"``, ``"empty"`` or ``"in progress: partial file NAME"`` for a file Chromium downloads."""
    folder = path.parent
    # Chromium writes into a partial file beside the target and renames it when done: a hidden
    # .org.chromium.Chromium.XXXXXX (blob downloads; watched in the download folder of Debian's chromium,
    # this project's test browser), NAME.crdownload, or "unconfirmed %d.crdownload" ("Unconfirmed" in later
    # releases) while a download awaits approval (Chromium's chrome/browser/download/download_manager.cc).
    partial = [folder / f"{path.name}.crdownload", *folder.glob("[Uu]nconfirmed *.crdownload"),
               *folder.glob(".org.chromium.Chromium.*")]
    partial = [q for q in partial if q.exists()]
    if partial:
        return f"in progress: partial file {partial[0].name}"
    if not path.exists():
        return "missing"
    return "done" if path.stat().st_size > 0 else "empty"


def _wait_for_download(path: Path, *, timeout_s: float = 60.0, poll_s: float = 0.05) -> Path:
    """Wait until Chromium has finished saving ``path``: present, not empty, no partial file beside it, and
    its size unchanged over two polls. A JSON file must also parse (a complete download does).

    A name that merely exists is not enough: under load Chromium may still be writing when the page says
    it started, and a download still running when the browser quits is deleted.
    """
    import time

    t_end = time.monotonic() + timeout_s
    last = -1
    state = _download_state(path)
    while time.monotonic() < t_end:
        state = _download_state(path)
        if state == "done":
            size = path.stat().st_size
            if size == last:
                if path.suffix != ".json":
                    return path
                try:
                    json.loads(path.read_text(encoding="utf-8"))
                    return path
                except (ValueError, UnicodeDecodeError):
                    state = "incomplete (does not parse as JSON yet)"
            last = size
        else:
            last = -1
        time.sleep(poll_s)
    raise TimeoutError(f"experiment.play: the browser did not finish saving {path} within {timeout_s:.0f} s "
                       f"(file {state})")


# ---------------------------------------------------------------------------------------------
# simulated participants (clearly labelled) for trying the chain before real data exist
# ---------------------------------------------------------------------------------------------
def simulated_responses(manifest, features=None, *, n_participants: int = 8, seed: int = 0, group_by=None,
                        group_effect: float = 12.0, coefficients=None, participant_sd: float = 6.0, noise_sd: float = 10.0):
    """A stated model of ratings for an exported stimulus set; returns responses and the planted truth.

    For participant ``p`` and stimulus ``s`` on axis ``a``: ``50 + sum_f beta[a, f] z_f(s) + g[a, group(s)]
    + b[a, p] + e``, clipped to 0-100 and rounded to whole slider steps, with ``z`` a feature standardised
    over the stimuli, ``b ~ N(0, participant_sd)``, ``e ~ N(0, noise_sd)``; the first group of
    ``group_by`` (sorted) gets ``+group_effect`` on valence, the last ``-group_effect`` (others 0).

    Args:
        manifest: :func:`load_manifest` of the export.
        features: per-stimulus features with ``path`` (= stimulus id) or ``stimulus``.
        coefficients: ``{axis: {feature: rating points per sd}}``; default arousal +6 per sd of
            feature_congestion, valence +3 per sd of saturation (when the columns exist).

    Returns:
        (responses, truth): ``responses[participant](stimulus) -> (valence, arousal)`` callables
        (for :func:`play` or :func:`write_sessions`), and the planted values.
    """
    import numpy as np
    import pandas as pd

    stim = stimulus_table(manifest)
    coefficients = coefficients if coefficients is not None else {"arousal": {"feature_congestion": 6.0},
                                                                  "valence": {"saturation": 3.0}}
    mu = {ax: np.full(len(stim), 50.0) for ax in ("valence", "arousal")}
    if features is not None:
        f = features.rename(columns={"path": "stimulus"}) if "stimulus" not in features else features
        f = stim[["stimulus"]].merge(f, on="stimulus", how="left")
        for ax, coefs in coefficients.items():
            for col, beta in coefs.items():
                if col in f:
                    x = pd.to_numeric(f[col], errors="coerce").to_numpy(float)
                    sd = np.nanstd(x)
                    mu[ax] += beta * np.nan_to_num((x - np.nanmean(x)) / (sd if sd > 0 else 1.0))
    groups = {}
    if group_by and group_by in stim:
        levels = sorted(stim[group_by].astype(str).unique())
        if len(levels) > 1:
            groups = {levels[0]: group_effect, levels[-1]: -group_effect}
            mu["valence"] += stim[group_by].astype(str).map(groups).fillna(0.0).to_numpy()
    rng = np.random.default_rng([seed, 0x57D1])
    index = {s: i for i, s in enumerate(stim["stimulus"])}
    responses = {}
    for k in range(n_participants):
        pid = f"SIM{k + 1:03d}"
        b = {ax: rng.normal(0, participant_sd) for ax in mu}
        e = {ax: rng.normal(0, noise_sd, len(stim)) for ax in mu}
        vals = {ax: np.clip(np.round(mu[ax] + b[ax] + e[ax]), 0, 100).astype(int) for ax in mu}
        responses[pid] = (lambda v, a: (lambda s: (int(v[index[s]]), int(a[index[s]]))))(vals["valence"], vals["arousal"])
    truth = {"model": simulated_responses.__doc__.split("Args:")[0].strip(), "coefficients_per_sd": coefficients,
             "group_by": group_by, "group_effects_valence": groups, "participant_sd": participant_sd, "noise_sd": noise_sd,
             "expected": {ax: dict(zip(stim["stimulus"], map(float, mu[ax]))) for ax in mu}, "seed": seed}
    return responses, truth


def write_sessions(manifest, responses, folder, *, answers=None) -> list[Path]:
    """Write one jsPsych-format CSV per simulated participant, as the browser would save it.

    The rows carry the same columns and task names as experiment.js's data (welcome, question,
    rating and attention-check trials; the order drawn by :func:`participant_order`), so the
    importer treats them exactly like downloaded files. Use :func:`play` for a real browser run.
    ``answers``: ``{participant: {question: value}}`` (default: each question's values in turn).
    """
    import pandas as pd

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    settings = manifest["settings"]
    ids = [s["stimulus"] for s in manifest["stimuli"]]
    files = {s["stimulus"]: s["file"] for s in manifest["stimuli"]}
    out = []
    for k, (pid, fn) in enumerate(responses.items()):
        base = {"participant": pid, "experiment_format": manifest["format"], "experiment_id": manifest["experiment_id"],
                "experiment_version": manifest["experiment_version"], "order_seed": _fnv1a(f"{settings['seed']}:{pid}")}
        rows = [dict(base, trial_type="html-button-response", task="welcome")]
        for q in settings["questions"]:
            value = (answers or {}).get(pid, {}).get(q["name"], q["values"][k % len(q["values"])])
            rows.append(dict(base, trial_type="survey-multi-choice", task="question", question=q["name"], answer=value,
                             **{q["name"]: value}))
        order = participant_order(pid, ids, seed=settings["seed"])
        for pos, stim in enumerate(order):
            v, a = fn(stim)
            rows.append(dict(base, trial_type="na-dual-slider", task="rating", stimulus=stim, file=files[stim], valence=v,
                             arousal=a, valence_moved=True, arousal_moved=True, rt=1500,
                             block=pos // settings["block_size"], position=pos + 1, attention_check=False))
        for j, chk in enumerate(settings["attention_checks"]):
            rows.append(dict(base, trial_type="na-dual-slider", task="attention_check", stimulus=order[0], file=files[order[0]],
                             valence=chk["valence"], arousal=chk["arousal"], valence_moved=True, arousal_moved=True,
                             attention_check=True, check=j + 1, expected_valence=chk["valence"],
                             expected_arousal=chk["arousal"]))
        path = folder / f"{manifest['experiment_id']}_{pid}.csv"
        from helpers import io

        io.save_table(pd.DataFrame(rows), path)
        out.append(path)
    return out


def run_sessions(folder, responses, download_dir, *, answers=None, screenshot=None, progress: bool = True,
                 received=None) -> list[Path]:
    """Play every participant of ``responses`` through the exported experiment in headless Chromium.

    Serves ``folder`` on localhost, opens one fresh browser per participant, and returns the CSV
    files the browser downloaded into ``download_dir``. ``screenshot``: PNG of the first
    participant's first rating trial. ``received``: a list that collects the JSON bodies POSTed to the
    local server (exports with ``post_url="data"``). Raises RuntimeError (with install instructions)
    when Chromium, chromedriver or Selenium are missing.
    """
    from tqdm.auto import tqdm

    download_dir = Path(download_dir)
    download_dir.mkdir(parents=True, exist_ok=True)
    out = []
    server = serve(folder)
    with server as url:
        for k, (pid, fn) in enumerate(tqdm(list(responses.items()), desc="browser sessions", disable=not progress)):
            driver = chromium(download_dir)
            try:
                res = play(driver, url + "index.html", participant=pid, responses=fn, answers=(answers or {}).get(pid),
                           download_dir=download_dir, screenshot=screenshot if k == 0 else None)
            finally:
                driver.quit()
            gone = [str(res[ext]) for ext in ("csv", "json") if not res[ext].exists()]
            if gone:  # a browser deletes downloads it had not finished when it quits
                raise RuntimeError(f"experiment.run_sessions: {pid}: the browser removed {', '.join(gone)} when it quit; "
                                   "its download was not complete. Run again (a heavily loaded machine slows the browser).")
            out.append(res["csv"])
    if received is not None:
        received.extend(server.received)
    return out


def pick_stimuli(table, n: int = 0, *, by: str = "layer"):
    """At most ``n`` rows of an image table (0: all); with a ``by`` column, whole groups evenly spread over it.

    Groups (e.g. layers, in table order) are taken at even spacing until ``n`` images are reached,
    so that every chosen group keeps all its images (stimuli stay nested in their groups).
    """
    import numpy as np

    if not n or n >= len(table):
        return table.reset_index(drop=True)
    if by not in table.columns:
        return table.iloc[np.unique(np.linspace(0, len(table) - 1, n).round().astype(int))].reset_index(drop=True)
    groups = list(dict.fromkeys(table[by]))
    per = max(1, int(round(len(table) / len(groups))))
    k = max(1, min(len(groups), n // per))
    chosen = [groups[i] for i in np.unique(np.linspace(0, len(groups) - 1, k).round().astype(int))]
    return table[table[by].isin(chosen)].reset_index(drop=True)
