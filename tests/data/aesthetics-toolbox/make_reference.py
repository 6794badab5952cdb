"""Run the Aesthetics Toolbox's own Python code on the reference images; write reference.json.

Run from anywhere with the toolbox's own virtual environment (see README.md here):

    /work/toolbox-venv/bin/python tests/data/aesthetics-toolbox/make_reference.py /path/to/Aesthetics-Toolbox

Each group of measures is called the way the toolbox's ``QIP_machine_script.py`` calls it
(same colour conversions, same parameters), but the values are stored unrounded (the
script's CSV rounds them with ``custom_round``). This file imports the toolbox; it
contains none of its code.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent


def synthetic(name):
    """The seeded synthetic images (their recipe; the PNGs beside this file are the reference bytes)."""
    from skimage import draw

    rng = np.random.default_rng({"synthetic-portrait": 1, "synthetic-square": 2}[name])
    h, w = {"synthetic-portrait": (333, 241), "synthetic-square": (300, 300)}[name]
    coarse = rng.integers(0, 256, size=(h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC)).astype(np.int16)
    for _ in range(12):
        r, c = rng.integers(0, h), rng.integers(0, w)
        rr, cc = draw.disk((r, c), int(rng.integers(5, min(h, w) // 4)), shape=(h, w))
        img[rr, cc] = rng.integers(0, 256, size=3)
    img += rng.integers(-12, 13, size=img.shape, dtype=np.int16)
    return np.clip(img, 0, 255).astype(np.uint8)


def images():
    """name -> RGB uint8 array: four skimage.data photographs and two seeded synthetic images."""
    import skimage.data

    out = {n: getattr(skimage.data, n)() for n in ("astronaut", "coffee", "chelsea", "rocket")}
    for n in ("synthetic-portrait", "synthetic-square"):
        out[n] = np.asarray(Image.open(HERE / f"{n}.png").convert("RGB"))
    return out


def run(toolbox, img_rgb):
    sys.path.insert(0, str(toolbox))
    from skimage import color

    from AT import (CNN_qips, PHOG_qips, balance_qips, color_and_simple_qips as cs, edge_entropy_qips,
                    fourier_qips, fractal_dimension_qips)

    kernel, bias = np.load(open(Path(toolbox) / "AT/bvlc_alexnet_conv1.npy", "rb"), encoding="latin1", allow_pickle=True)
    vals, secs = {}, {}

    def timed(group, fn):
        t = time.perf_counter()
        r = fn()
        secs[group] = time.perf_counter() - t
        return r

    img_lab, img_hsv, img_gray = timed("conversions", lambda: (
        color.rgb2lab(img_rgb), color.rgb2hsv(img_rgb), np.asarray(Image.fromarray(img_rgb).convert("L"))))

    def simple():
        r = {"Image size (pixels)": cs.image_size(img_rgb), "Aspect ratio": cs.aspect_ratio(img_rgb),
             "RMS contrast": cs.std_channels(img_lab)[0],
             "Luminance entropy": cs.shannonentropy_channels(img_lab[:, :, 0]),
             "Color entropy": cs.shannonentropy_channels(img_hsv[:, :, 0])}
        m, s = cs.mean_channels(img_rgb), cs.std_channels(img_rgb)
        r.update({"mean R channel": m[0], "mean G channel": m[1], "mean B channel (RGB)": m[2],
                  "std R channel": s[0], "std G channel": s[1], "std B channel": s[2]})
        m, s = cs.mean_channels(img_lab), cs.std_channels(img_lab)
        r.update({"mean L channel": m[0], "mean a channel": m[1], "mean b channel (Lab)": m[2],
                  "std L channel": s[0], "std a channel": s[1], "std b channel (Lab)": s[2]})
        cm, csd = cs.circ_stats(img_hsv)
        m, s = cs.mean_channels(img_hsv), cs.std_channels(img_hsv)
        r.update({"mean H channel": cm, "mean S channel": m[1], "mean V channel": m[2],
                  "std H channel": csd, "std S channel": s[1], "std V channel": s[2]})
        return r

    vals.update(timed("simple", simple))
    fo, so, ed = timed("edges", lambda: edge_entropy_qips.do_first_and_second_order_entropy_and_edge_density(img_gray))
    vals.update({"1st-order EOE": fo, "2nd-order EOE": so, "Edge density": ed})
    sigma, slope = timed("fourier_redies", lambda: fourier_qips.fourier_redies(img_gray, bin_size=2, cycles_min=10, cycles_max=256))
    vals.update({"Fourier sigma": sigma, "Slope Redies": slope})
    vals["Slope Spehar"] = timed("fourier_spehar", lambda: fourier_qips.fourier_slope_branka_Spehar_Isherwood(img_gray))
    vals["Slope Mather"] = timed("fourier_mather", lambda: fourier_qips.fourier_slope_mather(img_rgb))
    vals["2D Fractal dimension"] = timed("fractal_2d", lambda: fractal_dimension_qips.fractal_dimension_2d(img_gray))
    vals["3D Fractal dimension"] = timed("fractal_3d", lambda: fractal_dimension_qips.fractal_dimension_3d(img_gray))
    ss, cx, an = timed("phog", lambda: PHOG_qips.PHOGfromImage(img_rgb, section=2, bins=16, angle=360, levels=3, re=-1,
                                                                sesfweight=[1, 1, 1]))
    vals.update({"Self-similarity (PHOG)": ss, "Complexity": cx, "Anisotropy": an})

    def cnn():
        lr, ud, lrud = CNN_qips.CNN_symmetry(img_rgb, kernel, bias)
        resp = CNN_qips.conv2d(img_rgb, kernel, bias)
        _, m22 = CNN_qips.max_pooling(resp, patches=22)
        _, m12 = CNN_qips.max_pooling(resp, patches=12)
        _, m8 = CNN_qips.max_pooling(resp, patches=8)
        _, m1 = CNN_qips.max_pooling(resp, patches=1)
        return {"CNN symmetry left-right": lr, "CNN symmetry up-down": ud, "CNN symmetry left-right & up-down": lrud,
                "Sparseness": CNN_qips.CNN_Variance(m22, kind="sparseness"),
                "Variability": CNN_qips.CNN_Variance(m12, kind="variability"),
                "Self-similarity (CNN)": CNN_qips.CNN_selfsimilarity(m1, m8)}

    vals.update(timed("cnn", cnn))

    def balance():
        d = balance_qips.DCM(img_gray)
        return {"Mirror symmetry": balance_qips.Mirror_symmetry(img_gray), "Balance": balance_qips.Balance(img_gray),
                "DCM distance": d[0], "DCM x position": d[1], "DCM y position": d[2],
                "Homogeneity": balance_qips.Homogeneity(img_gray)}

    vals.update(timed("balance", balance))
    return {k: float(v) for k, v in vals.items()}, secs


def main():
    toolbox = Path(sys.argv[1]).resolve()
    only = sys.argv[2:]
    import PIL, scipy, skimage, statsmodels

    commit = subprocess.run(["git", "-C", str(toolbox), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    commit = commit or os.environ.get("TOOLBOX_COMMIT", "")  # a checkout without .git: say which commit it is
    out = {"toolbox": "https://github.com/RBartho/Aesthetics-Toolbox", "commit": commit or "see README.md",
           "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__,
                        "scikit-image": skimage.__version__, "Pillow": PIL.__version__, "statsmodels": statsmodels.__version__},
           "images": {}}
    for name, img in images().items():
        if only and name not in only:
            continue
        t = time.perf_counter()
        vals, secs = run(toolbox, img)
        out["images"][name] = {"shape": list(img.shape), "values": vals, "seconds": secs}
        print(name, img.shape, f"{time.perf_counter() - t:.1f} s", flush=True)
    (HERE / "reference.json").write_text(json.dumps(out, indent=1, sort_keys=False) + "\n")


if __name__ == "__main__":
    main()
