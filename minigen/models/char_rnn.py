"""Character-level recurrent language models: RNN, GRU and LSTM (Elman 1990; Cho et al. 2014;
Hochreiter & Schmidhuber 1997; the char-rnn of Karpathy 2015 and Graves 2013).

A recurrent network reads one character at a time and carries everything it has read in a
hidden state h_t of fixed size, so its context has no length limit:

    e_t = E[x_t]                                             embedding of the character
    h_t = cell(e_t, h_{t-1}),   h_0 = 0                      the recurrence
    p(x_{t+1} | x_<=t) = softmax(W_y h_t + b_y)              the next character

The three cells (their equations and hand-derived backward passes are in
``minigen/ops/rnn.py``; the layers are ``nn.RNN``, ``nn.GRU``, ``nn.LSTM``):

    RNN (Elman):   h_t = tanh(W_ih e_t + b_ih + W_hh h_{t-1} + b_hh)
    GRU:           r = sigma(W_ir e + W_hr h),  z = sigma(W_iz e + W_hz h)          (gates)
                   n = tanh(W_in e + r * (W_hn h))                                   (candidate)
                   h_t = (1 - z) * n + z * h_{t-1}
    LSTM:          i, f, o = sigma(.), g = tanh(.)          (each W_i. e + W_h. h + biases)
                   c_t = f * c_{t-1} + i * g                (the cell: a gated running sum)
                   h_t = o * tanh(c_t)

(biases omitted in the GRU and LSTM lines). The GRU's and LSTM's gates let the gradient flow
through many steps (the cell c_t is updated additively), which the plain RNN's repeated tanh
and W_hh products make vanish; on Shakespeare the LSTM's validation loss ends lower.

Training is backpropagation through time over windows of T characters: the loss is the mean
cross-entropy of the T next characters (``lm.py``), and its gradient flows back through the
T steps of the recurrence. Two ways to cut the text (``--variant``):

* ``windows`` (default): each batch holds windows at random offsets and starts from h_0 = 0;
  the model learns contexts of up to T characters.
* ``streams``: truncated BPTT proper. The text is cut into B parallel streams and batch k + 1
  continues batch k row by row; the last hidden state of a batch is carried, detached, into the
  next, so the state sees far past T while the gradient stops at the window's start.

Generation carries the hidden state too: the cache of ``generate`` is h (and c for the LSTM).
"""
from __future__ import annotations

import minigen
from minigen import nn

from .datasets import DATASETS
from .lm import LM_HOOKS, LanguageModel
from .registry import Recipe, register

__all__ = ["CharRNN", "build_char_rnn", "CELLS"]

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class CharRNN(LanguageModel):
    """Embedding -> ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` -> linear head.

    Args:
        vocab_size: characters in the vocabulary.
        cell: ``'rnn'`` (tanh), ``'gru'`` or ``'lstm'``.
        n_embd: embedding width; hidden_size, num_layers: of the recurrent layer.
        carry_batch: for truncated BPTT (``streams``): the batch size whose last hidden state
            is carried into the next training batch (0: every batch starts from zero). The
            carried state is a buffer, so a checkpoint holds it and a resumed run goes on
            exactly.

    Default initialisation, as PyTorch's: embedding N(0, 1), recurrent weights and biases
    U(-1/sqrt(H), 1/sqrt(H)) (both bias vectors), the head as ``nn.Linear``.
    """

    def __init__(self, vocab_size, cell="lstm", n_embd=64, hidden_size=256, num_layers=1,
                 dropout=0.0, carry_batch=0):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"CharRNN: cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.vocab_size, self.cell, self.n_embd = vocab_size, cell, n_embd
        self.hidden_size, self.num_layers, self.dropout = hidden_size, num_layers, dropout
        self.carry_batch = carry_batch
        # e_t = E[x_t]
        self.embed = nn.Embedding(vocab_size, n_embd)
        # h_t = cell(e_t, h_{t-1})
        self.rnn = CELLS[cell](n_embd, hidden_size, num_layers=num_layers, batch_first=True,
                               dropout=dropout if num_layers > 1 else 0.0)
        # logits_t = W_y h_t + b_y
        self.head = nn.Linear(hidden_size, vocab_size)
        if carry_batch:
            shape = (num_layers, carry_batch, hidden_size)
            self.register_buffer("carry_h", minigen.zeros(*shape))
            if cell == "lstm":
                self.register_buffer("carry_c", minigen.zeros(*shape))

    def config(self):
        return {"class": "CharRNN", "vocab_size": self.vocab_size, "cell": self.cell,
                "n_embd": self.n_embd, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "dropout": self.dropout,
                "carry_batch": self.carry_batch}

    def forward(self, idx, cache=None):
        """Logits ``[B, T, V]`` of the characters after each of ``idx`` [B, T], from the hidden
        state ``cache`` (None: h_0 = 0), and the state after the last one."""
        # e_t = E[x_t];  h_t = cell(e_t, h_{t-1});  logits_t = W_y h_t + b_y
        out, state = self.rnn(self.embed(idx), cache)
        return self.head(out), state

    def loss(self, x, y):
        """Mean cross-entropy of ``y``; with a carried state (``streams``), training batches
        start from the previous batch's last state, detached (truncated BPTT)."""
        if not (self.carry_batch and self.training):
            return super().loss(x, y)
        if x.shape[0] != self.carry_batch:
            raise ValueError(f"CharRNN: this model carries the state of {self.carry_batch} streams "
                             f"(truncated BPTT), but the batch holds {x.shape[0]} rows; train it "
                             f"with batch_size {self.carry_batch}")
        state = (self.carry_h, self.carry_c) if self.cell == "lstm" else self.carry_h
        logits, state = self(x, state)
        # carry h (and c) into the next batch; the gradient stops here
        if self.cell == "lstm":
            self.carry_h.array, self.carry_c.array = state[0].detach().array, state[1].detach().array
        else:
            self.carry_h.array = state.detach().array
        return nn.functional.cross_entropy(logits.reshape(-1, self.vocab_size), y.reshape(-1),
                                           ignore_index=-1)

    def reorder_cache(self, cache, index):
        # the state is [num_layers, B, H]: the batch is dimension 1
        if self.cell == "lstm":
            return tuple(s.index_select(1, index) for s in cache)
        return cache.index_select(1, index)


# ----------------------------------------------------------------------------- registry
# sizes by data set; Shakespeare's are the quality protocol's (embedding 64, one layer of 256)
SIZES = {"names": dict(n_embd=32, hidden_size=128), "shakespeare": dict(n_embd=64, hidden_size=256)}
QUICK = dict(n_embd=8, hidden_size=16)


def build_char_rnn(cell):
    def build(data="shakespeare", variant="windows", **options):
        spec = DATASETS[data]
        if spec.kind != "text":
            raise ValueError(f"{cell}: a character model needs text; {data!r} is a {spec.kind} data set")
        sizes = dict(SIZES.get(data, SIZES["shakespeare"]), **options)
        return CharRNN(spec.vocab_size, cell, **sizes)
    build.__name__ = f"build_{cell}"
    return build


def _recipe(cell, steps):
    # windows at random offsets (the protocol) or streams with the carried state (TBPTT)
    streams = dict(data_options={"streams": True}, model_options={"carry_batch": 32}, batch_size=32)
    return Recipe(
        data="shakespeare", steps=steps, batch_size=32, lr=2e-3, optimizer="adam",
        eval_every=1000, data_options={"block_size": 64}, variants=("windows", "streams"),
        per_data={"names": dict(steps=3000, lr=2e-3, data_options={"block_size": 16}, eval_every=None)},
        per_variant={"streams": streams},
        quick=dict(steps=20, eval_every=None, model_options=QUICK),
        description=f"character-level {cell.upper()} language model (embedding, nn.{CELLS[cell].__name__}, head)",
        **LM_HOOKS)


register("rnn", build_char_rnn("rnn"), _recipe("rnn", 10000))
register("gru", build_char_rnn("gru"), _recipe("gru", 7000))
register("lstm", build_char_rnn("lstm"), _recipe("lstm", 7000))
