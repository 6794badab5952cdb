"""Playing participants through an exported experiment in a real browser: a local server and headless Chromium.

:func:`run_sessions` serves an export (:func:`serve`), opens one fresh headless Chromium per participant
(:func:`chromium`, driven by Selenium) and plays each through every screen (:func:`play`: sliders moved with
the keyboard, attention checks answered, the data files downloaded), as a person would. Selenium and
Chromium are needed only here; without them :func:`chromium` says how to install them.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from helpers.progress import tqdm

# Selenium is optional (the dev extra, for the browser test and notebook 08's SOURCE="browser"): it is imported
# inside the functions that drive the browser, which say how to install it when it is missing.

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1100,1500")


INSTALL_HINT = ("install Chromium and its WebDriver: Debian/Ubuntu `sudo apt-get install chromium chromium-driver`; "
                "macOS `brew install --cask chromium chromedriver`; and Selenium: `pip install selenium`")


def find_chromium() -> tuple[str, str] | None:
    """(chromium binary, chromedriver binary) found on PATH, or None.

    Used in: notebook 08 through :func:`helpers.study.browser.run_sessions`.
    """
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    driver = shutil.which("chromedriver") or (os.path.exists("/usr/bin/chromedriver") and "/usr/bin/chromedriver") or None
    return (browser, driver) if browser and driver else None


def missing() -> str | None:
    """Why no headless Chromium can be driven here (Selenium, Chromium or chromedriver absent, with how to install
    them), or None when all three are there.

    Used in: no notebook; by :func:`chromium`; ``tests/test_browser.py``, ``tests/test_study_browser.py``,
        ``tests/test_online.py``.
    """
    try:
        import selenium  # noqa: F401
    except ImportError:
        return f"Selenium is not installed; {INSTALL_HINT}"
    if not find_chromium():
        return f"Chromium or chromedriver not found on PATH; {INSTALL_HINT}"
    return None


class serve:
    """Serve a folder on ``http://127.0.0.1:<free port>/`` from a background thread (a context manager).

    ``with browser.serve(folder) as url: ...``; requests are not logged. POST requests (an export
    with ``post_url="data"``, relative to the page) are answered 200 and their JSON bodies kept in
    ``received`` (a list of dicts), which is how a lab server would collect the data.

    Used in: notebook 08 through :func:`helpers.study.browser.run_sessions`.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.received: list = []

    def __enter__(self) -> str:
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

    Used in: notebook 08 through :func:`helpers.study.browser.run_sessions`.
    """
    why = missing()
    if why:
        raise RuntimeError(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = find_chromium()
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
         timeout_s: float = 60.0, move: str = "both", download_timeout_s: float = 60.0, stop_after: int | None = None,
         navigate: bool = True, query: str = "") -> dict:
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
        stop_after: leave after this many rating screens (the page stays open, mid-session), e.g. to
            reload it or to stop the server; ``None`` plays to the end.
        navigate: open ``url`` first (False: go on with the page the driver shows, e.g. after ``stop_after``).
        query: more URL parameters (``"PROLIFIC_PID=...&STUDY_ID=..."``); with ``PROLIFIC_PID`` given
            here, no ``participant=`` is added.

    Returns:
        dict: n_ratings, n_checks, shown (the stimulus ids rated, in order), finished, csv and json
        paths (when ``download_dir`` is given).

    Used in: notebook 08 through :func:`helpers.study.browser.run_sessions`.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    if navigate:
        sep = "&" if "?" in url else "?"
        q = "&".join(filter(None, [query, "" if "PROLIFIC_PID=" in query else f"participant={participant}"]))
        driver.get(f"{url}{sep}{q}")
    config = driver.execute_script("return window.NA_CONFIG")
    file_to_id = {s["file"]: s["stimulus"] for s in config["stimuli"]}
    answers = answers or {}
    n_ratings = n_checks = n_questions = 0
    deadline = time.monotonic() + timeout_s + 5 * len(config["stimuli"])
    shot_done = False
    shown = []

    def set_slider(name, value):
        el = driver.find_element(By.ID, f"na-slider-{name}")
        value = int(round(value))
        keys = [Keys.HOME] + [Keys.ARROW_RIGHT] * value if value <= 50 else [Keys.END] + [Keys.ARROW_LEFT] * (100 - value)
        el.send_keys(*keys)

    while time.monotonic() < deadline:
        if driver.execute_script("return window.NA_FINISHED === true"):
            break
        if stop_after is not None and n_ratings >= stop_after:
            return {"n_ratings": n_ratings, "n_checks": n_checks, "shown": shown, "finished": False}
        sliders = driver.find_elements(By.ID, "na-continue")
        if sliders:
            prompt = driver.find_elements(By.CSS_SELECTOR, ".na-prompt")
            img = driver.find_element(By.CSS_SELECTOR, ".na-image").get_attribute("src")
            stim = file_to_id[img.split("/", 3)[-1] if "://" in img else img]
            stim = file_to_id.get("stimuli/" + img.rsplit("/stimuli/", 1)[-1], stim)
            if prompt:
                # which check: the one whose prompt is shown (after a reload the page may be at its second)
                shown_text = " ".join(prompt[0].text.split())
                plain = [" ".join(re.sub(r"<[^>]+>", "", a["prompt"]).split()) for a in config["attention_checks"]]
                idx = plain.index(shown_text) if shown_text in plain else n_checks % len(config["attention_checks"])
                target = (config["attention_checks"][idx]["valence"], config["attention_checks"][idx]["arousal"])
                n_checks += 1
            else:
                target = responses(stim)
                n_ratings += 1
                shown.append(stim)
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
        raise TimeoutError(f"browser.play: {participant} did not finish within the time limit "
                           f"({n_ratings} ratings done)")
    out = {"n_ratings": n_ratings, "n_checks": n_checks, "shown": shown, "finished": True}
    if download_dir is not None:
        stem = f"{config['experiment_id']}_{participant}"
        driver.find_element(By.ID, "na-download-json").click()
        # the page downloads the CSV itself only when nothing else keeps the data (static target) or sending failed
        auto = config.get("auto_download") and (config.get("target", "static") == "static"
                                                 or not driver.execute_script("return window.NA_SAVED === true"))
        if not auto:
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
    raise TimeoutError(f"browser.play: the browser did not finish saving {path} within {timeout_s:.0f} s "
                       f"(file {state})")


def run_sessions(folder, responses, download_dir, *, answers=None, screenshot=None, progress: bool = True,
                 received=None, server_url: str | None = None) -> list[Path]:
    """Play every participant of ``responses`` through the exported experiment in headless Chromium.

    Serves ``folder`` on localhost, opens one fresh browser per participant, and returns the CSV
    files the browser downloaded into ``download_dir``. ``screenshot``: PNG of the first
    participant's first rating trial. ``received``: a list that collects the JSON bodies POSTed to the
    local server (exports with ``post_url="data"``). ``server_url``: play against a running collection server
    (:class:`helpers.study.client.Process`, an export with ``target="server"``) instead of serving ``folder``;
    each page sends its trials there as they end. Raises RuntimeError (with install instructions)
    when Chromium, chromedriver or Selenium are missing.

    Used in: notebook 08 (key-numbers.json, study-effect-sizes.png, study/correction-sensitivity.csv,
        study/effect-sizes.csv, 4 more outputs).
    """
    download_dir = Path(download_dir)
    download_dir.mkdir(parents=True, exist_ok=True)
    out = []
    server = serve(folder)
    with (contextlib.nullcontext(server_url) if server_url else server) as url:
        for k, (pid, fn) in enumerate(tqdm(list(responses.items()), desc="browser sessions", disable=not progress)):
            driver = chromium(download_dir)
            try:
                res = play(driver, url + "index.html", participant=pid, responses=fn, answers=(answers or {}).get(pid),
                           download_dir=download_dir, screenshot=screenshot if k == 0 else None)
            finally:
                driver.quit()
            gone = [str(res[ext]) for ext in ("csv", "json") if not res[ext].exists()]
            if gone:  # a browser deletes downloads it had not finished when it quits
                raise RuntimeError(f"browser.run_sessions: {pid}: the browser removed {', '.join(gone)} when it quit; "
                                   "its download was not complete. Run again (a heavily loaded machine slows the browser).")
            out.append(res["csv"])
    if received is not None:
        received.extend(server.received)
    return out
