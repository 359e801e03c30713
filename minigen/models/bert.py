"""BERT: a bidirectional Transformer encoder trained as a masked language model (Devlin, Chang,
Lee & Toutanova 2019, "BERT: Pre-training of Deep Bidirectional Transformers for Language
Understanding"), here on Shakespeare's characters.

Why a bidirectional model needs masking. GPT (``gpt.py``) reads x_1..x_T and predicts, at
position t, the next token x_{t+1}; its causal mask (t sees j <= t only) is what keeps the
answer out of the input. An encoder without that mask lets every position see every other one,
so it can use the context on both sides, but then "predict x_t" is trivial: x_t is in the
input, and the network learns to copy it. BERT hides the tokens it asks about instead. It
chooses a random set M of positions (15% of them), corrupts the tokens there, and predicts the
originals from the corrupted sequence x~:

    L = -(1/|M|) sum_{t in M} log p_theta(x_t | x~)          (nats per masked character)

Only the chosen positions count; the other 85% are context. The corruption (the 80/10/10 rule),
for each chosen position independently:

    80%:  x~_t = [MASK]               a token of its own, id V (one past the V characters)
    10%:  x~_t = a random character    uniform over the V characters (it may be x_t itself)
    10%:  x~_t = x_t                   unchanged

Why not [MASK] everywhere: the model would then only have to predict where it sees [MASK], and
the representation of every other position could ignore whether its own input is right. With
the random 10% any input character may be wrong, so every position has to check its token
against the context; with the unchanged 10%, the answer is sometimes the input itself, which
ties a position's output to its observed token. (And a text to be filled in, or a downstream
task, has few or no [MASK]s: the model has also learnt from uncorrupted positions.)

The network (pre-LayerNorm encoder layers, ``minigen.nn.TransformerEncoderLayer``):

    h^0_t = W_e[x~_t] + W_p[t]                     token (V + 1 rows: [MASK] too) + learned position
    for each of L layers, no attention mask (t attends to all T positions):
        h <- h + SelfAttn(LN_1(h))
        h <- h + W_2 GELU(W_1 LN_2(h) + b_1) + b_2
    logits_t = LN_f(h_t) W_o^T + b_o                V outputs: [MASK] is never an answer

Pre-LN rather than BERT's post-LN (x <- LN(x + Branch(x))): post-LN stacks need a learning-rate
warm-up to train stably (BERT warms up over 10,000 steps), pre-LN ones do not, and this recipe's
short run uses a constant learning rate; GPT-2 and ViT use pre-LN for the same reason. The output
layer is its own matrix (not tied to W_e), in minigen and in the PyTorch twin.

Evaluation asks fixed questions: the validation windows (the text of ``shakespeare``'s test
windows, the first 102,400 characters of the last 10%, cut into windows of T characters: 3,200
at the default T = 32) are masked once by the rule above with draws from
``numpy.random.default_rng(1234)`` (``fixed_masking``): the same positions and replacements
at every evaluation and for both libraries. The figures: masked-token accuracy
(argmax_c p(c | x~) = x_t, over the chosen positions) and the loss in nats and bits per masked
character.

``fill_mask("to be or not to [MASK]e")`` puts each [MASK] through the network at once (the
[MASK]s are predicted independently, from the same corrupted text) and returns the text with
the most probable characters and the top-k candidates with their probabilities.
"""
from __future__ import annotations

import math
import os

import numpy

import minigen
from minigen import nn
from minigen.nn import functional as F

from ..data.sequences import IGNORE
from .datasets import DATASETS, TEST_CHARS
from .registry import Recipe, register

__all__ = ["BERT", "MASK", "mask_tokens", "fixed_masking", "validation_windows", "evaluate_bert",
           "build_bert", "FIXED_SEED"]

MASK = "[MASK]"        # how a text marks the positions fill_mask fills
FIXED_SEED = 1234      # the seed of the validation masking (the same questions every time)
P_CHOSEN, P_MASK, P_RANDOM = 0.15, 0.8, 0.1


def mask_tokens(x, vocab_size, draws=None):
    """BERT's corruption of the token ids ``x`` (int64 tensor, any shape, ids in [0, V)).

    ``draws``: ``(u, r, z)``, tensors of ``x``'s shape: u and r uniform on [0, 1), z random ids in
    [0, V); by default drawn from minigen's generator on ``x``'s device (reproducible under
    ``minigen.manual_seed``). Returns ``(inputs, targets)``: the corrupted ids (``V`` = [MASK])
    and the targets (the original id at a chosen position, ``IGNORE`` = -1 elsewhere)."""
    V = vocab_size
    if draws is None:
        u = minigen.rand(x.shape, device=x.device)
        r = minigen.rand(x.shape, device=x.device)
        z = minigen.randint(0, V, x.shape, device=x.device)
    else:
        u, r, z = draws
    # each position is chosen with probability 15%
    chosen = u < P_CHOSEN
    # of the chosen: 80% (r < 0.8) become [MASK]
    to_mask = chosen & (r < P_MASK)
    # 10% (0.8 <= r < 0.9) become a random character z
    to_random = chosen & (r >= P_MASK) & (r < P_MASK + P_RANDOM)
    # and 10% (r >= 0.9) keep their own character
    inputs = minigen.where(to_mask, V, minigen.where(to_random, z, x))
    # the loss asks only about the chosen positions
    targets = minigen.where(chosen, x, IGNORE)
    return inputs, targets


def fixed_masking(x, vocab_size, seed=FIXED_SEED):
    """The fixed questions on the windows ``x`` (a NumPy int array [N, T]): ``mask_tokens`` with
    its draws (u, r, z, in that order) from ``numpy.random.default_rng(seed)``. Returns NumPy
    ``(inputs, targets)``; the same for every call, every device and every library."""
    x = numpy.asarray(x, dtype=numpy.int64)
    g = numpy.random.default_rng(seed)
    u, r = g.random(x.shape), g.random(x.shape)
    z = g.integers(0, vocab_size, size=x.shape)
    inputs, targets = mask_tokens(minigen.tensor(x), vocab_size,
                                  draws=tuple(minigen.tensor(a) for a in (u, r, z)))
    return inputs.cpu().numpy(), targets.cpu().numpy()


def validation_windows(block_size=32, data="shakespeare"):
    """The validation windows [TEST_CHARS // T, T] as NumPy ids: window j holds validation
    characters T j .. T j + T - 1 (the x of ``shakespeare``'s test windows of block size T)."""
    _, val = DATASETS[data].split
    n = TEST_CHARS // block_size
    return val[:n * block_size].reshape(n, block_size).copy()


class BERT(nn.Module):
    """A BERT of ``n_layer`` encoder layers of width ``n_embd`` over ``block_size`` tokens.

    Args:
        vocab_size: V, the characters; [MASK] is id V, so the embedding has V + 1 rows and the
            output V columns.
        block_size: the context T (learned positions 0..T-1).
        n_layer, n_head, n_embd, dim_feedforward: the encoder's sizes.
        dropout: inside the encoder layers and after the embeddings (0: none).
        norm_first: pre-LN (True, with a final LayerNorm) or BERT's post-LN (False; then the
            embeddings get BERT's LayerNorm and there is no final one).
        chars: the V characters in id order (``fill_mask`` needs them to read and write text);
            they are part of ``config()`` and so of a checkpoint, which then cannot be loaded
            under a different vocabulary.
    """

    def __init__(self, vocab_size, block_size, n_layer=4, n_head=4, n_embd=128,
                 dim_feedforward=512, dropout=0.0, norm_first=True, chars=None):
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("block_size", block_size), ("n_layer", n_layer),
                        ("n_head", n_head), ("n_embd", n_embd), ("dim_feedforward", dim_feedforward)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"BERT: {name} must be a positive integer, got {v!r}")
        if chars is not None and (not isinstance(chars, str) or len(chars) != vocab_size
                                  or len(set(chars)) != vocab_size):
            raise ValueError(f"BERT: chars must be a string of the {vocab_size} distinct characters "
                             f"in id order, got {chars!r}")
        self.vocab_size, self.block_size = vocab_size, block_size
        self.n_layer, self.n_head, self.n_embd = n_layer, n_head, n_embd
        self.dim_feedforward, self.dropout, self.norm_first = dim_feedforward, dropout, norm_first
        self.chars = chars
        # [MASK] is the id after the characters
        self.mask_id = vocab_size
        # W_e (V + 1 rows) and W_p
        self.wte = nn.Embedding(vocab_size + 1, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        # post-LN normalises the embeddings (BERT); pre-LN normalises after the last layer
        self.ln_emb = None if norm_first else nn.LayerNorm(n_embd)
        self.drop = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(n_embd, n_head, dim_feedforward, dropout, activation="gelu",
                                           batch_first=True, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, n_layer, norm=nn.LayerNorm(n_embd) if norm_first else None,
                                             enable_nested_tensor=False)
        # W_o, b_o: one logit per character
        self.head = nn.Linear(n_embd, vocab_size)

    def config(self):
        return {"class": "BERT", "vocab_size": self.vocab_size, "block_size": self.block_size,
                "n_layer": self.n_layer, "n_head": self.n_head, "n_embd": self.n_embd,
                "dim_feedforward": self.dim_feedforward, "dropout": self.dropout,
                "norm_first": self.norm_first, "chars": self.chars}

    def forward(self, idx):
        """The logits ``[B, T, V]`` of every position of the (corrupted) ids ``idx`` [B, T]."""
        if idx.ndim != 2:
            raise ValueError(f"BERT: expected ids of shape [B, T], got {list(idx.shape)}")
        B, T = idx.shape
        if T > self.block_size:
            raise ValueError(f"BERT: {T} tokens exceed block_size {self.block_size} (the learned "
                             "positions stop there)")
        pos = minigen.arange(T, device=idx.device)
        # h^0_t = W_e[x~_t] + W_p[t]
        h = self.wte(idx) + self.wpe(pos)
        if self.ln_emb is not None:
            h = self.ln_emb(h)
        # L encoder layers, no mask: every position attends to all T (then LN_f when pre-LN)
        h = self.encoder(self.drop(h))
        # logits_t = LN_f(h_t) W_o^T + b_o
        return self.head(h)

    def corrupt(self, x):
        """``mask_tokens(x)`` with draws from minigen's generator in training; in eval mode the
        fixed masking (``fixed_masking``, NumPy's seed 1234 for ``x``'s shape), so that the test
        loss the training loop logs asks the same questions every time."""
        if self.training:
            return mask_tokens(x, self.vocab_size)
        inputs, targets = fixed_masking(x.cpu().numpy(), self.vocab_size)
        return (minigen.tensor(inputs, device=x.device), minigen.tensor(targets, device=x.device))

    def loss(self, x, y=None, masking=None):
        """The mean cross-entropy over the chosen positions of the windows ``x`` [B, T] (``y``, the
        next characters a text data set also gives, is not used). ``masking``: ``(inputs,
        targets)`` to use instead of drawing them."""
        inputs, targets = self.corrupt(x) if masking is None else masking
        logits = self(inputs)
        # L = -(1/|M|) sum_{t in M} log softmax(logits_t)[x_t]   (targets = -1 off M: skipped)
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), targets.reshape(-1),
                               ignore_index=IGNORE)

    @minigen.no_grad()
    def masked_scores(self, inputs, targets):
        """``(sum of -log p(x_t | x~) in nats, number right, number asked)`` over the chosen
        positions (``targets != -1``) of one batch; right: argmax_c p(c | x~) = x_t."""
        logits = self(inputs).reshape(-1, self.vocab_size)
        t = targets.reshape(-1)
        asked = t != IGNORE
        nll = F.cross_entropy(logits, t, ignore_index=IGNORE, reduction="sum")
        right = (logits.argmax(dim=-1) == t) & asked
        return nll.item(), int(right.sum().item()), int(asked.sum().item())

    @minigen.no_grad()
    def attention(self, idx):
        """Every layer's attention weights, a NumPy array [L, B, H, T, T] (query t, key j), for
        the ids ``idx`` [B, T]: read off the encoder's own ``self_attn`` modules by forward
        hooks that ask each one again for its weights (nothing of the layers is copied)."""
        maps, busy = [], [False]

        def hook(attn, args, out):
            if not busy[0]:
                busy[0] = True
                maps.append(attn(*args, need_weights=True, average_attn_weights=False)[1].cpu().numpy())
                busy[0] = False

        handles = [layer.self_attn.register_forward_hook(hook) for layer in self.encoder.layers]
        try:
            self(idx)
        finally:
            for h in handles:
                h.remove()
        return numpy.stack(maps)

    def masked_accuracy(self, inputs, targets):
        """The share of the chosen positions whose most probable character is the original."""
        _, right, asked = self.masked_scores(inputs, targets)
        if asked == 0:
            raise ValueError("masked_accuracy: no position is chosen (every target is -1)")
        return right / asked

    @minigen.no_grad()
    def fill_mask(self, text, top_k=5):
        """Fill each ``[MASK]`` of ``text`` with the most probable character.

        Returns ``(filled, candidates)``: the text with every [MASK] replaced, and for each
        [MASK] (left to right) a list of its ``top_k`` ``(character, probability)``, most
        probable first. A [MASK] counts as one token of the context."""
        if not isinstance(text, str):
            raise TypeError(f"fill_mask: text must be a str, got {type(text).__name__}")
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= self.vocab_size:
            raise ValueError(f"fill_mask: top_k must be an integer in [1, {self.vocab_size}], got {top_k!r}")
        if self.chars is None:
            raise RuntimeError("fill_mask: this BERT was built without its characters (chars=None); "
                               "build it with chars=... (build_bert does)")
        pieces = text.split(MASK)
        if len(pieces) == 1:
            raise ValueError(f"fill_mask: the text has no {MASK} to fill: {text!r}")
        stoi = {c: i for i, c in enumerate(self.chars)}
        bad = sorted({c for c in "".join(pieces) if c not in stoi})
        if bad:
            raise ValueError(f"fill_mask: character(s) {''.join(bad)!r} are not in the vocabulary; "
                             f"allowed: {self.chars!r} and {MASK}")
        ids, where = [], []
        for k, piece in enumerate(pieces):
            ids += [stoi[c] for c in piece]
            if k < len(pieces) - 1:
                where.append(len(ids))
                ids.append(self.mask_id)
        if len(ids) > self.block_size:
            raise ValueError(f"fill_mask: the text is {len(ids)} tokens long (each {MASK} counts as "
                             f"one), longer than the context of {self.block_size}")
        was = self.training
        self.eval()
        device = self.wte.weight.device
        logits = self(minigen.tensor([ids], device=device))
        self.train(was)
        # p(c | x~) at each [MASK]
        p = F.softmax(logits[0, minigen.tensor(where, device=device)], dim=-1).cpu().numpy().astype(numpy.float64)
        candidates = []
        for row in p:
            best = numpy.argsort(-row, kind="stable")[:top_k]
            candidates.append([(self.chars[i], float(row[i])) for i in best])
        out = list(pieces[0])
        for k, piece in enumerate(pieces[1:]):
            out.append(candidates[k][0][0])
            out.append(piece)
        return "".join(out), candidates


def format_fill(text, filled, candidates):
    """A few lines that show one fill_mask answer: the question, the answer, the candidates."""
    lines = [f"{text!r} -> {filled!r}"]
    for k, cands in enumerate(candidates):
        lines.append(f"  [MASK] {k + 1}: " + "  ".join(f"{c!r} {p:.3f}" for c, p in cands))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- recipe hooks
DEMOS = ("to be or not to [MASK]e",
         "to be or not to b[MASK]",
         "t[MASK] be or not t[MASK] be",
         "wherefore art thou R[MASK]meo?",
         "the winter of our disc[MASK]ntent",
         "The quality of m[MASK]rcy",
         "All the world's a st[MASK]ge",
         "my kingdom for a h[MASK]rse!")


@minigen.no_grad()
def evaluate_bert(model, data=None, batch_size=400, **unused):
    """Masked-token accuracy and loss on the fixed masking of the validation windows:
    ``masked_accuracy``, ``masked_nats_per_char``, ``masked_bits_per_char``, ``masked_tokens``."""
    x = validation_windows(model.block_size)
    inputs, targets = fixed_masking(x, model.vocab_size)
    device = model.wte.weight.device
    was = model.training
    model.eval()
    total, right, asked = 0.0, 0, 0
    for s in range(0, len(x), batch_size):
        n, r, a = model.masked_scores(minigen.tensor(inputs[s:s + batch_size], device=device),
                                      minigen.tensor(targets[s:s + batch_size], device=device))
        total, right, asked = total + n, right + r, asked + a
    model.train(was)
    nats = total / asked
    return {"masked_accuracy": right / asked, "masked_nats_per_char": nats,
            "masked_bits_per_char": nats / math.log(2), "masked_tokens": asked}


def write_fills(model, run_dir, data=None):
    """The run's fill_mask demos in ``samples.txt``."""
    # (a [MASK] is one token: the demos that fit the context)
    fits = [t for t in DEMOS if len(t) - (len(MASK) - 1) * t.count(MASK) <= model.block_size]
    texts = [format_fill(t, *model.fill_mask(t)) for t in fits]
    path = os.path.join(run_dir, "samples.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    return [path]


# ----------------------------------------------------------------------------- registry
# the default size (and the quality protocol's): context 32, d 128, 4 layers, 4 heads, FFN 512
SIZES = dict(n_layer=4, n_head=4, n_embd=128, dim_feedforward=512, block_size=32)
QUICK = dict(n_layer=1, n_head=2, n_embd=16, dim_feedforward=32)


def build_bert(data="shakespeare", variant="default", **options):
    """A fresh BERT sized for Shakespeare's characters (``options`` override the sizes)."""
    if data != "shakespeare":
        raise ValueError(f"bert: BERT here is a masked language model of running text; it trains "
                         f"on 'shakespeare', not {data!r}")
    spec = DATASETS[data]
    sizes = dict(SIZES, **options)
    return BERT(spec.vocab_size, chars="".join(spec.vocab.itos), **sizes)


def sample_fill_mask(model, spec, args):
    """``minigen sample bert --prompt "to be or not to [MASK]e" [--top-k K]``: fill each [MASK];
    prints the filled text and each [MASK]'s ``--top-k`` candidates (default 5), and writes them
    to ``--out`` (.txt, default fill_mask.txt beside the checkpoint)."""
    import os
    import sys
    from minigen.io import atomic_write_bytes

    prompt = DEMOS[0] if args.prompt is None else args.prompt
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "fill_mask.txt")
    if os.path.splitext(out)[1].lower() != ".txt":
        raise ValueError(f"--out: text is written to a .txt file, got {out!r}")
    try:
        text = format_fill(prompt, *model.fill_mask(prompt, top_k=args.top_k or 5)) + "\n"
    except (TypeError, RuntimeError) as e:
        raise ValueError(str(e)) from None
    atomic_write_bytes(out, text.encode("utf-8"))
    print(text, end="")
    print(f"(wrote the filled text to {out})", file=sys.stderr)
    return 0


register("bert", build_bert, Recipe(
    data="shakespeare", steps=1500, batch_size=32, lr=1e-3, optimizer="adamw", betas=(0.9, 0.99),
    weight_decay=0.01, eval_every=500, data_options={"block_size": 32},
    quick=dict(steps=20, eval_every=None, model_options=QUICK),
    description="BERT: masked language model (15%, 80/10/10), pre-LN encoder, fill_mask",
    evaluate=evaluate_bert, pictures=write_fills, sample=sample_fill_mask))
