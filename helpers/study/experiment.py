"""Export a self-contained jsPsych rating experiment from any folder of images.

:func:`export` writes a folder that runs offline (open ``index.html`` from a laptop, or copy it to any
static web host)::

    index.html               the page: jsPsych + plugins + this project's dual-slider plugin
    config.js                every setting and the stimulus list (``window.NA_CONFIG``)
    experiment.js            the timeline (welcome, questions, blocks of ratings, breaks, data saving)
    na-dual-slider.js        plugin: one image, valence and arousal sliders on ONE screen, SAM pictograms
    jspsych/                 vendored jsPsych 8 files (``helpers/study/vendor/jspsych``, MIT, see LICENSE there)
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
button), optionally POSTed as JSON to ``post_url``. :func:`helpers.study.importers.from_jsPsych` reads it back.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import uuid
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from helpers import download, io
from helpers.progress import tqdm
from helpers.study import online

FORMAT = "na-rating-experiment/1"
"""Written into every exported data row (``experiment_format``); the importer checks it."""
VENDOR = Path(__file__).resolve().parent / "vendor" / "jspsych"
ASSETS = Path(__file__).resolve().parent / "experiment_assets"
VENDORED_FILES = ("jspsych.min.js", "jspsych.css", "plugin-preload.min.js", "plugin-html-button-response.min.js",
                  "plugin-survey-multi-choice.min.js")
PIPE_FILE = "plugin-pipe.min.js"
"""jsPsych's DataPipe plugin (@jspsych-contrib/plugin-pipe, pinned in VENDOR.json), copied only for target="datapipe"."""
SAVE_TIMEOUT_S = 60.0
"""At the end, how long the page waits for unsent trials to go out before it offers the download instead."""
TARGETS = ("static", "server", "jatos", "datapipe")
"""Where :func:`export`'s page sends each trial (see its ``target`` argument)."""
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
    "resume_html": "<p>Welcome back. You continue where you left off: image {next} of {total}.</p>",
    "saving_html": "Saving your answers, please wait...",
    "saved_text": "All your answers are saved. You can close this page.",
    "not_saved_text": "Some answers could not be sent; please download your data and send the file to the experimenter",
    "completion_code_text": "Your completion code:",
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

    Used in: notebook 08 through :func:`helpers.study.experiment.export`.
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

    Used in: notebook 08 through :func:`helpers.study.experiment.write_sessions`.
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


def _image_inputs(images, root):
    """DataFrame (path + descriptive columns) and the folder the paths are relative to."""
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
    """The images under ``folder`` as a table: ``path`` (relative, = stimulus id) [, ``condition`` = first sub-folder].

    Used in: notebook 08 (key-numbers.json, study-effect-sizes.png, study/correction-sensitivity.csv,
        study/effect-sizes.csv, 4 more outputs).
    """
    return _image_inputs(folder, None)[0]


def export(images, folder, *, root=None, display_size: int = 512, block_size: int = 40, preload_chunk: int = 20,
           max_load_time_s: float = 60.0, attention_checks=DEFAULT_ATTENTION_CHECKS, questions=DEFAULT_QUESTIONS,
           require_movement: bool = True, post_url: str | None = None, auto_download: bool = True, seed: int = 0,
           experiment_id: str = "na-ratings", texts=None, image_format: str = "png", jpeg_quality: int = 90,
           target: str = "static", completion_code: str | None = None, redirect_url: str | None = None,
           datapipe_id: str | None = None, overwrite: bool = False, progress: bool = True) -> Path:
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
        target: where the trials go as each one ends (:data:`TARGETS`): "static" (nowhere: the end-of-session
            download, and ``post_url``), "server" (this project's collection server, ``python -m helpers.study
            serve``), "jatos" (a JATOS study archive ``<folder>.jzip`` is written beside the folder) or
            "datapipe" (DataPipe -> OSF through jsPsych's pipe plugin; needs ``datapipe_id``). With every
            target, unsent trials wait in the browser's localStorage and a reload resumes at the next
            unrated image; the CSV/JSON download stays at the end as the last resort.
        completion_code: shown at the end (and recorded in the data), e.g. Prolific's completion code.
        redirect_url: where the page sends the participant at the end (``{code}`` is replaced by the
            completion code), e.g. ``"https://app.prolific.com/submissions/complete?cc={code}"``.
        datapipe_id: the DataPipe experiment id (target="datapipe").

    Returns:
        Path of ``folder``. Unreadable image files are skipped with a warning naming each file and
        listed under ``skipped`` in the manifest.

    Used in: notebook 08 (key-numbers.json, study-effect-sizes.png, study/correction-sensitivity.csv,
        study/effect-sizes.csv, 4 more outputs).
    """
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"experiment.export: {folder} is not empty; pass overwrite=True to replace it")
    if target not in TARGETS:
        raise ValueError(f"experiment.export: target must be one of {TARGETS}, got {target!r}")
    if target == "datapipe" and not datapipe_id:
        raise ValueError("experiment.export: target='datapipe' needs datapipe_id= (the id DataPipe shows for your experiment)")
    if image_format not in ("png", "jpg"):
        raise ValueError(f"experiment.export: image_format must be 'png' or 'jpg', got {image_format!r}")
    for name, v in (("display_size", display_size), ("block_size", block_size), ("preload_chunk", preload_chunk)):
        if int(v) < 1:
            raise ValueError(f"experiment.export: {name} must be >= 1, got {v}")
    for q in questions:
        missing = {"name", "prompt", "options"} - set(q)
        if missing:
            raise ValueError(f"experiment.export: question {q} lacks {sorted(missing)}")
        if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", str(q["name"])):
            raise ValueError(f"experiment.export: question name {q['name']!r}: use 1-64 letters, digits or _ (it becomes "
                             "a data column and part of the trial key the collection server checks)")
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
        stimuli.append({"stimulus": Path(str(row["path"])).as_posix(), "file": name, "source_sha256": download.sha256sum(src),
                        "sha256": download.sha256sum(tmp / name), "source_width": w, "source_height": h,
                        "width": shown.size[0], "height": shown.size[1], **extra})
    if not stimuli:
        shutil.rmtree(tmp)
        raise ValueError(f"experiment.export: no readable image in {src_root} ({len(skipped)} skipped)")

    settings = {"display_size": int(display_size), "block_size": int(block_size), "preload_chunk": int(preload_chunk),
                "max_load_time_ms": int(max_load_time_s * 1000), "require_movement": bool(require_movement),
                "post_url": post_url, "auto_download": bool(auto_download), "seed": int(seed),
                "attention_checks": [dict(a) for a in attention_checks], "attention_tolerance": ATTENTION_TOLERANCE,
                "questions": [{**q, "values": list(q.get("values", q["options"]))} for q in questions],
                "image_format": image_format, "texts": texts, "target": target, "completion_code": completion_code,
                "redirect_url": redirect_url, "datapipe_id": datapipe_id}
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
              "target": target, "api_url": "api/" if target == "server" else None, "completion_code": completion_code,
              "redirect_url": redirect_url, "datapipe_id": datapipe_id, "save_timeout_ms": int(SAVE_TIMEOUT_S * 1000),
              **{k: v for k, v in texts.items() if not k.startswith(("valence_", "arousal_"))}}
    (tmp / "config.js").write_text("window.NA_CONFIG = " + json.dumps(config, indent=1) + ";\n")
    for name in VENDORED_FILES + ("LICENSE", "VENDOR.json") + ((PIPE_FILE,) if target == "datapipe" else ()):
        shutil.copyfile(VENDOR / name, tmp / "jspsych" / name)
    for name in ("experiment.js", "na-dual-slider.js"):
        shutil.copyfile(ASSETS / name, tmp / name)
    extra = {"jatos": '<script src="jatos.js"></script>  <!-- served by JATOS itself for every component -->\n',
             "datapipe": f'<script src="jspsych/{PIPE_FILE}"></script>\n'}.get(target, "")
    (tmp / "index.html").write_text(_INDEX_HTML.format(title=texts["title"], size=int(display_size), extra_scripts=extra))
    pd.DataFrame(stimuli).to_csv(tmp / "stimuli.csv", index=False)
    manifest = {"format": FORMAT, "experiment_id": experiment_id, "experiment_version": version,
                "created_by": "helpers.study.experiment.export", "source_folder": str(src_root), "settings": settings,
                "vendored": vendor["packages"], "n_stimuli": len(stimuli), "stimuli": stimuli, "skipped": skipped,
                "files": {p.relative_to(tmp).as_posix(): download.sha256sum(p) for p in sorted(tmp.rglob("*")) if p.is_file()}}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    if target == "jatos":  # <folder>.jzip beside the folder, to import into JATOS
        online.write_jatos_archive(folder, title=texts["title"], end_redirect_url=None,
                                   description=f"{experiment_id} {version}: {len(stimuli)} images, valence and arousal",
                                   study_uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"na-ratings:{experiment_id}:{version}")))
    return folder


def load_manifest(path) -> dict:
    """Read an export's ``manifest.json`` (path of the file or of the experiment folder).

    Used in: notebook 08 (key-numbers.json, study-effect-sizes.png, study/correction-sensitivity.csv,
        study/effect-sizes.csv, 4 more outputs).
    """
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
    """The exported stimuli as a DataFrame: stimulus, file, hashes, sizes and the descriptive columns.

    Used in: notebook 08 through :func:`helpers.study.simulate.responses`.
    """
    return pd.DataFrame(manifest["stimuli"])


def verify(folder) -> list[str]:
    """Re-hash every file the manifest lists; return the problems (empty when the folder is intact).

    Used in: notebook 08.
    """
    folder = Path(folder)
    manifest = load_manifest(folder)
    out = []
    for rel, digest in manifest["files"].items():
        p = folder / rel
        if not p.exists():
            out.append(f"{p}: missing")
        elif download.sha256sum(p) != digest:
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
{extra_scripts}<script src="na-dual-slider.js"></script>
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


def session_rows(manifest, participant: str, responses, *, answers=None, k: int = 0) -> list[dict]:
    """One simulated participant's trials as experiment.js records them (same columns, tasks and ``trial_key``).

    ``responses``: ``stimulus -> (valence, arousal)``; ``answers``: ``{question: value}`` (default: each
    question's ``k``-th value). What :func:`write_sessions` saves and what the server tests POST.

    Used in: notebook 08 through :func:`helpers.study.experiment.write_sessions`.
    """
    settings = manifest["settings"]
    ids = [s["stimulus"] for s in manifest["stimuli"]]
    index = {s: i for i, s in enumerate(ids)}
    files = {s["stimulus"]: s["file"] for s in manifest["stimuli"]}
    pid = participant
    base = {"participant": pid, "experiment_format": manifest["format"], "experiment_id": manifest["experiment_id"],
            "experiment_version": manifest["experiment_version"], "order_seed": _fnv1a(f"{settings['seed']}:{pid}")}
    rows = [dict(base, trial_type="html-button-response", task="welcome", trial_key="welcome")]
    for q in settings["questions"]:
        value = (answers or {}).get(q["name"], q["values"][k % len(q["values"])])
        rows.append(dict(base, trial_type="survey-multi-choice", task="question", question=q["name"], answer=value,
                         trial_key=f"question:{q['name']}", **{q["name"]: value}))
    order = participant_order(pid, ids, seed=settings["seed"])
    for pos, stim in enumerate(order):
        v, a = responses(stim)
        rows.append(dict(base, trial_type="na-dual-slider", task="rating", stimulus=stim, file=files[stim], valence=v,
                         arousal=a, valence_moved=True, arousal_moved=True, rt=1500, trial_key=f"rating:{index[stim]}",
                         block=pos // settings["block_size"], position=pos + 1, attention_check=False))
    for j, chk in enumerate(settings["attention_checks"]):
        rows.append(dict(base, trial_type="na-dual-slider", task="attention_check", stimulus=order[0], file=files[order[0]],
                         valence=chk["valence"], arousal=chk["arousal"], valence_moved=True, arousal_moved=True,
                         attention_check=True, check=j + 1, expected_valence=chk["valence"], trial_key=f"check:{j + 1}",
                         expected_arousal=chk["arousal"]))
    return rows


def write_sessions(manifest, responses, folder, *, answers=None) -> list[Path]:
    """Write one jsPsych-format CSV per simulated participant, as the browser would save it.

    The rows carry the same columns and task names as experiment.js's data (welcome, question,
    rating and attention-check trials; the order drawn by :func:`participant_order`), so the
    importer treats them exactly like downloaded files (:func:`session_rows`). Use :func:`play` for a real
    browser run. ``answers``: ``{participant: {question: value}}`` (default: each question's values in turn).

    Used in: notebook 08 (key-numbers.json, study-effect-sizes.png, study/correction-sensitivity.csv,
        study/effect-sizes.csv, 4 more outputs).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k, (pid, fn) in enumerate(responses.items()):
        rows = session_rows(manifest, pid, fn, answers=(answers or {}).get(pid), k=k)
        path = folder / f"{manifest['experiment_id']}_{pid}.csv"
        io.save_table(pd.DataFrame(rows), path)
        out.append(path)
    return out


def pick_stimuli(table, n: int = 0, *, by: str = "layer"):
    """At most ``n`` rows of an image table (0: all); with a ``by`` column, whole groups evenly spread over it.

    Groups (e.g. layers, in table order) are taken at even spacing until ``n`` images are reached,
    so that every chosen group keeps all its images (stimuli stay nested in their groups).

    Used in: notebook 08 (key-numbers.json, study-effect-sizes.png, study/correction-sensitivity.csv,
        study/effect-sizes.csv, 4 more outputs).
    """
    if not n or n >= len(table):
        return table.reset_index(drop=True)
    if by not in table.columns:
        return table.iloc[np.unique(np.linspace(0, len(table) - 1, n).round().astype(int))].reset_index(drop=True)
    groups = list(dict.fromkeys(table[by]))
    per = max(1, int(round(len(table) / len(groups))))
    k = max(1, min(len(groups), n // per))
    chosen = [groups[i] for i in np.unique(np.linspace(0, len(groups) - 1, k).round().astype(int))]
    return table[table[by].isin(chosen)].reset_index(drop=True)
