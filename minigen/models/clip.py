"""CLIP (Radford et al. 2021, "Learning Transferable Visual Models From Natural Language
Supervision") at digit scale: MNIST images and procedural captions ("a handwritten seven").

Two towers map an image and a caption into the same 64-dimensional space:

    image tower  f(x): conv 3x3 16 - ReLU - pool 2, conv 3x3 32 - ReLU - pool 2,
                       Linear 1568 -> 128 - ReLU, Linear 128 -> 64
    text tower   g(c): characters -> Embedding 38 x 32 -> GRU(32 -> 128), the state h_n after
                       the caption's last real character n = len(c), Linear 128 -> 64
    u = f(x) / ||f(x)||,   v = g(c) / ||g(c)||          (L2-normalised: cosines)

Training is contrastive. In a batch of B pairs (x_i, c_i), pair i is the right caption for
image i and the B - 1 other captions are wrong; the model scores every pairing at once,

    S_ij = s u_i . v_j                    S [B, B]: image i against caption j,

and is trained to pick the right one in both directions, the symmetric InfoNCE loss:

    L_img = -1/B sum_i log softmax_j(S_ij)[j = i]      (each image finds its caption)
    L_txt = -1/B sum_j log softmax_i(S_ij)[i = j]      (each caption finds its image)
    L = (L_img + L_txt) / 2

Each direction is a cross-entropy over the batch, whose right "class" is the diagonal; the
other pairs are the negatives. Minimising L pulls u_i and v_i together and pushes the rest
apart, so the two towers come to agree on what a picture and a sentence share: here, the digit.

The temperature s is learned, on a log scale as in CLIP: the parameter is t = log s, starting at
t = log(1/0.07) = 2.659 (s = 14.3), and the forward uses s = exp(min(t, log 100)), so s never
exceeds 100. (CLIP clips the parameter itself after each optimizer step; here the clamp is in
the forward: above log 100 the gradient reaching t is 0, and t stays where Adam's momentum
left it. Both give s <= 100.)

Captions are drawn afresh at every step (``minigen.data.captions``): each image i gets a
template t_i ~ U{0..7} from minigen's generator, caption c_i = template t_i with its digit.
Many captions in a batch are then the same digit (a batch of 128 holds about 13 sevens), so the
"negatives" include other images of the same digit: the loss can never reach 0, but the only
way to lower it is to put every 7 near every caption of a 7.

Zero-shot classification needs no classifier head: embed one prompt per class, "a handwritten
{zero..nine}", and give each image the class whose prompt is nearest, argmax_k u . v_k. A
template ensemble averages the normalised prompt embeddings of several templates per class (and
normalises the mean) before the argmax.

Variants: ``cnn`` (the protocol's image tower, above) and ``vit`` (the ViT of
``minigen/models/vit.py``: its class-token features, ``ViT.encode``, then Linear d -> 64).
"""
from __future__ import annotations

import math

import numpy

import minigen
from minigen import nn
from minigen.nn import functional as F
from minigen.data import captions as C

from .registry import Recipe, register
from .vit import _check_images

__all__ = ["CLIP", "ImageTower", "TextTower", "clip_loss", "build_clip", "evaluate", "MAX_LOG_SCALE"]

MAX_LOG_SCALE = math.log(100.0)      # s = exp(t) is clamped at 100
INIT_LOG_SCALE = math.log(1 / 0.07)  # t starts at log(1/0.07)


def l2_normalize(z, eps=1e-12):
    """z / ||z|| along the last dimension."""
    # u = z / ||z||
    return z / (z.pow(2).sum(dim=-1, keepdim=True) + eps).sqrt()


def clip_loss(u, v, scale):
    """The symmetric InfoNCE loss of normalised image embeddings ``u`` [B, E] and caption
    embeddings ``v`` [B, E] (pair i matches pair i), at temperature ``scale``."""
    # S_ij = s u_i . v_j
    S = scale * (u @ v.transpose(0, 1))
    target = minigen.arange(S.shape[0], device=S.device)
    # L = (CE over rows: image -> caption + CE over columns: caption -> image) / 2
    return (F.cross_entropy(S, target) + F.cross_entropy(S.transpose(0, 1), target)) / 2


class ImageTower(nn.Module):
    """conv 16, conv 32 (3x3, ReLU, 2x2 max-pool each), fc ``hidden`` (ReLU), fc ``embed_dim``."""

    def __init__(self, image_shape=(1, 28, 28), channels=(16, 32), hidden=128, embed_dim=64):
        super().__init__()
        C_, H, W = image_shape
        if H % 4 or W % 4:
            raise ValueError(f"CLIP: the CNN tower pools twice by 2, so height and width must be "
                             f"multiples of 4, got {H}x{W}")
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(C_, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * (H // 4) * (W // 4), hidden), nn.ReLU())
        self.proj = nn.Linear(hidden, embed_dim)

    def forward(self, x):
        # f(x) = W_proj relu(W_fc conv(x)) + b
        return self.proj(self.features(x))


class ViTTower(nn.Module):
    """The ViT's class-token features (``ViT.encode``), projected to ``embed_dim``."""

    def __init__(self, image_shape=(1, 28, 28), embed_dim=64, **vit_options):
        super().__init__()
        from .vit import ViT
        self.vit = ViT(image_shape, **vit_options)
        del self.vit.head            # CLIP reads the features, not the classifier
        self.proj = nn.Linear(self.vit.d_model, embed_dim)

    def forward(self, x):
        return self.proj(self.vit.encode(x))


class TextTower(nn.Module):
    """Embedding ``vocab_size`` x ``char_dim``, GRU(char_dim -> hidden), the state after the last
    real character, Linear hidden -> ``embed_dim``."""

    def __init__(self, vocab_size, char_dim=32, hidden=128, embed_dim=64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, char_dim, padding_idx=0)
        self.gru = nn.GRU(char_dim, hidden, batch_first=True)
        self.proj = nn.Linear(hidden, embed_dim)

    def forward(self, ids, lengths):
        """``ids`` int64 [B, L] (PAD = 0 after each caption), ``lengths`` int64 [B] (1..L)."""
        # h_1..h_L = GRU(E[c_1], ..., E[c_L]); the GRU is causal, so h_n ignores the PAD after c_n
        h, _ = self.gru(self.embed(ids))
        # h_n: the state after caption b's last real character, n = lengths[b]
        last = h[minigen.arange(ids.shape[0], device=ids.device), lengths - 1]
        # g(c) = W_proj h_n + b
        return self.proj(last)


class CLIP(nn.Module):
    """Image tower + character text tower + learned temperature; ``loss(images, labels)``
    draws a fresh training caption per image (``minigen.data.captions``)."""

    def __init__(self, image_shape=(1, 28, 28), image_tower="cnn", embed_dim=64, char_dim=32,
                 text_hidden=128, image_hidden=128, vit_options=None):
        super().__init__()
        if image_tower not in ("cnn", "vit"):
            raise ValueError(f"CLIP: image_tower must be 'cnn' or 'vit', got {image_tower!r}")
        self.image_shape, self.image_tower, self.embed_dim = tuple(image_shape), image_tower, embed_dim
        self.char_dim, self.text_hidden, self.image_hidden = char_dim, text_hidden, image_hidden
        self.vit_options = dict(vit_options or {})
        self.tokenizer = C.CharTokenizer()
        if image_tower == "cnn":
            self.visual = ImageTower(self.image_shape, hidden=image_hidden, embed_dim=embed_dim)
        else:
            self.visual = ViTTower(self.image_shape, embed_dim=embed_dim, **self.vit_options)
        self.text = TextTower(len(self.tokenizer), char_dim, text_hidden, embed_dim)
        # t = log s, s = exp(t) the inverse temperature; t starts at log(1/0.07)
        self.logit_scale = nn.Parameter(minigen.tensor(INIT_LOG_SCALE))
        ids, lengths = C.caption_table(C.TRAIN_TEMPLATES, self.tokenizer)
        # the 8 x 10 training captions, tokenised once: [T, 10, L] and [T, 10] (not parameters)
        self.register_buffer("caption_ids", minigen.from_numpy(ids), persistent=False)
        self.register_buffer("caption_lengths", minigen.from_numpy(lengths), persistent=False)

    def config(self):
        return {"class": "CLIP", "image_shape": list(self.image_shape), "image_tower": self.image_tower,
                "embed_dim": self.embed_dim, "char_dim": self.char_dim, "text_hidden": self.text_hidden,
                "image_hidden": self.image_hidden, "vit_options": self.vit_options}

    def scale(self):
        """s = exp(min(t, log 100))."""
        # s = exp(min(t, log 100))
        return self.logit_scale.clamp(max=MAX_LOG_SCALE).exp()

    def encode_image(self, images):
        """u = f(x) / ||f(x)||: unit vectors [B, embed_dim]."""
        _check_images("CLIP", images, self.image_shape)
        return l2_normalize(self.visual(images))

    def encode_ids(self, ids, lengths):
        """v = g(c) / ||g(c)|| for tokenised captions."""
        return l2_normalize(self.text(ids, lengths))

    def encode_text(self, texts):
        """v for a string or a list of strings (``CharTokenizer``: lower-cased; an empty text or a
        character outside space, 0-9, a-z is a ValueError)."""
        ids, lengths = self.tokenizer.batch(texts)
        device = self.logit_scale.device
        return self.encode_ids(minigen.from_numpy(ids).to(device), minigen.from_numpy(lengths).to(device))

    def draw_captions(self, labels):
        """A fresh training caption for each label: t_i ~ U{0..7}, caption (t_i, y_i) as
        ``(ids [B, L], lengths [B])``, trimmed to the longest drawn caption."""
        t = C.draw_templates(labels.shape[0], self.caption_ids.shape[0], device=labels.device)
        ids, lengths = self.caption_ids[t, labels], self.caption_lengths[t, labels]
        L = int(lengths.max().item())
        return ids[:, :L], lengths

    def forward(self, images, ids, lengths):
        """S [B, B]: s u_i . v_j."""
        u, v = self.encode_image(images), self.encode_ids(ids, lengths)
        return self.scale() * (u @ v.transpose(0, 1))

    def loss(self, images, labels):
        """The symmetric InfoNCE loss of the batch, each image with a freshly drawn caption."""
        ids, lengths = self.draw_captions(labels)
        return clip_loss(self.encode_image(images), self.encode_ids(ids, lengths), self.scale())

    @minigen.no_grad()
    def class_embeddings(self, templates=("a handwritten {w}",)):
        """One unit vector per digit [10, embed_dim]: the mean over ``templates`` of the
        normalised caption embeddings, normalised again (one template: just its embedding)."""
        v = self.encode_text([C.caption(t, d) for t in templates for d in range(10)])
        v = v.reshape(len(templates), 10, -1).mean(dim=0)
        return l2_normalize(v)

    @minigen.no_grad()
    def image_embeddings(self, images, batch_size=500):
        return minigen.cat([self.encode_image(images[s:s + batch_size])
                            for s in range(0, len(images), batch_size)])

    @minigen.no_grad()
    def classify(self, images, templates=("a handwritten {w}",)):
        """Zero-shot digits int64 [B]: argmax_k u . v_k over the class embeddings."""
        return (self.image_embeddings(images) @ self.class_embeddings(templates).transpose(0, 1)).argmax(dim=1)


# ----------------------------------------------------------------------------- evaluation
PROMPT = ("a handwritten {w}",)


def retrieval_precision(U, y, V, yv, k=10):
    """Class-level precision@k both ways, NumPy: text -> image (each caption row of V retrieves
    its k nearest images; the share of them showing the caption's digit, averaged over captions)
    and image -> text (each image retrieves its k nearest captions)."""
    S = U @ V.T
    t2i = (y[numpy.argsort(-S.T, axis=1, kind="stable")[:, :k]] == yv[:, None]).mean()
    i2t = (yv[numpy.argsort(-S, axis=1, kind="stable")[:, :k]] == y[:, None]).mean()
    return float(t2i), float(i2t)


def _class_vectors(encode_texts, templates):
    """[10, E]: per digit, the mean over ``templates`` of the unit caption vectors, renormalised."""
    V = encode_texts([C.caption(t, d) for t in templates for d in range(10)])
    V = V.reshape(len(templates), 10, -1).mean(axis=0)
    return V / numpy.linalg.norm(V, axis=1, keepdims=True)


def zero_shot_figures(U, y, encode_texts):
    """Every figure of the protocol, in NumPy, for unit image vectors ``U`` [N, E] with digits
    ``y`` [N] and ``encode_texts(list of str) -> unit vectors [n, E]`` (so that a PyTorch twin is
    scored by the same lines):

    * ``zero_shot_accuracy``: prompts "a handwritten {zero..nine}" (a training template);
    * ``heldout_template_accuracy_mean`` / ``_min``: each of the 8 held-out templates alone;
    * ``train_template_accuracy_mean``: each of the 8 training templates alone;
    * ``ensemble_train_templates_accuracy`` / ``ensemble_heldout_templates_accuracy``: the mean
      of the normalised caption vectors over the 8 templates of each set;
    * ``precision_at_10_text_to_image`` / ``_image_to_text``: class-level retrieval against
      the pool of all 16 x 10 captions (16 right captions per image, so 1.0 is reachable)."""
    def acc(templates):
        return float(((U @ _class_vectors(encode_texts, templates).T).argmax(1) == y).mean())

    out = {"zero_shot_accuracy": acc(PROMPT)}
    held = [acc((t,)) for t in C.HELDOUT_TEMPLATES]
    out["heldout_template_accuracy_mean"] = float(numpy.mean(held))
    out["heldout_template_accuracy_min"] = float(numpy.min(held))
    out["train_template_accuracy_mean"] = float(numpy.mean([acc((t,)) for t in C.TRAIN_TEMPLATES]))
    out["ensemble_train_templates_accuracy"] = acc(C.TRAIN_TEMPLATES)
    out["ensemble_heldout_templates_accuracy"] = acc(C.HELDOUT_TEMPLATES)
    templates = C.TRAIN_TEMPLATES + C.HELDOUT_TEMPLATES
    V = encode_texts([C.caption(t, d) for t in templates for d in range(10)])
    yv = numpy.tile(numpy.arange(10), len(templates))
    out["precision_at_10_text_to_image"], out["precision_at_10_image_to_text"] = retrieval_precision(U, y, V, yv)
    return out


def zero_shot_report(model, images, labels):
    """``zero_shot_figures`` of ``model`` on test ``images`` / ``labels``, and s."""
    y = labels.cpu().numpy() if hasattr(labels, "numpy") else numpy.asarray(labels)
    U = model.image_embeddings(images).cpu().numpy()
    with minigen.no_grad():
        out = zero_shot_figures(U, y, lambda texts: model.encode_text(texts).cpu().numpy())
    out["scale_s"] = float(model.scale().item())
    return out


def evaluate(model, data, k=None):
    """The zero-shot figures on the run's test images (see ``zero_shot_report``)."""
    x, y = data.test_loader.dataset.tensors[:2]
    model.eval()
    return zero_shot_report(model, x, y)


def similarity_matrix(model, images, labels, per_class=8, templates=PROMPT):
    """Cosines [10 x 10 per_class]: the prompts ("a handwritten {zero..nine}") against
    ``per_class`` test images of each digit, the images sorted by digit; and those images."""
    y = labels.cpu().numpy()
    idx = numpy.concatenate([numpy.flatnonzero(y == d)[:per_class] for d in range(10)])
    pick = minigen.from_numpy(idx).to(images.device)
    x = images[pick]
    U = model.image_embeddings(x).cpu().numpy()
    V = model.class_embeddings(templates).cpu().numpy()
    return V @ U.T, x


def pictures(model, run_dir, data):
    import os
    from minigen import plots
    x, y = data.test_loader.dataset.tensors[:2]
    S, imgs = similarity_matrix(model, x, y)
    path = os.path.join(run_dir, "clip_similarity.png")
    plots.save_clip_similarity(S, imgs, [C.caption(PROMPT[0], d) for d in range(10)], path)
    return [path]


def sample_retrieval(model, spec, args):
    """``minigen sample clip --prompt "a handwritten seven" [--n 16] [--out top.png]``: the
    test images nearest to the prompt, as a grid (or an .npy array)."""
    import os
    from minigen import plots
    from minigen.io import atomic_write
    for flag in ("max_new_tokens", "top_k", "top_p", "labels", "digit", "seconds", "psi"):
        if getattr(args, flag, None) is not None:
            raise ValueError(f"--{flag.replace('_', '-')}: not used by CLIP (give --prompt, "
                             "and optionally --n and --out)")
    if args.prompt is None:
        raise ValueError("clip: give --prompt TEXT (e.g. --prompt \"a handwritten seven\"); CLIP finds "
                         "the test images nearest to it")
    n = args.n or 16
    x, y = spec.images("test").to(args.device), spec.labels("test").cpu().numpy()
    if n > len(x):
        raise ValueError(f"--n: at most {len(x)} test images, got {n}")
    v = model.encode_text(args.prompt)
    sims = (model.image_embeddings(x) @ v.transpose(0, 1)).cpu().numpy()[:, 0]
    top = numpy.argsort(-sims, kind="stable")[:n]
    images = x[minigen.from_numpy(top).to(x.device)]
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "retrieved.png")
    ext = os.path.splitext(out)[1].lower()
    if ext not in (".png", ".npy"):
        raise ValueError(f"--out: the retrieved images are written as .png (a grid) or .npy, got {out!r}")
    if ext == ".npy":
        arr = images.cpu().numpy().astype(numpy.float32)
        atomic_write(out, lambda f: numpy.save(f, arr))
    else:
        plots.save_image_grid(images, out, nrow=max(1, math.isqrt(n)),
                              title=f"nearest {n} test images to {args.prompt.lower().strip()!r}")
    counts = numpy.bincount(y[top], minlength=10)
    print(f"prompt {args.prompt!r}: top {n} test images (cosine {sims[top[0]]:.3f} .. {sims[top[-1]]:.3f}); "
          f"their digits: " + ", ".join(f"{d}: {c}" for d, c in enumerate(counts) if c))
    print(f"wrote {out}")
    return 0


# ----------------------------------------------------------------------------- registry
QUICK = dict(image_hidden=16, text_hidden=16, char_dim=8, embed_dim=8,
             vit_options=dict(d_model=16, depth=1, nhead=2, dim_feedforward=32))
VIT = dict(patch_size=7, d_model=64, depth=2, nhead=4, dim_feedforward=128)


def build_clip(data="captions", variant="cnn", **options):
    """CLIP with the protocol's CNN image tower (``variant='cnn'``) or the ViT (``'vit'``) on the
    captioned MNIST (``data='captions'``); ``options`` override the sizes."""
    if data != "captions":
        raise ValueError(f"clip: trains on image-caption pairs (data 'captions'), got {data!r}")
    if variant == "vit":
        options = dict(options, vit_options=dict(VIT, **options.get("vit_options", {})))
    return CLIP((1, 28, 28), image_tower=variant, **options)


register("clip", build_clip, Recipe(
    data="captions", epochs=20, batch_size=128, lr=1e-3, optimizer="adam", variants=("cnn", "vit"),
    data_options={"drop_last": True},
    quick=dict(epochs=1, steps=6, batch_size=32, model_options=QUICK),
    evaluate=evaluate, pictures=pictures, sample=sample_retrieval,
    description="CLIP: CNN image tower and character GRU text tower, symmetric InfoNCE; "
                "zero-shot digit classification"))
