"""Hearing digits (issue #17, item 5): minigen's audio encoder beside a PyTorch twin, trained on
the same protocol, 3 seeds a side.

Data: the spoken digits' 40-band log-mel features (`audio_clip.spoken_features`), 36 training
voices (720 clips), 4 test voices (80 clips). The image side is fixed and shared: the frozen
CLIP inside the shipped text-to-image model embeds the 4,000 MNIST-5k training images once
(the bank), and the same CLIP embeds the 1,000 test images for retrieval.
Model: `AudioEncoder` (conv 64, 5 / pool 2, conv 64, 5 / pool 2, conv 128, 3, mean over time,
Linear 128 -> 64), its output L2-normalised; the temperature t = log s, s = exp(min(t, log 100)),
starting at log(1/0.07). Loss: symmetric InfoNCE between each clip and one training image of
its digit. Training: batch 64 (the last partial batch kept), Adam 1e-3, 40 epochs; the batch
order and each clip's image are drawn from NumPy `default_rng([seed, 3])`, the same on both
sides; each library draws its own initial weights (PyTorch's default initialisation on both).
Evaluation: the trained weights go into minigen's model (PyTorch's are copied in), and the
same code (`audio_clip.retrieval`) scores spoken digit -> image retrieval on the test voices:
top-1 accuracy (bar >= 0.80), class-level precision@10.

    python benchmarks/quality/audio_clip_vs_torch.py          # 3 seeds a side, a few minutes
    python benchmarks/quality/audio_clip_vs_torch.py --report
"""
from __future__ import annotations

import functools
import math
import os
import sys
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import runner  # noqa: E402

MODELS = ["audio_clip"]
EPOCHS, BATCH, LR = 40, 64, 1e-3


@functools.lru_cache(maxsize=None)
def _shared():
    """The frozen CLIP, the image bank of the training images, the features, the test set."""
    import minigen
    from minigen.data import load_mnist
    from minigen.models import audio_clip as A
    from minigen.models.dalle import _load_part
    import types
    parts = types.SimpleNamespace(clip=A.CLIP((1, 28, 28)))
    _load_part(parts, "clip", os.path.join("no", "such", "run.npz"))  # -> the shipped CLIP
    clip = parts.clip.eval()
    x, y = load_mnist("train")
    with minigen.no_grad():
        bank = clip.image_embeddings(x).numpy()
    return clip, bank, y.numpy(), A.spoken_features("train"), A.spoken_features("test")


def _batches(seed, n, labels_bank, digits, epochs):
    """[(clip rows, bank rows)] for every step: the same on both sides."""
    rng = numpy.random.default_rng([seed, 3])
    by_digit = [numpy.flatnonzero(labels_bank == d) for d in range(10)]
    out = []
    for _ in range(epochs):
        order = rng.permutation(n)
        for k in range(0, n, BATCH):
            rows = order[k:k + BATCH]
            out.append((rows, numpy.array([rng.choice(by_digit[d]) for d in digits[rows]])))
    return out


def run(model_name, lib, seed, steps=None):
    import minigen
    from minigen.models import audio_clip as A
    from minigen.models.clip import INIT_LOG_SCALE, MAX_LOG_SCALE, clip_loss

    clip, bank, bank_y, (f, d), _ = _shared()
    batches = _batches(seed, len(f), bank_y, d, EPOCHS)[:steps]
    mg = A.AudioCLIP()
    t0 = time.perf_counter()
    if lib == "minigen":
        minigen.manual_seed(seed)
        mg = A.AudioCLIP()
        opt = minigen.optim.Adam(mg.parameters(), lr=LR)
        U = minigen.from_numpy(bank)
        for rows, img in batches:
            opt.zero_grad()
            s = mg.logit_scale.clamp(max=MAX_LOG_SCALE).exp()
            loss = clip_loss(mg.encode_audio(minigen.from_numpy(f[rows])), U[minigen.from_numpy(img)], s)
            loss.backward()
            opt.step()
    else:
        import torch
        from torch import nn
        import torch.nn.functional as F
        torch.manual_seed(seed)
        c1, c2, c3 = mg.channels
        features = nn.Sequential(
            nn.Conv1d(A.N_MELS, c1, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(c1, c2, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(c2, c3, 3, padding=1), nn.ReLU())
        proj = nn.Linear(c3, mg.embed_dim)
        t = nn.Parameter(torch.tensor(float(INIT_LOG_SCALE)))
        params = list(features.parameters()) + list(proj.parameters()) + [t]
        opt = torch.optim.Adam(params, lr=LR)
        U = torch.from_numpy(bank)
        for rows, img in batches:
            opt.zero_grad()
            a = F.normalize(proj(features(torch.from_numpy(f[rows])).mean(dim=2)), dim=1)
            S = t.clamp(max=MAX_LOG_SCALE).exp() * (a @ U[torch.from_numpy(img)].T)
            target = torch.arange(S.shape[0])
            loss = (F.cross_entropy(S, target) + F.cross_entropy(S.T, target)) / 2
            loss.backward()
            opt.step()
        state = {"audio.features." + k: v for k, v in features.state_dict().items()}
        state.update({"audio.proj." + k: v for k, v in proj.state_dict().items()})
        state["logit_scale"] = t.detach()
        mg.load_state_dict({k: minigen.tensor(v.detach().numpy()) for k, v in state.items()})
    seconds = time.perf_counter() - t0
    _, _, _, _, (ft, dt) = _shared()
    from minigen.data import load_mnist
    xt, yt = load_mnist("test")
    mg.eval()
    out = A.retrieval(mg, clip, ft, dt, xt, yt)
    out.update(model=model_name, lib=lib, seed=seed, steps=len(batches), train_seconds=seconds,
               final_loss=float(loss.item()), scale=float(math.exp(min(float(mg.logit_scale.item()), MAX_LOG_SCALE))))
    return out


def describe(r):
    return (f"top-1 {r['top1_accuracy']:.4f}, precision@10 {r['precision_at_10']:.4f}, "
            f"heard as the right prompt {r['heard_as_prompt_accuracy']:.4f}")


def table(models):
    lines = ["| library | top-1 retrieval (80 clips, 4 unseen voices) | precision@10 | heard as the right prompt | seeds |",
             "|---|---|---|---|---|"]
    for lib, name in (("minigen", "minigen"), ("torch", "PyTorch 2.13 (CPU)")):
        rows = runner.load_results("audio_clip", lib)
        if not rows:
            continue

        def ms(key):
            v = numpy.array([r[key] for r in rows])
            return f"{v.mean():.4f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.4f}"
        lines.append(f"| {name} | {ms('top1_accuracy')} | {ms('precision_at_10')} | "
                     f"{ms('heard_as_prompt_accuracy')} | {len(rows)} |")
    lines.append("| bar | ≥ 0.80 | | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    runner.main(MODELS, run, table, describe, doc=__doc__)
