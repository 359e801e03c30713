"""Int8 weight quantisation of Linear layers: per-output-channel absmax, weights only.

A trained Linear layer y = x W^T + b keeps W (out x in) in float32, 4 bytes a number. Most of
a GPT's parameters are such matrices, so storing them in 8 bits makes the model file about
4x smaller, and the loss barely moves: a trained weight row is a few hundred numbers of one
size, and 255 levels across its range are enough.

Per output channel o (row o of W), absmax scaling:

    s_o      = max_i |W_oi| / 127                   the row's scale (float32)
    W_q[o,i] = clamp(round(W_oi / s_o), -127, 127)  int8: the row's largest entry maps to +-127
    W_oi    ~= s_o W_q[o,i]                          error at most s_o / 2 per entry

One scale per row (not one for the whole matrix) matters: rows differ in size, and a shared
scale would spend the small rows' 8 bits on a range they never use. The range is symmetric,
-127..127 (the level -128 is left out, so that W and -W quantise alike), and a row of zeros
gets s_o = 0 and W_q = 0.

The forward never builds the float weight matrix on its own: since s_o multiplies a whole
output column,

    y_o = sum_i x_i (s_o W_q[o,i]) + b_o = s_o (x W_q^T)_o + b_o,

so ``Int8Linear`` computes the product with the integer matrix (its values cast to the input's
float dtype for the product, exact: every int8 is a float32) and scales the output columns.
The bias stays float (out numbers, nothing to save). This is weight-only quantisation: the
activations stay float. PyTorch's ``quantize_dynamic`` also quantises each input to 8 bits on
the fly, to run the product in integer arithmetic (``benchmarks/quality/int8_vs_torch.py``
compares the two on the same trained weights).

Embeddings. A GPT also holds its token and position tables, E (num x dim), a few percent of
its numbers; left in float32 they alone keep the file from shrinking 4x (3.5x with them in
float, measured on the Shakespeare GPT). A table is quantised the same way, one scale per row
(per token), and a lookup reads only its rows: E[t] ~= s_t E_q[t] (``Int8Embedding``).

``quantize_int8(model)`` swaps every ``nn.Linear`` of a model for an ``Int8Linear`` (and,
with ``embeddings=True``, the default, every ``nn.Embedding`` for an ``Int8Embedding``). Its
state dict then holds ``weight_q`` (int8) and ``weight_scale`` (float32) for each, which
``minigen.save`` stores as they are; loading means quantising a freshly built model of the same
config (any weights: they are overwritten) and ``load_state_dict``. A quantised model is for
inference: ``Int8Linear`` has no parameters (its input still gets gradients).

Weight tying. A Linear whose weight is shared with another module (GPT's head with the token
embedding when ``tie_weights=True``) cannot become int8 alone: the embedding reads the same
float matrix. ``quantize_int8`` refuses such a model by default, naming the shared layers;
``tied='skip'`` keeps those layers in float (they still share the embedding's matrix).
"""
from __future__ import annotations

import copy

from .. import creation
from ..autograd import Tensor, _wrap
from .linear import Embedding, Linear
from .module import Module

__all__ = ["Int8Linear", "Int8Embedding", "quantize_int8", "quantize_per_channel",
           "int8_linear_names"]

QMAX = 127


def quantize_per_channel(weight):
    """(W_q int8, s float32) of a 2-D float tensor ``weight`` [out, in], per output row:
    s_o = max_i |W_oi| / 127,  W_q = clamp(round(W / s_o), -127, 127)  (0 where s_o = 0)."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"quantize_per_channel: expected a Tensor, got {type(weight).__name__}")
    if weight.ndim != 2 or weight.dtype.kind != "f":
        raise ValueError(f"quantize_per_channel: expected a 2-D float weight [out, in], got shape "
                         f"{list(weight.shape)} dtype {weight.dtype}")
    xp, W = weight.xp, weight.array
    if not bool(xp.isfinite(W).all()):
        raise ValueError(f"quantize_per_channel: the weight {list(weight.shape)} holds NaN or inf; "
                         "it has no finite int8 scale")
    # s_o = max_i |W_oi| / 127
    s = (xp.abs(W).max(axis=1) / QMAX).astype(xp.float32)
    # W_q = clamp(round(W / s_o), -127, 127), rounding half to even; a zero row stays 0
    safe = xp.where(s > 0, s, 1.0).astype(W.dtype)
    W_q = xp.clip(xp.rint(W / safe[:, None]), -QMAX, QMAX).astype(xp.int8)
    return _wrap(W_q), _wrap(s)


class Int8Linear(Module):
    """y = (x W_q^T) * s + b: a Linear layer with int8 weights W_q [out, in] and one float32
    scale per output channel s [out]; the bias b [out] stays float. Build it from a trained
    layer with ``Int8Linear.from_float(linear)``."""

    def __init__(self, in_features, out_features, bias=True, device=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("weight_q", creation.zeros(out_features, in_features, dtype="int8",
                                                        device=device))
        self.register_buffer("weight_scale", creation.ones(out_features, dtype="float32", device=device))
        if bias:
            self.register_buffer("bias", creation.zeros(out_features, dtype="float32", device=device))
        else:
            self.register_buffer("bias", None)

    @classmethod
    def from_float(cls, linear):
        """The int8 twin of a trained ``nn.Linear`` (its weight quantised per output row)."""
        if not isinstance(linear, Linear):
            raise TypeError(f"Int8Linear.from_float: expected an nn.Linear, got {type(linear).__name__}")
        out_f, in_f = linear.weight.shape
        q = cls(in_f, out_f, bias=linear.bias is not None, device=linear.weight.device)
        q.weight_q, q.weight_scale = quantize_per_channel(linear.weight.detach())
        if linear.bias is not None:
            q.bias = linear.bias.detach().to("float32").clone()
        return q

    def dequantize(self):
        """W_hat = s W_q, the float weight [out, in] this layer stands for."""
        return self.weight_q.to("float32") * self.weight_scale.reshape(-1, 1)

    def forward(self, input):
        if input.dtype.kind != "f" or input.ndim == 0 or input.shape[-1] != self.in_features:
            raise RuntimeError(f"Int8Linear: expected a float input [..., {self.in_features}], got "
                               f"shape {list(input.shape)} dtype {input.dtype}")
        # x W_q^T, with the int8 values as floats of the input's dtype (exact)
        y = input @ self.weight_q.to(input.dtype).mT
        # y_o = s_o (x W_q^T)_o + b_o
        y = y * self.weight_scale.to(input.dtype)
        return y if self.bias is None else y + self.bias.to(input.dtype)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, weight=int8 per-channel")


class Int8Embedding(Module):
    """E[t] = s_t E_q[t]: an embedding table with int8 rows E_q [num, dim] and one float32
    scale per row s [num]. Build it from a trained table with ``Int8Embedding.from_float``."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, device=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.register_buffer("weight_q", creation.zeros(num_embeddings, embedding_dim, dtype="int8",
                                                        device=device))
        self.register_buffer("weight_scale", creation.ones(num_embeddings, dtype="float32", device=device))

    @classmethod
    def from_float(cls, embedding):
        """The int8 twin of a trained ``nn.Embedding`` (its table quantised row by row)."""
        if not isinstance(embedding, Embedding):
            raise TypeError(f"Int8Embedding.from_float: expected an nn.Embedding, got "
                            f"{type(embedding).__name__}")
        if getattr(embedding, "max_norm", None) is not None:
            raise ValueError("Int8Embedding: an embedding with max_norm renormalises its rows at "
                             "lookup, which int8 rows cannot do; quantise without it")
        num, dim = embedding.weight.shape
        q = cls(num, dim, getattr(embedding, "padding_idx", None), device=embedding.weight.device)
        q.weight_q, q.weight_scale = quantize_per_channel(embedding.weight.detach())
        return q

    def dequantize(self):
        """E_hat = s E_q, the float table [num, dim] this layer stands for."""
        return self.weight_q.to("float32") * self.weight_scale.reshape(-1, 1)

    def forward(self, input):
        if input.dtype.kind not in "iu":
            raise RuntimeError(f"Int8Embedding: expected integer indices, got {input.dtype}")
        # E[t] = s_t E_q[t]: only the rows looked up are turned into floats
        return self.weight_q[input].to("float32") * self.weight_scale[input].unsqueeze(-1)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}, weight=int8 per-row"


def _tied_linears(model, kinds=(Linear,)):
    """{id: name} of the layers of ``kinds`` whose weight another module also holds."""
    holders = {}
    for name, m in model.named_modules():
        for p in m._parameters.values():
            if p is not None:
                holders.setdefault(id(p), set()).add(id(m))
    return {id(m): name for name, m in model.named_modules()
            if isinstance(m, kinds) and len(holders.get(id(m.weight), ())) > 1}


def int8_linear_names(model):
    """The dotted names of a model's ``Int8Linear`` layers."""
    return [name for name, m in model.named_modules() if isinstance(m, Int8Linear)]


def quantize_int8(model, inplace=False, tied="error", embeddings=True):
    """Replace every ``nn.Linear`` of ``model`` by its ``Int8Linear`` (per-channel absmax), and
    with ``embeddings=True`` every ``nn.Embedding`` by its ``Int8Embedding`` (per row).

    Returns the quantised model: a deep copy (the float model is left as it was) unless
    ``inplace=True``, as PyTorch's ``quantize_dynamic``. ``tied``: what to do with a layer
    whose weight is shared with another module (weight tying): ``'error'`` (the default)
    raises a ValueError naming them, ``'skip'`` keeps them in float.
    """
    kinds = (Linear, Embedding) if embeddings else (Linear,)
    if not isinstance(model, Module):
        raise TypeError(f"quantize_int8: expected an nn.Module, got {type(model).__name__}")
    if tied not in ("error", "skip"):
        raise ValueError(f"quantize_int8: tied must be 'error' or 'skip', got {tied!r}")
    if not any(isinstance(m, Linear) for m in model.modules()):
        raise ValueError(f"quantize_int8: {type(model).__name__} has no nn.Linear layers to "
                         "quantise (only nn.Linear weights become int8)")
    if isinstance(model, Linear):  # a lone layer: nothing holds it, so return its twin
        return Int8Linear.from_float(model)
    shared = sorted(_tied_linears(model, kinds).values())
    if shared and tied == "error":
        raise ValueError(
            f"quantize_int8: the layer(s) {shared} share their weight with another module "
            "(weight tying, e.g. GPT's head and token embedding with tie_weights=True); int8 "
            "weights cannot be shared with a float embedding. Pass tied='skip' to keep them in "
            "float, or build the model with tie_weights=False.")
    if not inplace:
        model = copy.deepcopy(model)
    skip = set(_tied_linears(model, kinds))  # (ids in the copy)
    done = {}  # a layer registered under two names becomes one int8 layer
    for _, parent in list(model.named_modules()):
        for name, child in list(parent._modules.items()):
            if isinstance(child, kinds) and id(child) not in skip:
                if id(child) not in done:
                    make = Int8Linear if isinstance(child, Linear) else Int8Embedding
                    done[id(child)] = make.from_float(child)
                parent._modules[name] = done[id(child)]
    if not done:
        raise ValueError(f"quantize_int8: every Linear layer of {type(model).__name__} is tied "
                         f"({shared}); nothing is left to quantise")
    return model
