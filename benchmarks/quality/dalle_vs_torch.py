"""Text-to-image (minigen/models/dalle.py) and hearing digits (minigen/models/audio_clip.py):
the bars' measurements, the time to draw and rank 16 candidates, the docs' pictures, and the
shipped weights.

    python benchmarks/quality/dalle_vs_torch.py --agreement [CKPT] [--seeds 0 .. 19] [--top-k K]
        For each digit d and seed s: `minigen sample dalle --prompt "a handwritten {d as a word}"
        --n 16 --seed s` (the same lines, in process; top-k 8 by default, as the CLI), the shared digit classifier
        (minigen.metrics) on the CLIP-ranked candidates: the share of top-1 and of top-4 images
        that show d, and of all 16 (unranked: the prior alone); and the seconds to draw, decode
        and rank the 16. CKPT defaults to the shipped model. -> results/dalle-agreement-{shipped|run}[-topkK].json
    python benchmarks/quality/dalle_vs_torch.py --retrieval [CKPT]
        Spoken digit -> image top-1 retrieval on the 4 test speakers for the audio encoder CKPT
        (default: the shipped one). -> results/audio_clip-retrieval.json
    (The prior's training step beside PyTorch is `minigen bench --only model:dalle --vs-torch
    --threads 1`: the twin is minigen/bench/torch_twins.py's torch_dalle_prior.)
    python benchmarks/quality/dalle_vs_torch.py --pictures docs/images
        The pictures of docs/models/dalle.md (shipped weights, seed 0).
    python benchmarks/quality/dalle_vs_torch.py --ship runs/dalle/last.npz runs/audio_clip/last.npz
        Write the shipped weights (float16, no optimizer state) to minigen/models/weights/.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import types

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

import runner  # noqa: E402

runner.set_threads(1)

import minigen  # noqa: E402
from minigen import io  # noqa: E402
from minigen.data import captions as C  # noqa: E402

RESULTS = os.path.join(HERE, "results")


def load(model, checkpoint):
    from minigen.cli import _load_for_sampling
    args = types.SimpleNamespace(model=model, checkpoint=checkpoint, device="cpu")
    return _load_for_sampling(args)[0]


def agreement(checkpoint, seeds, n=16, top_k=None, template="a handwritten {w}"):
    from minigen.metrics import classify
    from minigen.models.dalle import TOP_K
    top_k = TOP_K if top_k is None else top_k
    model = load("dalle", checkpoint)
    rows, times = {}, []
    for d in range(10):
        top1 = top4 = allc = 0
        for s in seeds:
            minigen.manual_seed(s)
            t = time.perf_counter()
            images, scores = model.generate(C.caption(template, d), n, 1.0, top_k)
            times.append(time.perf_counter() - t)
            pred = classify(images)[1].argmax(1)
            top1 += int(pred[0] == d)
            top4 += int((pred[:4] == d).sum())
            allc += int((pred == d).sum())
        rows[d] = {"top1": top1 / len(seeds), "top4": top4 / (4 * len(seeds)), "all16": allc / (n * len(seeds))}
        print(f"digit {d}: top-1 {rows[d]['top1']:.3f}  top-4 {rows[d]['top4']:.3f}  all 16 (unranked) "
              f"{rows[d]['all16']:.3f}", flush=True)
    per_seed_time = numpy.array(times)
    out = {"checkpoint": checkpoint or "shipped", "seeds": list(seeds), "n": n, "top_k": top_k, "template": template, "per_digit": rows,
           "top1_min": min(r["top1"] for r in rows.values()), "top4_min": min(r["top4"] for r in rows.values()),
           "top1_mean": float(numpy.mean([r["top1"] for r in rows.values()])),
           "top4_mean": float(numpy.mean([r["top4"] for r in rows.values()])),
           "all16_mean": float(numpy.mean([r["all16"] for r in rows.values()])),
           "seconds_draw_rank_16_median": float(numpy.median(per_seed_time)),
           "seconds_draw_rank_16_mean": float(per_seed_time.mean()), "threads": 1}
    print(json.dumps({k: v for k, v in out.items() if k != "per_digit"}, indent=1))
    return out


def retrieval(checkpoint):
    from minigen.data import load_mnist
    from minigen.models import audio_clip as A
    from minigen.models.dalle import _load_part
    model = load("audio_clip", checkpoint or A.SHIPPED)
    clip = load("dalle", None).clip if checkpoint is None else None
    if clip is None:
        parts = types.SimpleNamespace(clip=A.CLIP((1, 28, 28)))
        _load_part(parts, "clip", "runs/clip/last.npz")
        clip = parts.clip
    x, y = load_mnist("test")
    f, d = A.spoken_features("test")
    out = A.retrieval(model, clip.eval(), f, d, x, y)
    out["checkpoint"] = checkpoint or "shipped"
    print(json.dumps(out, indent=1))
    return out


def ship(dalle_ckpt, audio_ckpt):
    from minigen.models import weights
    for ckpt, name, none_parts in ((dalle_ckpt, "dalle", True), (audio_ckpt, "audio_clip", False)):
        if ckpt is None:
            continue
        meta = io.load_meta(ckpt)
        state = io.load(ckpt)["model"]
        half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        if none_parts:
            # the shipped file holds its frozen parts: rebuilding it must not read runs/
            meta = dict(meta, options=dict(meta.get("options") or {}, clip_checkpoint=None, vqvae_checkpoint=None))
        else:
            meta = dict(meta, options=dict(meta.get("options") or {}, clip_checkpoint=None))
        path = os.path.join(weights.HERE, f"{name}.npz")
        io.save({"model": half, "optimizer": None, "scheduler": None}, path, meta=meta, compress=True)
        print(f"wrote {path} ({os.path.getsize(path) / 1024:.0f} KB) from {ckpt}")


def pictures(out_dir):
    """docs/images/dalle_prompts.png (8 CLIP-ranked candidates for each "a handwritten {w}",
    seed 0) and audio_retrieval.png (for one clip of each digit by the first test speaker, the
    8 nearest test images in CLIP's space)."""
    from minigen import plots
    from minigen.data import load_mnist
    from minigen.models import audio_clip as A
    from minigen.models.dalle import pictures as dalle_pictures
    model = load("dalle", None)
    path = dalle_pictures(model, out_dir, None)[0]
    print(f"wrote {path}")
    audio = load("audio_clip", A.SHIPPED)
    f, d = A.spoken_features("test")
    from minigen.data import load_spoken_digits
    speakers = [spk for _, _, spk in load_spoken_digits("test")]
    first = sorted(set(speakers))[0]
    rows = [next(i for i in range(len(d)) if d[i] == k and speakers[i] == first) for k in range(10)]
    x, y = load_mnist("test")
    with minigen.no_grad():
        a = audio.encode_audio(minigen.from_numpy(f[rows])).cpu().numpy()
        U = model.clip.image_embeddings(x).cpu().numpy()
    top = numpy.argsort(-(a @ U.T), axis=1, kind="stable")[:, :8]
    grid = x[minigen.from_numpy(top.reshape(-1))]
    path = os.path.join(out_dir, "audio_retrieval.png")
    plots.save_image_grid(grid, path, nrow=8, title=f"spoken zero .. nine ({first}, a test voice): nearest 8")
    print(f"wrote {path}; digits of the retrieved images by row: {y.numpy()[top].tolist()}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agreement", nargs="?", const="", default=None, metavar="CKPT")
    p.add_argument("--retrieval", nargs="?", const="", default=None, metavar="CKPT")
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(20)))
    p.add_argument("--template", default="a handwritten {w}", help="the prompt, {w} the digit's word, {d} its numeral")
    p.add_argument("--top-k", type=int, default=None, help="codes kept per step (default: dalle.TOP_K, 8; 64: all)")
    p.add_argument("--ship", nargs=2, metavar=("DALLE_CKPT", "AUDIO_CKPT"))
    p.add_argument("--pictures", metavar="DIR", help="write dalle_prompts.png and audio_retrieval.png to DIR")
    a = p.parse_args(argv)
    os.makedirs(RESULTS, exist_ok=True)
    if a.ship:
        ship(*a.ship)
    if a.agreement is not None:
        out = agreement(a.agreement or None, a.seeds, top_k=a.top_k, template=a.template)
        tag = ("shipped" if not a.agreement else "run") + ("" if a.top_k is None else f"-topk{a.top_k}")
        if a.template != "a handwritten {w}":
            tag += "-" + "".join(ch if ch.isalnum() else "_" for ch in a.template.replace("{w}", "w").replace("{d}", "d"))
        with open(os.path.join(RESULTS, f"dalle-agreement-{tag}.json"), "w") as f:
            json.dump(out, f, indent=1)
    if a.retrieval is not None:
        out = retrieval(a.retrieval or None)
        tag = "shipped" if not a.retrieval else "run"
        with open(os.path.join(RESULTS, f"audio_clip-retrieval-{tag}.json"), "w") as f:
            json.dump(out, f, indent=1)
    if a.pictures:
        pictures(a.pictures)


if __name__ == "__main__":
    main()
