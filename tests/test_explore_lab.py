"""The explorers in a real JupyterLab driven by headless Chromium: run all, turn a knob, the image changes.

One JupyterLab server (on 127.0.0.1, with a token, in a temporary folder) and one Chromium serve the whole module.
Each test notebook is made of the real notebook's own cells (imports, parameters, settings, model) with the smoke
profile injected after the parameters cell, as papermill would, and the notebook's explorer cell (tagged
``explorer``); the cells that make the paper's figures are left out, so each notebook runs in seconds. The browser's
console must show no JavaScript error. Needs Debian's ``chromium`` and ``chromium-driver`` and Selenium, as
``tests/test_browser.py``: skipped without them, except under ``CI=true``, where it fails.
"""
from __future__ import annotations

import base64
import io
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request

import nbformat
import numpy as np
import pytest
from PIL import Image

from helpers import paths
from helpers.study import browser, client
from helpers.testing import ci

pytestmark = pytest.mark.browser

SMOKE = 'PROFILE = "smoke"  # injected by the test, as papermill injects parameters\n'


def _cells(number: str, ids) -> list:
    """Notebook ``number``'s cells ``ids`` (in order; a string that is no id becomes a new code cell), the smoke
    profile injected after its parameters cell, then its explorer cell (tagged ``explorer`` and ``nb<number>``)."""
    src = next(paths.notebooks().glob(f"{number}-*.ipynb"))
    nb = nbformat.read(src, as_version=4)
    by_id = {c.id: c for c in nb.cells}
    explorer = [c for c in nb.cells if "explorer" in c.metadata.get("tags", [])]
    assert len(explorer) == 1, f"{src.name}: expected one cell tagged 'explorer', found {len(explorer)}"
    cells = []
    for i in ids:
        assert i in by_id or not i.isdigit(), f"{src.name} has no cell with id {i!r}: update this test's cell list"
        cells.append(nbformat.v4.new_code_cell(by_id[i].source if i in by_id else i))
        if i in by_id and "parameters" in by_id[i].metadata.get("tags", []):
            cells.append(nbformat.v4.new_code_cell(SMOKE))
    return cells + [nbformat.v4.new_code_cell(explorer[0].source, metadata={"tags": ["explorer", f"nb{number}"]})]


def _notebook(*parts):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [c for number, ids in parts for c in _cells(number, ids)]
    return nb


NOTEBOOKS = {
    # notebook 01: imports, parameters, settings, the stand-in model; OUT is made by the (left out) job cell
    "nb01.ipynb": lambda: _notebook(("01", ["1", "2", "3", "6", 'OUT = paths.results(PROFILE) / "dream"'])),
    # notebook 05: imports, parameters, settings, device, the stand-in BigGAN; then notebook 06's imports, parameters
    # and settings, whose explorer uses the same BigGAN (loading it takes longer than anything else here)
    "nb05.ipynb": lambda: _notebook(("05", ["1", "2", "3", "4", "6"]), ("06", ["1", "2", "3"])),
    # notebook 07: the demo corpus, the stand-in encoder, the index, demo queries and their search
    "nb07.ipynb": lambda: _notebook(("07", ["1", "2", "3", "5", "7", "9", "11", "15", "16",
                                            "best, notes = found, paper2.nearest_notes(encoder, corpus, queries)"])),
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(driver, base url, token, folder): JupyterLab serving the test notebooks, and Chromium logged in to it."""
    why = browser.missing()
    ci.require(f"no headless Chromium for the JupyterLab test: {why}" if why else None)
    found = browser.find_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    root = tmp_path_factory.mktemp("lab")
    for name, make in NOTEBOOKS.items():
        nbformat.write(make(), root / name)
    token, port = secrets.token_hex(16), client.free_port()
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernels use Jupyter's inline backend
    jupyter_dirs = root / ".jupyter"
    env.update(PYTHONPATH=str(paths.root()) + os.pathsep + env.get("PYTHONPATH", ""), JUPYTER_CONFIG_DIR=str(jupyter_dirs / "config"),
               JUPYTER_RUNTIME_DIR=str(jupyter_dirs / "runtime"), JUPYTERLAB_WORKSPACES_DIR=str(jupyter_dirs / "workspaces"),
               JUPYTERLAB_SETTINGS_DIR=str(jupyter_dirs / "settings"))
    (jupyter_dirs / "config").mkdir(parents=True)
    # window.jupyterapp for the test; nothing fetched from the internet (news, updates, extension lists)
    (jupyter_dirs / "config" / "jupyter_lab_config.py").write_text(
        "c.LabApp.expose_app_in_browser = True\nc.LabApp.news_url = None\nc.LabApp.extension_manager = 'readonly'\n"
        "c.LabApp.check_for_updates_class = 'jupyterlab.NeverCheckForUpdate'\n")
    log = open(root / "lab.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
                               "--ServerApp.terminals_enabled=False"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    driver = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start: {(root / 'lab.log').read_text()[-3000:]}")
            time.sleep(0.5)
        opts = webdriver.ChromeOptions()
        opts.binary_location = found[0]
        for flag in browser.CHROMIUM_FLAGS:
            opts.add_argument(flag)
        opts.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='na-chromium-', dir=root)}")
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(found[1]), options=opts)
        driver.set_script_timeout(30)
        yield driver, url, token, root
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _wait(driver, script, *, until, timeout_s: float, what: str):
    """Run ``script`` in the page until ``until(result)``; fail naming ``what`` with the last result."""
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        try:
            last = driver.execute_script(script)
        except Exception as exc:  # the page is still loading
            last = repr(exc)
        if until(last):
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}; last: {str(last)[:2000]}")


STATE = """
const app = window.jupyterapp; const w = app && app.shell.currentWidget;
if (!w || !w.content || !w.sessionContext || !w.context || !w.context.path.endsWith(arguments[0])) return null;
const k = w.sessionContext.session && w.sessionContext.session.kernel;
const code = w.content.widgets.filter(c => c.model.type === 'code');
return {status: k ? k.status : 'none', counts: code.map(c => c.model.executionCount),
        errors: code.flatMap(c => c.model.outputs.toJSON().filter(o => o.output_type === 'error')
                                      .map(o => o.ename + ': ' + o.evalue + '\\n' + (o.traceback || []).join('\\n')))};
"""

CELL = """
const w = window.jupyterapp.shell.currentWidget;
const cell = w.content.widgets.find(c => (c.model.getMetadata('tags') || []).includes(arguments[0]));
return cell ? cell.node : null;
"""


def _image(driver, tag):
    """The src of the image in the output of the explorer cell tagged ``tag`` (None while there is none)."""
    cell = driver.execute_script(CELL, tag)
    if cell is None:
        return None
    from selenium.webdriver.common.by import By

    imgs = cell.find_elements(By.CSS_SELECTOR, ".widget-output img")
    return imgs[-1].get_attribute("src") if imgs else None


def _wait_image(driver, tag, *, until, timeout_s, what):
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        try:
            last = _image(driver, tag)
        except Exception as exc:  # the output is being redrawn
            last = repr(exc)
        if until(last):
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}; last: {str(last)[:300]}")


def _open_and_run_all(driver, url, token, name, *, timeout_s=300):
    """Open ``name`` in Lab, run all cells and wait until every one has run without an error."""
    if "/lab" not in driver.current_url:
        driver.get(f"{url}/lab/tree/{name}?token={token}")
    else:
        driver.execute_script("window.jupyterapp.commands.execute('docmanager:open', {path: arguments[0]});", name)
    state = STATE.replace("arguments[0]", json.dumps(name))
    _wait(driver, state, until=lambda s: bool(s) and s["status"] == "idle", timeout_s=120,
          what=f"{name} to open with an idle kernel")
    driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells'); return true;")
    state = _wait(driver, state,
                  until=lambda s: bool(s) and (s["errors"] or (s["status"] == "idle" and all(c is not None for c in s["counts"]))),
                  timeout_s=timeout_s, what=f"{name}: every cell run")
    assert not state["errors"], f"{name}: a cell failed in JupyterLab:\n" + "\n".join(state["errors"])[-4000:]


def _first_image(driver, tag):
    return _wait_image(driver, tag, until=bool, timeout_s=60, what=f"{tag}: the explorer's image")


def _band(src: str) -> np.ndarray:
    """The middle fifth (by height) of a data-URL PNG: the pictures, below every title."""
    img = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))
    h = img.shape[0]
    return img[2 * h // 5: 3 * h // 5]


def _changed(driver, tag, before, what, timeout_s=120):
    """Wait for a new image in the explorer cell tagged ``tag``; its pictures (not only its titles) must differ."""
    after = _wait_image(driver, tag, until=lambda s: bool(s) and s != before, timeout_s=timeout_s, what=what)
    a, b = _band(before), _band(after)
    assert a.shape != b.shape or not np.array_equal(a, b), f"{what}: only the titles changed, not the picture"
    return after


def _pick(driver, tag, label, text):
    """Choose ``text`` in the dropdown labelled ``label`` of the explorer cell tagged ``tag``, as a person would."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for box in driver.execute_script(CELL, tag).find_elements(By.CSS_SELECTOR, ".widget-dropdown"):
        if box.find_element(By.CSS_SELECTOR, "label").text.strip() == label:
            el = box.find_element(By.CSS_SELECTOR, "select")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
            Select(el).select_by_visible_text(text)
            return
    raise AssertionError(f"{tag}: no dropdown labelled {label!r}")


def _js_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_explorers_redraw_in_jupyterlab_without_javascript_errors(lab):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, url, token, root = lab
    errors = []

    # 01: pick a layer -> a new dream
    _open_and_run_all(driver, url, token, "nb01.ipynb")
    first = _first_image(driver, "nb01")
    _pick(driver, "nb01", "layer", "conv2d0")
    _changed(driver, "nb01", first, "nb01: a new dream after picking another layer")
    errors += _js_errors(driver)

    # 05: move the seed slider with the keyboard -> a new image; "keep" saves the panel and its JSON
    _open_and_run_all(driver, url, token, "nb05.ipynb")
    first = _first_image(driver, "nb05")
    cell = driver.execute_script(CELL, "nb05")
    sliders = [s for s in cell.find_elements(By.CSS_SELECTOR, ".widget-slider")
               if s.find_element(By.CSS_SELECTOR, "label").text.strip() == "network seed"]
    assert sliders, "nb05: no slider labelled 'network seed'"
    handle = sliders[0].find_element(By.CSS_SELECTOR, ".noUi-handle")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)
    _changed(driver, "nb05", first, "nb05: a new image after moving the seed slider")
    next(b for b in cell.find_elements(By.CSS_SELECTOR, "button") if b.text.strip() == "keep").click()
    deadline = time.monotonic() + 120
    while "kept" not in cell.text and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "kept" in cell.text, f"nb05: no message after keep: {cell.text[-500:]}"
    meta = paths.figures("smoke") / "p2-fig03-favourites.json"
    kept = json.loads(meta.read_text())["favourites"]
    assert [(k["class_id"], k["network_seed"]) for k in kept][-1] == (832, 1), kept
    assert meta.with_suffix(".png").exists()

    # 06 (same kernel and BigGAN): pick another block -> a new image
    first = _first_image(driver, "nb06")
    _pick(driver, "nb06", "block", "B1")
    _changed(driver, "nb06", first, "nb06: a new image after picking block B1")
    errors += _js_errors(driver)

    # 07: pick another generated image -> its paintings
    _open_and_run_all(driver, url, token, "nb07.ipynb")
    first = _first_image(driver, "nb07")
    options = driver.execute_script(CELL, "nb07").find_elements(By.CSS_SELECTOR, ".widget-dropdown select option")
    assert len(options) > 1, "nb07: one query only, nothing to pick"
    _pick(driver, "nb07", "generated image", options[1].text)
    _changed(driver, "nb07", first, "nb07: the paintings of another generated image")
    errors += _js_errors(driver)

    assert not errors, "JavaScript errors in the browser console:\n" + "\n".join(errors)
