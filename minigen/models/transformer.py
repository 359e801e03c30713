"""The encoder-decoder Transformer (Vaswani et al. 2017) translating English number words to
digits: "four thousand three hundred and twelve" -> "4312".

The source x_1..x_S (characters of the words) and the target y_1..y_U (digits, then EOS) live in
different vocabularies. The model factorises the target left to right, each digit conditioned on
the whole source and on the digits before it:

    p(y | x) = prod_u p(y_u | y_<u, x)

The encoder reads the source once, bidirectionally; the decoder reads the target so far (BOS,
y_1..y_{u-1}) with masked self-attention and looks at the encoder's output through
cross-attention:

    e_s = sqrt(d) E_src[x_s] + PE(s)                  embeddings scaled by sqrt(d), plus positions
    m = Encoder(e)                                     (S, d): the "memory"
    h_u = sqrt(d) E_tgt[y_{u-1}] + PE(u)               y_0 = BOS
    z = Decoder(h, m)                                  self-attention masked to u' <= u,
                                                       cross-attention over all of m
    p(y_u | y_<u, x) = softmax(W_out z_u + b_out)

The sinusoidal positional encoding (fixed, not learned) gives position t the vector

    PE(t)_{2i} = sin(t / 10000^(2i/d)),   PE(t)_{2i+1} = cos(t / 10000^(2i/d))

so that PE(t + k) is a fixed rotation of PE(t) for every t: relative offsets are linear maps.

Training maximises log p(y | x) with teacher forcing: the decoder is fed the true digits (shifted
right by BOS), all positions in one pass thanks to the causal mask; the loss is the mean
cross-entropy per target symbol, EOS included, PAD excluded. Decoding feeds the model its own
output: greedy (the most probable next digit each step) or beam search (the ``num_beams`` best
partial sequences by total log-probability, kept in parallel).

Cross-attention weights (which source characters each output digit looks at) are what the
picture shows: for "four thousand three hundred and twelve" the thousands digit attends to
"four", the hundreds digit to "three", the last two to "twelve".

The layers are ``minigen.nn.Transformer`` (``nn/transformer.py``: PyTorch's modules, signatures
and masks); this file adds the embeddings, positions, output layer, decoding and the task.
"""
from __future__ import annotations

import math

import numpy

import minigen
from minigen import nn
from minigen.data import numbers as words
from minigen.nn import functional as F

from .registry import Recipe, register

__all__ = ["PositionalEncoding", "NumberTranslator", "build_transformer"]


class PositionalEncoding(nn.Module):
    """x -> dropout(x + PE[:T]) for x [B, T, d], with the sinusoidal table of ``max_len`` rows."""

    def __init__(self, d_model, max_len=64, dropout=0.0):
        super().__init__()
        if d_model % 2:
            raise ValueError(f"PositionalEncoding: d_model must be even (sin/cos pairs), got {d_model}")
        t = numpy.arange(max_len, dtype=numpy.float64)[:, None]
        # 1 / 10000^(2i/d), i = 0 .. d/2 - 1
        inv_freq = numpy.exp(-math.log(10000.0) * numpy.arange(0, d_model, 2) / d_model)
        pe = numpy.zeros((max_len, d_model))
        # PE(t)_{2i} = sin(t / 10000^(2i/d)),  PE(t)_{2i+1} = cos(t / 10000^(2i/d))
        pe[:, 0::2], pe[:, 1::2] = numpy.sin(t * inv_freq), numpy.cos(t * inv_freq)
        self.register_buffer("pe", minigen.tensor(pe.astype(numpy.float32)), persistent=False)
        self.max_len = max_len
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        T = x.shape[1]
        if T > self.max_len:
            raise ValueError(f"PositionalEncoding: a sequence of {T} positions is longer than the "
                             f"positional table's max_len {self.max_len} (input {list(x.shape)})")
        return self.dropout(x + self.pe[:T].to(dtype=x.dtype))


class NumberTranslator(nn.Module):
    """Source tokens -> target tokens with ``nn.Transformer`` (batch_first, pre-LN by default).

    Args:
        src_vocab, tgt_vocab: vocabulary sizes (PAD = 0 in both).
        d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward, dropout:
            the ``nn.Transformer`` sizes.
        norm_first: pre-LN (True, the protocol's) or the paper's post-LN.
        max_len: rows of the positional table (longest source or target).
    """

    def __init__(self, src_vocab=len(words.SOURCE), tgt_vocab=len(words.TARGET), d_model=64,
                 nhead=4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=256,
                 dropout=0.0, norm_first=True, max_len=64):
        super().__init__()
        self.sizes = dict(src_vocab=src_vocab, tgt_vocab=tgt_vocab, d_model=d_model, nhead=nhead,
                          num_encoder_layers=num_encoder_layers,
                          num_decoder_layers=num_decoder_layers,
                          dim_feedforward=dim_feedforward, dropout=dropout,
                          norm_first=norm_first, max_len=max_len)
        self.d_model = d_model
        self.src_embed = nn.Embedding(src_vocab, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model)
        self.pos = PositionalEncoding(d_model, max_len, dropout)
        self.transformer = nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers,
                                          dim_feedforward, dropout, batch_first=True,
                                          norm_first=norm_first)
        self.out = nn.Linear(d_model, tgt_vocab)
        self.reset_parameters()

    def reset_parameters(self):
        """Xavier-uniform on every matrix (embeddings and output layer too), biases 0."""
        for name, p in self.named_parameters():
            if p.ndim > 1:
                nn.init.xavier_uniform_(p)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def config(self):
        return {"class": "NumberTranslator", **self.sizes}

    # ------------------------------------------------------------------ the two halves
    def encode(self, src):
        """The memory m [B, S, d] of source ids ``src`` [B, S] (PAD-padded), and the padding
        mask [B, S] (True at PAD) that keeps every query off the padding."""
        self._check_ids("src", src, self.sizes["src_vocab"])
        pad = src == words.SOURCE.pad
        # e_s = sqrt(d) E_src[x_s] + PE(s)
        e = self.pos(self.src_embed(src) * math.sqrt(self.d_model))
        # m = Encoder(e)
        m = self.transformer.encoder(e, src_key_padding_mask=pad)
        return m, pad

    def decode(self, tgt_in, memory, src_pad):
        """Logits [B, U, V] of the next target symbol after each prefix of ``tgt_in`` [B, U]."""
        self._check_ids("tgt", tgt_in, self.sizes["tgt_vocab"])
        U = tgt_in.shape[1]
        # h_u = sqrt(d) E_tgt[y_{u-1}] + PE(u)
        h = self.pos(self.tgt_embed(tgt_in) * math.sqrt(self.d_model))
        # position u sees u' <= u: -inf above the diagonal
        causal = nn.Transformer.generate_square_subsequent_mask(U, device=h.device, dtype=h.dtype)
        # z = Decoder(h, m)
        z = self.transformer.decoder(h, memory, tgt_mask=causal, tgt_is_causal=True,
                                     memory_key_padding_mask=src_pad)
        # logits_u = W_out z_u + b_out
        return self.out(z)

    def forward(self, src, tgt_in):
        memory, pad = self.encode(src)
        return self.decode(tgt_in, memory, pad)

    def loss(self, src, tgt):
        """Mean cross-entropy per target symbol (digits and EOS; PAD ignored), teacher forced:
        the decoder reads BOS y_1 .. y_{U-1} and predicts y_1 .. y_U, EOS."""
        logits = self(src, tgt[:, :-1])
        # -(1/N) sum_u log p(y_u | y_<u, x) over the non-PAD targets
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1),
                               ignore_index=words.TARGET.pad)

    def _check_ids(self, name, ids, vocab):
        if ids.ndim != 2 or ids.dtype.kind not in "iu":
            raise ValueError(f"NumberTranslator: {name} must be integer ids [B, length], got "
                             f"{ids.dtype} {list(ids.shape)}")

    # ------------------------------------------------------------------ decoding
    def _next_log_probs(self, prefix, memory, pad):
        """log p(next | prefix, x) [B, V] as float64 NumPy; PAD and BOS are never chosen."""
        logits = self.decode(prefix, memory, pad)[:, -1].float()
        logp = F.log_softmax(logits, dim=-1).cpu().numpy().astype(numpy.float64)
        logp[:, [words.TARGET.pad, words.BOS]] = -numpy.inf
        return logp

    @minigen.no_grad()
    def greedy(self, src, max_new_tokens=6):
        """The most probable symbol at each step until every row has EOS: ids [B, <= 1 + max]
        starting with BOS."""
        memory, pad = self.encode(src)
        B = src.shape[0]
        seq = numpy.full((B, 1), words.BOS, dtype=numpy.int64)
        done = numpy.zeros(B, dtype=bool)
        for _ in range(max_new_tokens):
            logp = self._next_log_probs(minigen.tensor(seq, device=src.device), memory, pad)
            # y_u = argmax_v p(v | y_<u, x); rows already finished keep emitting PAD
            nxt = numpy.where(done, words.TARGET.pad, logp.argmax(axis=1))
            seq = numpy.concatenate([seq, nxt[:, None]], axis=1)
            done |= nxt == words.EOS
            if done.all():
                break
        return seq

    @minigen.no_grad()
    def beam_search(self, src, num_beams=4, max_new_tokens=6, length_penalty=0.0):
        """Beam search: keep the ``num_beams`` best prefixes by total log-probability; a prefix
        that emits EOS is finished, scored sum log p / length^length_penalty (0: no length
        normalisation). Returns, per source row, the best finished sequence (ids with BOS and
        EOS), as a list of int lists."""
        if not isinstance(num_beams, int) or num_beams < 1:
            raise ValueError(f"beam_search: num_beams must be a positive integer, got {num_beams!r}")
        memory, pad = self.encode(src)
        B, K = src.shape[0], num_beams
        # every beam of row b reads row b's memory: repeat each row K times
        rows = minigen.arange(B, device=src.device).repeat_interleave(K)
        memory, pad = memory.index_select(0, rows), pad.index_select(0, rows)
        seqs = numpy.full((B, K, 1), words.BOS, dtype=numpy.int64)
        # start from one live beam per row (the others -inf, so the first step fills the beam)
        scores = numpy.full((B, K), -numpy.inf)
        scores[:, 0] = 0.0
        finished = [[] for _ in range(B)]
        for step in range(max_new_tokens):
            logp = self._next_log_probs(minigen.tensor(seqs.reshape(B * K, -1), device=src.device),
                                        memory, pad)
            V = logp.shape[1]
            # score(prefix + v) = score(prefix) + log p(v | prefix, x)
            cand = (scores[:, :, None] + logp.reshape(B, K, V)).reshape(B, K * V)
            order = numpy.argsort(-cand, axis=1, kind="stable")[:, :2 * K]
            new_seqs = numpy.zeros((B, K, step + 2), dtype=numpy.int64)
            new_scores = numpy.full((B, K), -numpy.inf)
            for b in range(B):
                live = 0
                for c in order[b]:
                    s = cand[b, c]
                    if not numpy.isfinite(s) or live == K:
                        break
                    k, v = divmod(int(c), V)
                    seq = numpy.append(seqs[b, k], v)
                    if v == words.EOS:
                        # finished: length counts the symbols after BOS, EOS included
                        finished[b].append((s / (len(seq) - 1) ** length_penalty, seq))
                    else:
                        new_seqs[b, live], new_scores[b, live] = seq, s
                        live += 1
            seqs, scores = new_seqs, new_scores
            # stop once every row has K finished hypotheses better than any live one can become
            if all(len(f) >= K and max(x[0] for x in f) >= scores[b].max()
                   for b, f in enumerate(finished)):
                break
        out = []
        for b in range(B):
            pool = finished[b] or [(scores[b, k], seqs[b, k]) for k in range(K)]
            out.append([int(i) for i in max(pool, key=lambda x: x[0])[1]])
        return out

    def translate(self, texts, num_beams=1, max_new_tokens=6):
        """Digits for each of ``texts`` (number words): a list of strings."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        src = self.source_ids(texts)
        was = self.training
        self.eval()
        try:
            if num_beams == 1:
                seqs = list(self.greedy(src, max_new_tokens))
            else:
                seqs = self.beam_search(src, num_beams, max_new_tokens)
        finally:
            self.train(was)
        return [words.TARGET.decode(s) for s in seqs]

    def source_ids(self, texts):
        """PAD-padded source ids [N, S] on the model's device, after checking every word."""
        known = set(words.ONES) | {t for t in words.TENS if t} | {"hundred", "thousand", "and"}
        rows = []
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise ValueError("translate: each prompt must be non-empty number words, such as "
                                 f"'four thousand three hundred and twelve'; got {text!r}")
            bad = [w for w in text.replace("-", " ").split() if w not in known]
            if bad:
                raise ValueError(f"translate: {bad} not number words; the vocabulary is "
                                 f"{sorted(known)} (tens hyphenated: 'seventy-seven')")
            rows.append(words.SOURCE.encode(text))
        S = max(map(len, rows))
        if S > self.sizes["max_len"]:
            raise ValueError(f"translate: a prompt of {S} characters is longer than the model's "
                             f"positional table ({self.sizes['max_len']})")
        ids = numpy.zeros((len(rows), S), dtype=numpy.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
        return minigen.tensor(ids, device=self.out.weight.device)

    @minigen.no_grad()
    def cross_attention(self, text, digits=None):
        """The cross-attention weights of every decoder layer while it writes ``digits`` (default:
        its own greedy answer) for ``text``: array [layers, heads, U, S] (U output steps: the
        digits and EOS, S source characters)."""
        was = self.training
        self.eval()
        try:
            src = self.source_ids([text])
            answer = self.translate(text)[0] if digits is None else digits
            tgt_in = minigen.tensor([[words.BOS] + words.TARGET.encode(answer)],
                                    device=src.device)
            layers = self.transformer.decoder.layers
            for layer in layers:
                layer.keep_cross_attention = True
            memory, pad = self.encode(src)
            self.decode(tgt_in, memory, pad)
            maps = numpy.stack([layer.cross_attention[0].cpu().numpy() for layer in layers])
        finally:
            for layer in self.transformer.decoder.layers:
                layer.keep_cross_attention, layer.cross_attention = False, None
            self.train(was)
        return maps, answer


# ----------------------------------------------------------------------------- evaluation
@minigen.no_grad()
def evaluate_translator(model, data, k=None, num_beams=4):
    """Test exact-match accuracy (greedy and beam search), and the test cross-entropy per target
    symbol (nats, EOS counted) with teacher forcing."""
    model.eval()
    loader = data.test_loader
    total_nll, total_sym, exact_greedy, exact_beam, n = 0.0, 0, 0, 0, 0
    for src, tgt in loader:
        logits = model(src, tgt[:, :-1])
        y = tgt[:, 1:]
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                              ignore_index=words.TARGET.pad, reduction="sum")
        total_nll += float(nll.item())
        total_sym += int((y != words.TARGET.pad).sum().item())
        want = [words.TARGET.decode(row) for row in tgt.cpu().numpy()]
        got = [words.TARGET.decode(row) for row in model.greedy(src)]
        exact_greedy += sum(a == b for a, b in zip(want, got))
        if num_beams > 1:
            got = [words.TARGET.decode(row) for row in model.beam_search(src, num_beams)]
            exact_beam += sum(a == b for a, b in zip(want, got))
        n += len(want)
    out = {"exact_match_greedy": exact_greedy / n,
           "test_nats_per_symbol": total_nll / total_sym}
    if num_beams > 1:
        out[f"exact_match_beam{num_beams}"] = exact_beam / n
    return out


def translator_pictures(model, run_dir, data):
    import os
    from minigen import plots
    path = os.path.join(run_dir, "cross_attention.png")
    examples = ["four thousand three hundred and twelve", "one thousand and five",
                "seven hundred and seventy-seven"]
    plots.save_cross_attention([model.cross_attention(t) for t in examples], examples, path)
    return [path]


def sample_translations(model, spec, args):
    """``minigen sample transformer --prompt "four thousand ..." [--num-beams 4]``: the digits."""
    import os
    import sys
    from minigen.io import atomic_write_bytes
    for flag in ("max_new_tokens", "top_k", "top_p", "labels", "digit", "seconds"):
        if getattr(args, flag, None) is not None:
            raise ValueError(f"--{flag.replace('_', '-')}: not used by the translator (give "
                             "--prompt and, optionally, --num-beams)")
    if args.prompt is not None:
        prompts = [p.strip() for p in args.prompt.split(",")]
    else:
        # no prompt: a few test numbers, drawn with the --seed
        test = spec.split[1]
        pick = numpy.random.default_rng(args.seed).choice(test, size=args.n or 8, replace=False)
        prompts = [words.number_words(int(n)) for n in pick]
    answers = model.translate(prompts, num_beams=args.num_beams)
    text = "".join(f"{p} -> {a}\n" for p, a in zip(prompts, answers))
    print(text, end="")
    if args.out is not None:
        if os.path.splitext(args.out)[1].lower() != ".txt":
            raise ValueError(f"--out: translations are written to a .txt file, got {args.out!r}")
        atomic_write_bytes(args.out, text.encode("utf-8"))
        print(f"(wrote {len(prompts)} translations to {args.out})", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- registry
QUICK = dict(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32)


def build_transformer(data="numbers", variant="prenorm", **options):
    """A fresh encoder-decoder for ``data`` (only ``'numbers'``); variant ``prenorm`` (the
    protocol's pre-LN) or ``postnorm`` (the paper's)."""
    if data != "numbers":
        raise ValueError(f"transformer: the encoder-decoder translates number words (data "
                         f"'numbers'), got {data!r}")
    return NumberTranslator(**dict(dict(norm_first=variant == "prenorm"), **options))


register("transformer", build_transformer, Recipe(
    data="numbers", steps=1000, batch_size=64, lr=5e-4, optimizer="adam", betas=(0.9, 0.98),
    schedule="cosine", warmup=200, variants=("prenorm", "postnorm"),
    quick=dict(steps=20, warmup=5, model_options=QUICK),
    evaluate=evaluate_translator, pictures=translator_pictures, sample=sample_translations,
    description="encoder-decoder Transformer: English number words to digits (greedy, beam search)"))
