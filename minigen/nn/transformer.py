"""The Transformer's layers (Vaswani et al. 2017, "Attention Is All You Need"), with PyTorch's
names, signatures, parameter names and masks: ``TransformerEncoderLayer``,
``TransformerDecoderLayer``, ``TransformerEncoder``, ``TransformerDecoder`` and ``Transformer``.

An encoder layer turns a sequence x (S positions of width d_model) into another of the same
shape; a decoder layer does the same for the target y while also reading the encoder's output
m (the "memory"):

    encoder layer                          decoder layer
    x <- x + SelfAttn(x)                   y <- y + SelfAttn(y)       (masked: y_t sees y_<=t)
    x <- x + FFN(x)                        y <- y + CrossAttn(y, m)   (queries from y, keys and
                                                                      values from m)
                                           y <- y + FFN(y)

    FFN(x) = W_2 act(W_1 x + b_1) + b_2    (act: ReLU in the paper, GELU in BERT/ViT/GPT)

Each residual branch comes with a LayerNorm, placed one of two ways:

    post-LN (the paper, norm_first=False):   x <- LN(x + Branch(x))
    pre-LN  (GPT-2, ViT, norm_first=True):   x <- x + Branch(LN(x))

Pre-LN keeps an un-normalised path from input to output (the sum of the branches), which is why
deep pre-LN stacks train without a learning-rate warm-up; a pre-LN stack then needs one LayerNorm
after its last layer (``norm=`` of the stacks, always present in ``Transformer``).

Masks are ``MultiheadAttention``'s: in a bool mask True means "may NOT attend", a float mask is
added to the scores (``-inf`` blocks). ``*_key_padding_mask`` (N, S) marks padding positions of a
batch; ``tgt_mask`` (T, T) is usually ``Transformer.generate_square_subsequent_mask(T)``.
Dropout (rate ``dropout``) follows PyTorch's placement: on the attention probabilities, after
each branch, and between the FFN's two layers.

Where minigen differs from PyTorch: PyTorch's encoder has a "fast path" in eval mode without
autograd that returns exact zeros at padded positions (nested tensors); minigen always runs the
plain computation, so padded positions hold whatever the layers compute there (nothing reads
them when the padding mask is given). A query row whose keys are all masked gets zeros where
PyTorch gives NaN.
"""
from __future__ import annotations

import copy
import math

from .. import backend as B
from ..autograd import Tensor
from ..creation import full
from ..ops import relu
from ..ops.activation import gelu
from .attention import MultiheadAttention
from .container import ModuleList
from .linear import Dropout, Linear
from .module import Module
from .normalization import LayerNorm

__all__ = ["TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerDecoder", "Transformer"]


def _activation(op, activation):
    """``'relu'``, ``'gelu'`` (exact) or a callable, as PyTorch accepts."""
    if activation == "relu":
        return relu
    if activation == "gelu":
        return gelu
    if callable(activation):
        return activation
    raise RuntimeError(f"{op}: activation should be relu/gelu or a callable, not {activation!r}")


def _check_sizes(op, d_model, nhead, dim_feedforward):
    for name, v in (("d_model", d_model), ("nhead", nhead), ("dim_feedforward", dim_feedforward)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{op}: {name} must be a positive integer, got {v!r}")
    if d_model % nhead:
        raise ValueError(f"{op}: d_model ({d_model}) must be divisible by nhead ({nhead})")


def _check_input(op, name, x, d_model, batch_first):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(x).__name__}")
    layout = "(N, S, E)" if batch_first else "(S, N, E)"
    if x.ndim not in (2, 3) or x.shape[-1] != d_model:
        raise RuntimeError(f"{op}: expected {name} of shape {layout} or (S, E) with E = d_model "
                           f"= {d_model}, got {list(x.shape)}")


def _build_layer(layer, op, attentions, n_norms, d_model, nhead, dim_feedforward, dropout,
                 activation, layer_norm_eps, batch_first, norm_first, bias, fk):
    """The parts of an encoder or decoder layer, registered in PyTorch's order (so state dicts
    and ``parameters()`` line up): the attentions, the FFN, the LayerNorms, the dropouts."""
    _check_sizes(op, d_model, nhead, dim_feedforward)
    for name in attentions:
        setattr(layer, name, MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                batch_first=batch_first, **fk))
    # FFN(x) = W_2 act(W_1 x + b_1) + b_2
    layer.linear1 = Linear(d_model, dim_feedforward, bias=bias, **fk)
    layer.dropout = Dropout(dropout)
    layer.linear2 = Linear(dim_feedforward, d_model, bias=bias, **fk)
    layer.norm_first = norm_first
    for i in range(1, n_norms + 1):
        setattr(layer, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk))
    for i in range(1, n_norms + 1):
        setattr(layer, f"dropout{i}", Dropout(dropout))
    layer.activation = _activation(op, activation)
    layer.d_model, layer.batch_first, layer._ff_dropout = d_model, batch_first, f"dropout{n_norms}"


def _ff_block(self, x):
    # dropout(W_2 dropout(act(W_1 x + b_1)) + b_2), the last dropout the layer's own
    x = self.linear2(self.dropout(self.activation(self.linear1(x))))
    return getattr(self, self._ff_dropout)(x)


class TransformerEncoderLayer(Module):
    """One encoder layer: self-attention then the feed-forward net, each with a residual
    connection and a LayerNorm (post-LN, or pre-LN with ``norm_first=True``).

    forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False) -> same shape as src
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        _build_layer(self, "TransformerEncoderLayer", ("self_attn",), 2, d_model, nhead,
                     dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                     norm_first, bias, dict(device=device, dtype=dtype))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        _check_input("TransformerEncoderLayer", "src", src, self.d_model, self.batch_first)
        x = src
        if self.norm_first:
            # x <- x + SelfAttn(LN_1(x));  x <- x + FFN(LN_2(x))
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            # x <- LN_1(x + SelfAttn(x));  x <- LN_2(x + FFN(x))
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    _ff_block = _ff_block


class TransformerDecoderLayer(Module):
    """One decoder layer: masked self-attention over the target, cross-attention from the
    target (queries) to the memory (keys and values), then the feed-forward net; each with a
    residual connection and a LayerNorm.

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
            memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        _build_layer(self, "TransformerDecoderLayer", ("self_attn", "multihead_attn"), 3,
                     d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                     batch_first, norm_first, bias, dict(device=device, dtype=dtype))
        # the last cross-attention weights (N, heads, T, S), kept when ``keep_cross_attention``
        self.keep_cross_attention, self.cross_attention = False, None

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        op = "TransformerDecoderLayer"
        _check_input(op, "tgt", tgt, self.d_model, self.batch_first)
        _check_input(op, "memory", memory, self.d_model, self.batch_first)
        y = tgt
        if self.norm_first:
            # y <- y + SelfAttn(LN_1(y));  y <- y + CrossAttn(LN_2(y), m);  y <- y + FFN(LN_3(y))
            y = y + self._sa_block(self.norm1(y), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            y = y + self._mha_block(self.norm2(y), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            y = y + self._ff_block(self.norm3(y))
        else:
            # y <- LN_1(y + SelfAttn(y));  y <- LN_2(y + CrossAttn(y, m));  y <- LN_3(y + FFN(y))
            y = self.norm1(y + self._sa_block(y, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            y = self.norm2(y + self._mha_block(y, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            y = self.norm3(y + self._ff_block(y))
        return y

    def _sa_block(self, y, attn_mask, key_padding_mask, is_causal):
        y = self.self_attn(y, y, y, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(y)

    def _mha_block(self, y, memory, attn_mask, key_padding_mask, is_causal):
        # queries from the target, keys and values from the memory
        y, w = self.multihead_attn(y, memory, memory, attn_mask=attn_mask,
                                   key_padding_mask=key_padding_mask, is_causal=is_causal,
                                   need_weights=self.keep_cross_attention,
                                   average_attn_weights=False)
        self.cross_attention = None if w is None else w.detach()
        return self.dropout2(y)

    _ff_block = _ff_block


def _clones(op, layer, num_layers, kind):
    if not isinstance(layer, kind):
        raise TypeError(f"{op}: expected a {kind.__name__} to copy, got {type(layer).__name__}")
    if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 0:
        raise ValueError(f"{op}: num_layers must be a non-negative integer, got {num_layers!r}")
    # each layer its own deep copy: same initial weights, trained separately (as PyTorch does)
    return ModuleList(copy.deepcopy(layer) for _ in range(num_layers))


def _causal_hint(mask, is_causal, size):
    """PyTorch's rule for ``is_causal=None``: causal exactly when the mask is the square
    subsequent mask of this size."""
    if is_causal is not None:
        return bool(is_causal)
    if mask is None or tuple(mask.shape) != (size, size) or mask.dtype.kind not in "bf":
        return False
    causal = Transformer.generate_square_subsequent_mask(size, device=mask.device,
                                                         dtype=mask.dtype)
    if mask.dtype.kind == "b":
        causal = causal.isinf()
    return bool((mask == causal).all().item())


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` applied in turn, then ``norm`` if given.

    forward(src, mask=None, src_key_padding_mask=None, is_causal=None)
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = _clones("TransformerEncoder", encoder_layer, num_layers,
                              TransformerEncoderLayer)
        self.num_layers = num_layers
        self.norm = norm
        # accepted for PyTorch's signature; minigen has no nested-tensor fast path
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        seq_dim = 1 if self.layers and self.layers[0].batch_first and src.ndim == 3 else 0
        is_causal = _causal_hint(mask, is_causal, src.shape[seq_dim])
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=is_causal)
        return self.norm(x) if self.norm is not None else x


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` applied in turn, then ``norm`` if given.

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
            memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones("TransformerDecoder", decoder_layer, num_layers,
                              TransformerDecoderLayer)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        seq_dim = 1 if self.layers and self.layers[0].batch_first and tgt.ndim == 3 else 0
        tgt_is_causal = _causal_hint(tgt_mask, tgt_is_causal, tgt.shape[seq_dim])
        y = tgt
        for layer in self.layers:
            y = layer(y, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return self.norm(y) if self.norm is not None else y


class Transformer(Module):
    """The encoder-decoder Transformer: ``encoder`` (``num_encoder_layers`` layers and a final
    LayerNorm) reads the source, ``decoder`` (``num_decoder_layers`` layers and a final
    LayerNorm) reads the target and the encoder's output. Embeddings, positions and the output
    projection are the user's (as in PyTorch); every matrix is Xavier-uniform initialised.

    forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
            tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None,
            tgt_is_causal=None, memory_is_causal=False) -> (T, N, E), or (N, T, E) batch_first
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        fk = dict(device=device, dtype=dtype)
        args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*args, **fk), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*args, **fk), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _reset_parameters(self):
        """Xavier-uniform on every parameter with more than one dimension (PyTorch's rule)."""
        from . import init
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        op = "Transformer"
        for name, x in (("src", src), ("tgt", tgt)):
            _check_input(op, name, x, self.d_model, self.batch_first)
        if src.ndim != tgt.ndim:
            raise RuntimeError(f"{op}: src and tgt must both be batched (3-D) or both unbatched "
                               f"(2-D), got src {list(src.shape)} and tgt {list(tgt.shape)}")
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise RuntimeError(f"{op}: the batch number of src and tgt must be equal, got src "
                               f"{list(src.shape)} and tgt {list(tgt.shape)} (batch_first="
                               f"{self.batch_first})")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The (sz, sz) float mask that lets position i see positions j <= i: 0 on and below
        the diagonal, -inf above it (added to the attention scores)."""
        if not isinstance(sz, int) or isinstance(sz, bool) or sz < 0:
            raise ValueError(f"generate_square_subsequent_mask: sz must be a non-negative "
                             f"integer, got {sz!r}")
        dtype = B.as_dtype(dtype) or B.get_default_dtype()
        return full((sz, sz), -math.inf, dtype=dtype, device=device).triu(diagonal=1)
