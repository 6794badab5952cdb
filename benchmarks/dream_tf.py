"""The study's TensorFlow DeepDream loop on a GraphDef, for ``benchmarks/dream.py`` (run in the TF venv).

Never imported by the project: ``benchmarks/dream.py --tf`` creates a separate virtual environment
with ``tensorflow-cpu`` under ``benchmarks/out/`` and runs this file with it.

This is a re-statement (not a copy) of the loop in the study's ``Image_Generation.py``
(github.com/CVRL/human-reactions-to-deepdream-samples), itself the TF1 DeepDream tutorial: the same
TensorFlow ops in the same order -- ``tf.compat.v1`` graph mode, the graph imported with
``input_map={"input": expand_dims(t_input - 117, 0)}``, ``tf.reduce_mean`` of the layer,
``tf.gradients`` to the input, ``tf.image.resize_bilinear`` (TF1 legacy) for the octaves, 512-px
tiles of an ``np.roll``-ed image, ``np.random.randint`` roll offsets, ``g * step / (mean|g| + 1e-7)``.
What the published script needs to run at all, and is done here: eager mode off
(``tf.compat.v1.disable_eager_execution``), the resize helper's placeholders created in the session's
graph (the script makes them at import, before that graph exists), a definition of ``T(layer)``
(``graph.get_tensor_by_name("import/<layer>:0")``) and of the start image (the script's ``img_noise``
default is undefined; the start image is passed in), ``os.makedirs(exist_ok=True)`` (misspelt
``exists_ok``). Two variants:

* ``published``: as the script runs, ``t_score``/``t_grad`` are built anew in every
  ``render_deepdream`` call, so the graph grows by one gradient graph per render;
* ``once``: the gradient graph of a layer is built once and reused.

Usage (TF venv): ``python dream_tf.py --graph g.pb --start start.npy --layers conv2d2 mixed4c
--renders 50 --octave-n 5 --seed 0 --threads 2 --variant once --out DIR``; writes ``DIR/<layer>.npy``
(the final float32 HWC image) and prints one JSON line per layer with ``seconds`` (the loop only:
graph import and warm-up excluded, as for ours).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_eager_execution()


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--graph", required=True)
    p.add_argument("--start", required=True, help=".npy uint8/float HxWx3 start image")
    p.add_argument("--layers", nargs="+", required=True)
    p.add_argument("--renders", type=int, default=50)
    p.add_argument("--iter-n", type=int, default=1)
    p.add_argument("--step", type=float, default=2.0)
    p.add_argument("--octave-n", type=int, default=5)
    p.add_argument("--octave-scale", type=float, default=1.4)
    p.add_argument("--tile-size", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="intra/inter-op threads (0: TF's default)")
    p.add_argument("--variant", choices=("published", "once"), default="once")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    out = Path(args.out)
    os.makedirs(out, exist_ok=True)

    graph_def = tf.GraphDef()
    graph_def.ParseFromString(Path(args.graph).read_bytes())
    cfg = tf.ConfigProto(intra_op_parallelism_threads=args.threads, inter_op_parallelism_threads=args.threads)
    start = np.float32(np.load(args.start))

    for layer in args.layers:
        graph = tf.Graph()
        sess = tf.InteractiveSession(graph=graph, config=cfg)
        with graph.as_default():
            t_input = tf.placeholder(np.float32, name="input")
            t_pre = tf.expand_dims(t_input - 117.0, 0)
            tf.import_graph_def(graph_def, {"input": t_pre})
            t_obj = graph.get_tensor_by_name(f"import/{layer}:0")
            # the resize helper, its placeholders made in this graph
            r_img, r_size = tf.placeholder(np.float32), tf.placeholder(np.int32)
            r_out = tf.image.resize_bilinear(tf.expand_dims(r_img, 0), r_size)[0, :, :, :]

        def resize(img, size):
            return sess.run(r_out, {r_img: img, r_size: size})

        def calc_grad_tiled(img, t_grad, tile_size):
            sz = tile_size
            h, w = img.shape[:2]
            sx, sy = np.random.randint(sz, size=2)
            img_shift = np.roll(np.roll(img, sx, 1), sy, 0)
            grad = np.zeros_like(img)
            for y in range(0, max(h - sz // 2, sz), sz):
                for x in range(0, max(w - sz // 2, sz), sz):
                    sub = img_shift[y:y + sz, x:x + sz]
                    grad[y:y + sz, x:x + sz] = sess.run(t_grad, {t_input: sub})
            return np.roll(np.roll(grad, -sx, 1), -sy, 0)

        def gradient_graph():
            with graph.as_default():
                t_score = tf.reduce_mean(t_obj)
                return tf.gradients(t_score, t_input)[0]

        once = gradient_graph() if args.variant == "once" else None

        def render_deepdream(img):
            t_grad = once if once is not None else gradient_graph()  # published: rebuilt on every call
            octaves = []
            for _ in range(args.octave_n - 1):
                hw = img.shape[:2]
                lo = resize(img, np.int32(np.float32(hw) / args.octave_scale))
                hi = img - resize(lo, hw)
                img = lo
                octaves.append(hi)
            for octave in range(args.octave_n):
                if octave > 0:
                    hi = octaves[-octave]
                    img = resize(img, hi.shape[:2]) + hi
                for _ in range(args.iter_n):
                    g = calc_grad_tiled(img, t_grad, args.tile_size)
                    img += g * (args.step / (np.abs(g).mean() + 1e-7))
            return img

        # warm-up (first-call costs: graph optimisation, oneDNN primitive creation), as ours gets
        np.random.seed(12345)
        render_deepdream(start[:args.tile_size, :args.tile_size].copy())
        np.random.seed(args.seed)  # same offsets as np.random.RandomState(seed) in helpers.synthesis.dream
        img = start.copy()
        t0 = time.perf_counter()
        for _ in range(args.renders):
            img = render_deepdream(img)
        dt = time.perf_counter() - t0
        np.save(out / f"{layer}.npy", img)
        print(json.dumps({"layer": layer, "variant": args.variant, "seconds": dt, "renders": args.renders,
                          "graph_nodes": len(graph.as_graph_def().node), "tf": tf.__version__}), flush=True)
        sess.close()


if __name__ == "__main__":
    main()
