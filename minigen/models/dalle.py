"""A DALL-E-style text-to-image model (Ramesh et al. 2021, "Zero-Shot Text-to-Image
Generation") at digit scale: a caption in, a handwritten digit out.

Three parts, two of them frozen:

    VQ-VAE (``vqvae.py``, frozen)   image x <-> 7 x 7 grid of codes c_1..c_49 in 0..63
    prior  (``gpt.py``, trained)    p(c_1..c_49 | caption) = prod_i p(c_i | caption, c_<i)
    CLIP   (``clip.py``, frozen)    re-ranks the prior's candidates by cos(f(x), g(caption))

The sequence. A caption of n words w_1..w_n (``WordTokenizer``: the words of the caption
templates) and an image's 49 codes (row by row) are written as one sequence of 8 + 1 + 49 = 58
tokens over one vocabulary, the text ids first and the image codes after them (offsets):

    [BOS, w_1, ..., w_n, PAD, ..., PAD, SEP, c_1, ..., c_49]
     <---- text: 8 positions ---->     ^     <-- 49 image tokens -->

    id(word)  = its WordTokenizer id            0 .. V_t - 1   (PAD 0, BOS 1, EOS 2, words)
    id(SEP)   = V_t
    id(c)     = V_t + 1 + c                     c in 0 .. K - 1

so V = V_t + 1 + K (here 40 + 1 + 64 = 105). The text always fills positions 0..7 (PAD after
the last word) and SEP sits at position 8, so image token i always sits at position 9 + i: the
learned position embedding of a GPT can then learn the 7 x 7 grid's geometry, as DALL-E's
fixed 256-token text region does.

Why text first, then image. The GPT is causal: the token at position t is predicted from the
tokens before it. With the caption first, every image token is predicted from the whole
caption and the image tokens before it, p(c_i | w, c_<i), which is exactly the conditional the
sampler needs: write the caption, then let the model continue with 49 image tokens. (Image
first would model p(w | c), a captioner.) One sequence model thus learns the joint
p(w, c) = p(w) p(c | w), and sampling from p(c | w) is ordinary continuation of a prompt.

The loss. The mean cross-entropy of the next token over the image positions only,

    L = -1/49 sum_{i=1}^{49} log p(c_i | w, c_<i)          (the text positions are masked out)

with the whole vocabulary in the softmax. DALL-E also scores the text tokens (weight 1/8
against 7/8 for the image); here the captions are 80 strings drawn by a fixed rule, and the
sampler is always given the caption, so p(w) teaches nothing the sampler uses: ``text_weight``
(default 0) adds the caption's words, -text_weight/n sum_j log p(w_j | w_<j), for the curious.
Each training image gets a fresh caption template per step (``minigen.data.captions``).

Sampling and re-ranking. For a prompt, draw N candidates by continuing [prompt, SEP] 49 times,
each token from softmax(s / T) over the K image ids only (text ids cannot be drawn), keeping the
8 most probable codes (top-k, ``TOP_K``: measured to clean the candidates; docs/models/dalle.md),
decode them with the VQ-VAE, and rank them by CLIP's cosine between each image and the prompt,

    score_n = f(x_n) . g(prompt) / (||f(x_n)|| ||g(prompt)||),     best first.

The prior proposes, CLIP disposes: a candidate that drifted (a 7 that came out as a 1) ranks low.
"""
from __future__ import annotations

import math
import os

import numpy

import minigen
from minigen import nn
from minigen.nn import functional as F
from minigen.data import captions as C

from .clip import CLIP, QUICK as CLIP_QUICK
from .gpt import GPT
from .registry import Recipe, register
from .vqvae import VQVAE, QUICK as VQVAE_QUICK

__all__ = ["DALLE", "build_dalle", "rank_by_clip", "SHIPPED", "agreement", "TOP_K"]

# sampling keeps the 8 most probable of the 64 codes at each step, by default (a truncation:
# fewer stray strokes; docs/models/dalle.md has the agreement with and without it)
TOP_K = 8

HERE = os.path.dirname(os.path.abspath(__file__))
# the trained model that ships in the package (see docs/models/dalle.md for the command)
SHIPPED = os.path.join(HERE, "weights", "dalle.npz")


def _freeze(module):
    for p in module.parameters():
        p.requires_grad_(False)
    return module


class DALLE(nn.Module):
    """A GPT prior over [caption tokens, SEP, VQ-VAE codes] with a frozen VQ-VAE and CLIP.

    Args:
        clip_options, vqvae_options: the frozen parts' sizes (default: their default runs').
        text_len: positions of the text region, BOS included (a prompt has at most
            text_len - 1 words).
        n_layer, n_head, n_embd, dropout: the prior's sizes.
        text_weight: weight of the caption words' cross-entropy in the loss (default 0:
            the loss is on the image tokens only).
    """

    def __init__(self, clip_options=None, vqvae_options=None, text_len=8, n_layer=4, n_head=4, n_embd=64,
                 dropout=0.0, text_weight=0.0):
        super().__init__()
        self.clip_options, self.vqvae_options = dict(clip_options or {}), dict(vqvae_options or {})
        self.text_len, self.n_layer, self.n_head, self.n_embd = text_len, n_layer, n_head, n_embd
        self.dropout, self.text_weight = dropout, float(text_weight)
        self.clip = _freeze(CLIP((1, 28, 28), **self.clip_options))
        self.vqvae = _freeze(VQVAE((1, 28, 28), **self.vqvae_options))
        self.tokenizer = C.WordTokenizer()
        self.grid = self.vqvae.grid
        self.n_image = self.grid[0] * self.grid[1]
        self.num_codes = self.vqvae.num_codes
        # one vocabulary: text ids 0..V_t-1, SEP = V_t, image code c = V_t + 1 + c
        self.sep = len(self.tokenizer)
        self.offset = self.sep + 1
        self.vocab_size = self.offset + self.num_codes
        # 8 text + SEP + 49 image tokens; the prior reads all but the last
        self.seq_len = text_len + 1 + self.n_image
        self.prior = GPT(self.vocab_size, self.seq_len - 1, n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                         dropout=dropout)
        # the 8 x 10 training captions as text regions [T, 10, text_len] (not parameters)
        table = numpy.array([[self.text_ids(C.caption(t, d)) for d in range(10)] for t in C.TRAIN_TEMPLATES])
        self.register_buffer("caption_table", minigen.from_numpy(table), persistent=False)

    def config(self):
        return {"class": "DALLE", "clip": self.clip.config(), "vqvae": self.vqvae.config(),
                "text_len": self.text_len, "n_layer": self.n_layer, "n_head": self.n_head,
                "n_embd": self.n_embd, "dropout": self.dropout, "text_weight": self.text_weight}

    def train(self, mode=True):
        # the frozen parts stay in eval mode (no VQ-VAE codebook restarts)
        super().train(mode)
        self.clip.eval()
        self.vqvae.eval()
        return self

    # ------------------------------------------------------------------ the sequence
    def text_ids(self, prompt):
        """The text region of ``prompt``: [BOS, w_1..w_n, PAD...] as a list of ``text_len`` ids.
        An empty prompt, a word outside the caption vocabulary, or more than text_len - 1
        words is a ValueError."""
        if not isinstance(prompt, str):
            raise TypeError(f"prompt: expected a string, got {type(prompt).__name__}")
        try:
            ids = self.tokenizer.encode(prompt, bos=True)
        except ValueError as e:
            raise ValueError(f"prompt: {e}".replace("text: ", "")) from None
        if len(ids) > self.text_len:
            raise ValueError(f"prompt: {len(ids) - 1} words is longer than the prior's text context of "
                             f"{self.text_len - 1} words: {prompt!r}")
        return ids + [self.tokenizer.pad] * (self.text_len - len(ids))

    def layout(self, text, codes):
        """The sequence [text, SEP, offset + codes] [B, seq_len] from text regions ``text``
        [B, text_len] and codes [B, h, w] (or [B, 49])."""
        B = codes.shape[0]
        sep = minigen.full((B, 1), self.sep, dtype=minigen.int64, device=codes.device)
        return minigen.cat([text, sep, codes.reshape(B, -1) + self.offset], dim=1)

    def loss_weights(self, seq):
        """The weight of each predicted token seq[:, 1:] [B, seq_len - 1]: 1 on the 49 image
        tokens, ``text_weight`` on the caption's words (never on PAD or SEP)."""
        target = seq[:, 1:]
        image = (minigen.arange(1, self.seq_len, device=seq.device) > self.text_len).float()
        words = ((target > self.tokenizer.eos) & (target < self.sep)).float()
        return image.reshape(1, -1) + self.text_weight * words

    def sequence_loss(self, seq):
        """L = sum_t m_t CE(logits_t, seq_{t+1}) / sum_t m_t over the batch, m the loss weights."""
        logits, _ = self.prior(seq[:, :-1])
        target = seq[:, 1:]
        # -log p(x_{t+1} | x_<=t) at every position
        ce = F.cross_entropy(logits.reshape(-1, self.vocab_size), target.reshape(-1), reduction="none")
        m = self.loss_weights(seq).reshape(-1)
        # L = sum m_t CE_t / sum m_t
        return (ce * m).sum() / m.sum()

    def draw_captions(self, labels):
        """A fresh training caption per label, as text regions [B, text_len]."""
        t = C.draw_templates(labels.shape[0], self.caption_table.shape[0], device=labels.device)
        return self.caption_table[t, labels]

    def loss(self, images, labels):
        """The image tokens' cross-entropy for ``images`` with freshly drawn captions of ``labels``."""
        # c = the frozen VQ-VAE's codes of x
        codes = self.vqvae.encode_codes(images)
        return self.sequence_loss(self.layout(self.draw_captions(labels), codes))

    # ------------------------------------------------------------------ sampling
    @minigen.no_grad()
    def sample_codes(self, prompt, n, temperature=1.0, top_k=None):
        """``n`` grids of codes int64 [n, h, w] drawn from p(c | prompt), token by token with
        the KV cache, each from softmax(s / temperature) over the K image ids (the ``top_k``
        most probable only, if given)."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n: expected a positive number of candidates, got {n!r}")
        if not temperature > 0:
            raise ValueError(f"temperature: must be > 0, got {temperature!r}")
        if top_k is not None and not 1 <= top_k <= self.num_codes:
            raise ValueError(f"top_k: must lie in 1..{self.num_codes} (the codebook), got {top_k!r}")
        device = self.prior.wte.weight.device
        prefix = numpy.array([self.text_ids(prompt) + [self.sep]] * n, dtype=numpy.int64)
        # read [prompt, SEP] once; then one new token per step
        logits, cache = self.prior(minigen.from_numpy(prefix).to(device))
        codes = []
        for i in range(self.n_image):
            # s = the scores of the K image ids at the last position, / T
            s = logits[:, -1, self.offset:] / temperature
            if top_k is not None:
                kth = s.topk(top_k, dim=1)[0][:, -1:]
                s = s.masked_fill(s < kth, float("-inf"))
            # c_i ~ softmax(s)
            c = minigen.multinomial(F.softmax(s, dim=1), 1)
            codes.append(c)
            if i + 1 < self.n_image:
                logits, cache = self.prior(c + self.offset, cache)
        return minigen.cat(codes, dim=1).reshape(n, *self.grid)

    @minigen.no_grad()
    def generate(self, prompt, n=16, temperature=1.0, top_k=TOP_K):
        """``(images [n, 1, 28, 28] in [0, 1], scores [n])``: ``n`` candidates for ``prompt``,
        ranked by CLIP's cosine to the prompt, best first (each code drawn among the ``top_k``
        most probable: 8 by default; ``top_k=None`` or 64 is plain sampling)."""
        images = self.vqvae.decode_codes(self.sample_codes(prompt, n, temperature, top_k))
        return rank_by_clip(self.clip, images, self.clip.encode_text(prompt))


@minigen.no_grad()
def rank_by_clip(clip, images, v):
    """``images`` [n, ...] sorted by their cosine to the unit vector ``v`` [1, E] in CLIP's
    space, best first: ``(images, scores)`` with scores a NumPy array [n], decreasing."""
    # score_n = u_n . v, u_n = f(x_n) / ||f(x_n)||
    scores = (clip.encode_image(images) @ v.transpose(0, 1)).cpu().numpy()[:, 0]
    order = numpy.argsort(-scores, kind="stable")
    return images[minigen.from_numpy(order).to(images.device)], scores[order]


# ----------------------------------------------------------------------------- evaluation
def agreement(model, seeds=(0,), n=16, top=1, prompt="a handwritten {w}", temperature=1.0, top_k=TOP_K):
    """The bar's measure: for each digit d and seed, draw ``n`` candidates for the prompt of d,
    rank them by CLIP, classify the ``top`` best with the shared digit classifier
    (``minigen.metrics``), and count the agreements with d. Returns ``{d: share}`` over
    ``len(seeds) * top`` images per digit, and the same over all ``n`` candidates (unranked)."""
    from minigen.metrics import classify
    ranked, unranked = {}, {}
    for d in range(10):
        hits = raw = 0
        for seed in seeds:
            # as `minigen sample dalle --prompt ... --seed SEED` draws
            minigen.manual_seed(seed)
            images, _ = model.generate(C.caption(prompt, d), n, temperature, top_k)
            pred = classify(images)[1].argmax(1)
            hits += int((pred[:top] == d).sum())
            raw += int((pred == d).sum())
        ranked[d] = hits / (len(seeds) * top)
        unranked[d] = raw / (len(seeds) * n)
    return ranked, unranked


def evaluate(model, data, k=None):
    """Top-1 (of 16 ranked candidates) agreement of the digit classifier with the prompted
    digit, "a handwritten {zero..nine}", one draw per digit; and the unranked candidates'."""
    model.eval()
    ranked, unranked = agreement(model, seeds=(0,))
    out = {f"top1_agreement_{d}": v for d, v in ranked.items()}
    out["top1_agreement_min"] = min(ranked.values())
    out["top1_agreement_mean"] = float(numpy.mean(list(ranked.values())))
    out["candidate_agreement_mean"] = float(numpy.mean(list(unranked.values())))
    return out


def pictures(model, run_dir, data):
    from minigen import plots
    model.eval()
    minigen.manual_seed(0)
    rows = [model.generate(C.caption("a handwritten {w}", d), 8)[0] for d in range(10)]
    path = os.path.join(run_dir, "dalle_prompts.png")
    plots.save_image_grid(minigen.cat(rows), path, nrow=8,
                          title="a handwritten zero .. nine: CLIP-ranked, best left")
    return [path]


def sample_dalle(model, spec, args):
    """``minigen sample dalle --prompt "a handwritten seven" [--n 16] [--candidates M]
    [--out grid.png|samples.npy] [--temperature T] [--top-k K] [--audio clip.wav]``: ``M``
    candidates (default 8n) ranked by CLIP, the ``n`` best written (best first), as a grid or an
    array [n, 1, 28, 28] in [0, 1]. ``--top-k`` defaults to
    ``TOP_K`` (8); ``--top-k 64`` samples from the whole codebook."""
    from minigen import plots
    from minigen.io import atomic_write
    for flag in ("max_new_tokens", "top_p", "labels", "digit", "seconds", "psi"):
        if getattr(args, flag, None) is not None:
            raise ValueError(f"--{flag.replace('_', '-')}: not used by dalle (give --prompt, and optionally "
                             "--n, --out, --temperature, --top-k)")
    audio = getattr(args, "audio", None)
    if audio is not None and args.prompt is not None:
        raise ValueError("dalle: give --prompt TEXT or --audio FILE.wav, not both")
    n = args.n or 16
    # draw m candidates, rank them by CLIP, keep the n best (DALL-E drew 512 and kept 32)
    m = getattr(args, "candidates", None) or 8 * n
    if m < n:
        raise ValueError(f"--candidates {m} is fewer than the --n {n} images to write")
    top_k = TOP_K if args.top_k is None else args.top_k
    if audio is not None:
        from .audio_clip import prompt_from_audio
        prompt, v = prompt_from_audio(audio, model.clip)
        images = model.vqvae.decode_codes(model.sample_codes(prompt, m, args.temperature, top_k))
        images, scores = rank_by_clip(model.clip, images, v)
        print(f"heard {audio!r} as {prompt!r}")
        prompt = f"{os.path.basename(audio)}, heard as {prompt}"
    else:
        if args.prompt is None:
            raise ValueError("dalle: give --prompt TEXT (e.g. --prompt \"a handwritten seven\")")
        prompt = args.prompt
        images, scores = model.generate(prompt, m, args.temperature, top_k)
    images, scores = images[:n], scores[:n]
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "dalle.png")
    ext = os.path.splitext(out)[1].lower()
    if ext not in (".png", ".npy"):
        raise ValueError(f"--out: the candidates are written as .png (a grid) or .npy, got {out!r}")
    if ext == ".npy":
        arr = numpy.clip(images.cpu().numpy().astype(numpy.float32), 0.0, 1.0)
        atomic_write(out, lambda f: numpy.save(f, arr))
    else:
        plots.save_image_grid(images, out, nrow=max(1, math.isqrt(n)),
                              title=f"{prompt.lower().strip()!r}: the best {n} of {m} candidates by CLIP")
    print(f"prompt {prompt!r}: the best {n} of {m} candidates ranked by CLIP (cosine "
          f"{scores[0]:.3f} .. {scores[-1]:.3f})")
    print(f"wrote {out}")
    return 0


# ----------------------------------------------------------------------------- registry
QUICK = dict(clip_checkpoint=None, vqvae_checkpoint=None, clip_options=CLIP_QUICK, vqvae_options=VQVAE_QUICK,
             n_layer=1, n_head=2, n_embd=16)


def _load_part(model, part, path):
    """Load the frozen ``part`` ('clip' or 'vqvae') of ``model`` from the checkpoint ``path``
    (a ``minigen train clip`` / ``vqvae`` run) or, when that file is absent, from the shipped
    model's."""
    from minigen.io import load_meta
    from minigen.train import load_checkpoint
    module = getattr(model, part)
    if os.path.exists(path):
        meta = load_meta(path)
        if meta.get("model") != part:
            raise ValueError(f"dalle: {path} holds a {meta.get('model')} checkpoint, not a {part} one")
        load_checkpoint(path, module, expect={"model": part, "config": module.config()})
        return path
    if os.path.exists(SHIPPED):
        from minigen import io
        state = io.load(SHIPPED)["model"]
        sub = {k[len(part) + 1:]: v for k, v in state.items() if k.startswith(part + ".")}
        module.load_state_dict(sub)
        return SHIPPED
    raise ValueError(f"dalle: the frozen {part} comes from {path}, which does not exist; make it with "
                     f"`minigen train {part} --out {os.path.dirname(path)}`")


def build_dalle(data="captions", variant="default", clip_checkpoint="runs/clip/last.npz",
                vqvae_checkpoint="runs/vqvae/last.npz", **options):
    """The prior with its frozen parts loaded from ``clip_checkpoint`` and ``vqvae_checkpoint``
    (the default runs of ``minigen train clip`` / ``vqvae``; absent files fall back to the
    shipped model's parts; None leaves them at random: ``--quick``)."""
    if data != "captions":
        raise ValueError(f"dalle: trains on image-caption pairs (data 'captions'), got {data!r}")
    model = DALLE(**options)
    for part, path in (("clip", clip_checkpoint), ("vqvae", vqvae_checkpoint)):
        if path is not None:
            _load_part(model, part, path)
    return model


register("dalle", build_dalle, Recipe(
    data="captions", steps=2500, batch_size=32, lr=1e-3, optimizer="adamw", betas=(0.9, 0.99),
    weight_decay=0.01, schedule="cosine", warmup=100, grad_clip=1.0,
    quick=dict(steps=6, batch_size=16, warmup=0, model_options=QUICK),
    evaluate=evaluate, pictures=pictures, sample=sample_dalle,
    description="DALL-E: a GPT prior over [caption words, VQ-VAE codes], frozen VQ-VAE, CLIP re-ranking"))
