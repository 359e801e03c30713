"""The language models' quality protocol, the same on both sides: minigen and its PyTorch twin.

Data, built here from the package's raw files exactly as issue #12 states it (and checked
against minigen's own data sets):

* names: the first field of each line of dist.female.first and dist.male.first, lowercased,
  set union, ``sorted()``, reordered by ``numpy.random.default_rng(0).permutation(N)``;
  train = the first ``N*9//10``, test = the rest (5,163 names: 4,646 / 517). '.' = 0 is the
  start and the end token: x = [0, c_1..c_n, pad], y = [c_1..c_n, 0, ignored], block 16.
  Test loss = total cross-entropy over the 3,676 test targets / 3,676.
* shakespeare: the ten ``*_gut.txt`` files, UTF-8, concatenated in sorted file-name order with
  no separator (1,252,640 characters, 80 symbols); train = the first ``N*9//10`` characters.
  Training batches: 32 windows of 64 at uniform random offsets in train. Validation: windows
  j = 0..1599 starting at validation character 64 j (x = 64 characters, y = x shifted by one),
  zero initial state, the mean over all 102,400 targets.

Both libraries see the same batches (the offsets or name indices are drawn with NumPy from the
seed, before training), the same model sizes, initialisation scheme, optimizer and steps; the
initial weights come from each library's own generator, so the comparison is over seeds.
Each run is pinned to one thread (BLAS and PyTorch's intra-op pool), so two runs can share
a 2-core machine.

The models (``MODELS``) and their protocols:

=============  ==========  ===============================================================
name           data        model and optimisation
=============  ==========  ===============================================================
lstm           shakespeare embedding 64, LSTM 256 (two bias vectors, U(+-1/16)), linear head;
                           Adam 2e-3, no clipping, 7,000 steps          (issue #12's bar)
rnn            shakespeare the same with a tanh RNN, 10,000 steps             (issue #12's bar)
gru            shakespeare the same with a GRU, 3,000 steps                   (our protocol)
gpt_names      names       4 layers, d 64, 4 heads, block 16, pre-LN, tanh GELU, head without
                           bias, no dropout, the layers' PyTorch default init (Linear
                           U(+-1/sqrt(fan_in)), Embedding N(0, 1)); AdamW 5e-4 (0.9, 0.99),
                           weight decay 0.01 on all parameters; batch 32 names drawn with
                           replacement; 2,000 steps                       (issue #12's bar)
gpt            shakespeare 4 layers, d 128, 4 heads, block 64, GPT-2 init (N(0, 0.02), residual
                           projections / sqrt(2L)), otherwise as gpt_names; AdamW
                           1e-3 (0.9, 0.99), wd 0.01; 2,500 steps; the 4-gram (Witten-Bell)
                           count model on the same split is the baseline   (our protocol)
mlp_names      names       Bengio MLP: context 3, embedding 16, tanh 256; Adam 2e-3, batch
                           32 names with replacement, 3,000 steps         (our protocol)
rnn_names      names       embedding 32, RNN 128; Adam 2e-3, as mlp_names (our protocol)
gru_names      names       embedding 32, GRU 128; as rnn_names            (our protocol)
lstm_names     names       embedding 32, LSTM 128; as rnn_names           (our protocol)
bigram_names   names       counts with add-one smoothing (no training; both sides count)
=============  ==========  ===============================================================
"""
from __future__ import annotations

import glob
import json
import math
import os
import platform
import statistics
import sys
import tarfile
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import runner  # noqa: E402
from runner import RESULTS  # noqa: E402


# ----------------------------------------------------------------------------- data
def protocol_names():
    """(train, test) names, built from the raw files as the protocol states."""
    from minigen.data import _files

    names = set()
    for sex in ("female", "male"):
        for line in _files.read_bytes(f"dist.{sex}.first.gz").decode("ascii").splitlines():
            if line.strip():
                names.add(line.split()[0].lower())
    names = sorted(names)
    perm = numpy.random.default_rng(0).permutation(len(names))
    cut = len(names) * 9 // 10
    return [names[i] for i in perm[:cut]], [names[i] for i in perm[cut:]]


def protocol_shakespeare():
    """The corpus (the ten works in sorted file-name order, no separator) as a string."""
    from minigen.data import _files
    import io

    with tarfile.open(fileobj=io.BytesIO(_files.read_bytes("shakespeare.tar.gz")), mode="r:") as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: os.path.basename(m.name))
        return "".join(tar.extractfile(m).read().decode("utf-8") for m in members)


def names_arrays(names, stoi, T=16):
    x = numpy.zeros((len(names), T), numpy.int64)
    y = numpy.full((len(names), T), -1, numpy.int64)
    for i, name in enumerate(names):
        ids = [stoi[c] for c in name]
        x[i, 1:len(ids) + 1] = ids
        y[i, :len(ids)] = ids
        y[i, len(ids)] = 0
    return x, y


class NamesTask:
    name = "names"

    def __init__(self):
        train, test = protocol_names()
        assert (len(train), len(test)) == (4646, 517)
        chars = sorted(set("".join(train + test)))
        self.itos = ["."] + chars
        self.stoi = {c: i for i, c in enumerate(self.itos)}
        self.vocab_size = len(self.itos)
        self.train_x, self.train_y = names_arrays(train, self.stoi)
        self.test_x, self.test_y = names_arrays(test, self.stoi)
        assert int((self.test_y >= 0).sum()) == 3676
        # the same as minigen's own data set
        from minigen.models.datasets import DATASETS
        ds = DATASETS["names"].datasets()[1]
        assert (ds.x == self.test_x).all() and (ds.y == self.test_y).all()

    def batches(self, seed, steps, batch_size=32):
        rng = numpy.random.default_rng([seed, 12])
        idx = rng.integers(0, len(self.train_x), size=(steps, batch_size))
        return lambda s: (self.train_x[idx[s]], self.train_y[idx[s]])

    def test_batches(self, size=517):
        for s in range(0, len(self.test_x), size):
            yield self.test_x[s:s + size], self.test_y[s:s + size]

    def count_corpus(self):
        return self.train_x, self.train_y


class ShakespeareTask:
    name = "shakespeare"

    def __init__(self, T=64):
        text = protocol_shakespeare()
        assert len(text) == 1252640
        self.itos = sorted(set(text))
        assert len(self.itos) == 80
        self.stoi = {c: i for i, c in enumerate(self.itos)}
        self.vocab_size = 80
        ids = numpy.frombuffer(text.encode("ascii"), dtype=numpy.uint8)
        lut = numpy.zeros(128, numpy.int64)
        for c, i in self.stoi.items():
            lut[ord(c)] = i
        self.ids = lut[ids]
        cut = len(self.ids) * 9 // 10
        self.train, self.val = self.ids[:cut], self.ids[cut:]
        self.T = T
        from minigen.models.datasets import DATASETS
        assert (DATASETS["shakespeare"].ids == self.ids).all()

    def batches(self, seed, steps, batch_size=32):
        rng = numpy.random.default_rng([seed, 13])
        T = self.T
        offsets = rng.integers(0, len(self.train) - T, size=(steps, batch_size))
        ar = numpy.arange(T)

        def batch(s):
            pos = offsets[s][:, None] + ar
            return self.train[pos], self.train[pos + 1]
        return batch

    def test_batches(self, size=400):
        T = self.T
        n = 1600 * 64 // T
        starts = numpy.arange(n) * T
        for s in range(0, n, size):
            pos = starts[s:s + size, None] + numpy.arange(T)
            yield self.val[pos], self.val[pos + 1]

    def count_corpus(self):
        n = (len(self.train) - 1) // self.T
        pos = numpy.arange(n)[:, None] * self.T + numpy.arange(self.T)
        return self.train[pos], self.train[pos + 1]


# ----------------------------------------------------------------------------- models
MODELS = {
    "lstm": dict(task="shakespeare", kind="rnn", cell="lstm", n_embd=64, hidden=256, steps=7000, lr=2e-3),
    "rnn": dict(task="shakespeare", kind="rnn", cell="rnn", n_embd=64, hidden=256, steps=10000, lr=2e-3),
    "gru": dict(task="shakespeare", kind="rnn", cell="gru", n_embd=64, hidden=256, steps=3000, lr=2e-3),
    "gpt_names": dict(task="names", kind="gpt", n_layer=4, n_head=4, n_embd=64, block=16, steps=2000,
                      lr=5e-4, init="torch"),
    "gpt": dict(task="shakespeare", kind="gpt", n_layer=4, n_head=4, n_embd=128, block=64, steps=2500,
                lr=1e-3),
    "mlp_names": dict(task="names", kind="mlp", context=3, n_embd=16, hidden=256, steps=3000, lr=2e-3),
    "rnn_names": dict(task="names", kind="rnn", cell="rnn", n_embd=32, hidden=128, steps=3000, lr=2e-3),
    "gru_names": dict(task="names", kind="rnn", cell="gru", n_embd=32, hidden=128, steps=3000, lr=2e-3),
    "lstm_names": dict(task="names", kind="rnn", cell="lstm", n_embd=32, hidden=128, steps=3000, lr=2e-3),
    "bigram_names": dict(task="names", kind="ngram", n=2, smoothing="add-one", steps=0),
    "fourgram": dict(task="shakespeare", kind="ngram", n=4, smoothing="witten-bell", steps=0),
}


def minigen_model(spec, V):
    from minigen.models.char_rnn import CharRNN
    from minigen.models.gpt import GPT
    from minigen.models.mlp_lm import MLPLanguageModel
    from minigen.models.ngram import NGram

    k = spec["kind"]
    if k == "rnn":
        return CharRNN(V, spec["cell"], n_embd=spec["n_embd"], hidden_size=spec["hidden"])
    if k == "gpt":
        return GPT(V, spec["block"], n_layer=spec["n_layer"], n_head=spec["n_head"], n_embd=spec["n_embd"],
                   init=spec.get("init", "gpt2"))
    if k == "mlp":
        return MLPLanguageModel(V, context=spec["context"], n_embd=spec["n_embd"], hidden=spec["hidden"])
    return NGram(V, n=spec["n"], smoothing=spec["smoothing"], pad_id=0 if spec["task"] == "names" else None)


def torch_model(spec, V):
    """The PyTorch twin of the minigen model (``minigen/bench/torch_twins.py``)."""
    from minigen.bench.torch_twins import torch_twin
    return torch_twin(minigen_model(spec, V).config())


# ----------------------------------------------------------------------------- one run
def run(model_name, lib, seed, steps=None, log_every=500):
    """Train and evaluate one (model, library, seed); returns the result dict. ``steps``
    overrides the protocol's (a smoke test)."""
    spec = dict(MODELS[model_name])
    if steps is not None and spec["steps"]:
        spec["steps"] = steps
    task = NamesTask() if spec["task"] == "names" else ShakespeareTask(spec.get("block", 64))
    V = task.vocab_size
    t0 = time.perf_counter()
    if spec["kind"] == "ngram":
        total, count = _ngram(spec, task, lib)
        return _result(model_name, lib, seed, total, count, time.perf_counter() - t0, 0, [])
    batch = task.batches(seed, spec["steps"])
    curve = []
    if lib == "minigen":
        import minigen
        from minigen import optim
        from minigen.nn import functional as F
        minigen.manual_seed(seed)
        model = minigen_model(spec, V)
        tensor, ce = minigen.tensor, F.cross_entropy
        no_grad = minigen.no_grad
    else:
        import torch
        import torch.nn.functional as F
        torch.manual_seed(seed)
        model = torch_model(spec, V)
        optim = torch.optim
        tensor, ce, no_grad = torch.tensor, F.cross_entropy, torch.no_grad
    if spec["kind"] == "gpt":
        opt = optim.AdamW(model.parameters(), lr=spec["lr"], betas=(0.9, 0.99), weight_decay=0.01)
    else:
        opt = optim.Adam(model.parameters(), lr=spec["lr"])

    def logits_of(x):
        out = model(tensor(x))
        return out[0] if isinstance(out, tuple) else out

    model.train()
    t_train = time.perf_counter()
    running = 0.0
    for s in range(spec["steps"]):
        x, y = batch(s)
        opt.zero_grad()
        logits = logits_of(x)
        loss = ce(logits.reshape(-1, V), tensor(y).reshape(-1), ignore_index=-1)
        loss.backward()
        opt.step()
        running += loss.item()
        if (s + 1) % log_every == 0:
            curve.append((s + 1, running / log_every))
            print(f"  {model_name} {lib} seed {seed}: step {s + 1} train loss {running / log_every:.4f}",
                  flush=True)
            running = 0.0
    train_s = time.perf_counter() - t_train
    model.eval()
    total, count = 0.0, 0
    with no_grad():
        for x, y in task.test_batches():
            logits = logits_of(x)
            total += float(ce(logits.reshape(-1, V), tensor(y).reshape(-1), ignore_index=-1,
                              reduction="sum").item())
            count += int((y >= 0).sum())
    return _result(model_name, lib, seed, total, count, train_s, spec["steps"], curve)


def _ngram(spec, task, lib):
    """Counts in minigen (the NGram model) or in PyTorch (bincount, for the bigram only)."""
    x, y = task.count_corpus()
    if lib == "torch" and spec["n"] == 2:
        import torch
        V = task.vocab_size
        keep = y >= 0
        pair = torch.tensor(x[keep] * V + y[keep])
        C = torch.bincount(pair, minlength=V * V).reshape(V, V).double()
        P = (C + 1) / (C.sum(1, keepdim=True) + V)          # add-one
        tx, ty = numpy.concatenate([a for a, _ in task.test_batches()]), \
            numpy.concatenate([b for _, b in task.test_batches()])
        m = ty >= 0
        nll = -torch.log(P[torch.tensor(tx[m]), torch.tensor(ty[m])])
        return float(nll.sum()), int(m.sum())
    if lib == "torch":
        return float("nan"), 1          # the 4-gram baseline has no PyTorch twin: no gradient in it
    import minigen
    model = minigen_model(spec, task.vocab_size)
    for s in range(0, len(x), 1024):
        model.add_counts(minigen.tensor(x[s:s + 1024]), minigen.tensor(y[s:s + 1024]))
    total, count = 0.0, 0
    for tx, ty in task.test_batches():
        s, n = model.nll(minigen.tensor(tx), minigen.tensor(ty))
        total, count = total + s, count + n
    return total, count


def _result(model_name, lib, seed, total, count, seconds, steps, curve):
    nats = total / count
    import minigen
    try:
        import torch
        tv = torch.__version__
    except ImportError:
        tv = None
    return {"model": model_name, "lib": lib, "seed": seed, "test_nats_per_char": nats,
            "test_bits_per_char": nats / math.log(2), "test_perplexity": math.exp(nats) if nats == nats else None,
            "test_targets": count, "train_seconds": seconds, "steps": steps,
            "ms_per_step": 1000 * seconds / steps if steps else None, "curve": curve,
            "protocol": MODELS[model_name], "minigen": minigen.__version__, "torch": tv,
            "machine": f"{platform.machine()} {os.cpu_count()} CPUs, 1 thread", "date": time.strftime("%Y-%m-%d")}


# ----------------------------------------------------------------------------- the table
def summary(model_names):
    """{model: {lib: (mean, std, [values], ms_per_step)}} from the result files."""
    out = {}
    for m in model_names:
        out[m] = {}
        for lib in ("minigen", "torch"):
            rs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(RESULTS, f"{m}-{lib}-seed*.json")))]
            vals = [r["test_nats_per_char"] for r in rs if r["test_nats_per_char"] == r["test_nats_per_char"]]
            if vals:
                ms = [r["ms_per_step"] for r in rs if r["ms_per_step"]]
                out[m][lib] = (statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0,
                               vals, statistics.median(ms) if ms else None)
    return out


def table(model_names, bars=None):
    bars = bars or {}
    rows = ["| model | minigen (nats/char) | PyTorch 2.13 CPU | minigen / PyTorch | bar | seeds |",
            "|---|---|---|---|---|---|"]
    for m, libs in summary(model_names).items():
        if "minigen" not in libs:
            continue
        mg = libs["minigen"]
        th = libs.get("torch")
        ratio = f"{mg[0] / th[0]:.3f}" if th else "-"
        fmt = lambda r: f"{r[0]:.4f} ± {r[1]:.4f}" if len(r[2]) > 1 else f"{r[0]:.4f}"  # noqa: E731
        rows.append(f"| {m} | {fmt(mg)} | {fmt(th) if th else '-'} | {ratio} | {bars.get(m, '')} | "
                    f"{len(mg[2])} |")
    return "\n".join(rows)


def main(model_names, bars=None, argv=None):
    def describe(r):
        return f"test {r['test_nats_per_char']:.4f} nats/char, {r['ms_per_step'] or 0:.1f} ms/step"
    runner.main(model_names, lambda m, lib, seed, steps=None: run(m, lib, seed, steps=steps,
                                                                   log_every=max(1, steps // 2) if steps else 500),
                lambda models: table(models, bars), describe, __doc__, argv, chart=chart)


def chart(model_names, path):
    """Test loss of each model, minigen beside PyTorch (mean and spread over the seeds)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summary(model_names)
    names = [m for m in model_names if "minigen" in s.get(m, {})]
    x = numpy.arange(len(names))
    fig, ax = plt.subplots(figsize=(1.3 * len(names) + 2, 3.8))
    for off, lib, color in ((-0.2, "minigen", "tab:blue"), (0.2, "torch", "tab:orange")):
        vals = [s[m].get(lib, (numpy.nan, 0.0)) for m in names]
        ax.bar(x + off, [v[0] for v in vals], 0.38, yerr=[v[1] for v in vals], color=color,
               label="minigen" if lib == "minigen" else "PyTorch 2.13", capsize=3)
        for xi, v in zip(x + off, vals):
            if v[0] == v[0]:
                ax.text(xi, v[0] + 0.01, f"{v[0]:.3f}", ha="center", va="bottom", fontsize=7, rotation=90)
    ax.set_xticks(x)
    ax.set_xticklabels([m.replace("_names", "") for m in names])
    lo = min(s[m]["minigen"][0] for m in names)
    ax.set_ylim(lo - 0.15, max(s[m]["minigen"][0] for m in names) + 0.15)
    ax.set_ylabel("test loss, nats per character")
    ax.legend(loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
