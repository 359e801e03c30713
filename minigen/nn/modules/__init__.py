"""``torch.nn.modules``: PyTorch's file layout of its layers, for programs that import from it.

Programs write ``from torch.nn.modules.utils import _pair``, ``from torch.nn.modules.batchnorm
import _BatchNorm`` (to ask ``isinstance(m, _BatchNorm)``) or subclass ``torch.nn.modules.conv.
_ConvNd``. minigen's layers live in other files (minigen/nn/conv.py, normalization.py, ...), so
this package holds no code of its own: the table below names, for each of PyTorch's files, the
minigen classes it holds, and one module object per file is made from it (registered as
``minigen.nn.modules.<file>``, so ``import torch.nn.modules.conv`` finds it). A name minigen
lacks is left out; the class objects are minigen's own, so ``isinstance`` works both ways.
"""
from __future__ import annotations

import sys
import types
from itertools import repeat

_nn_names = sys.modules[__name__.rsplit(".", 1)[0]].__dict__  # every layer of minigen.nn


def _ntuple(n, name="parse"):
    def parse(x):
        if isinstance(x, (list, tuple)) or hasattr(x, "__iter__") and not isinstance(x, str):
            return tuple(x)
        return tuple(repeat(x, n))
    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t, n):
    """(a, b) -> (b, b, a, a) for n = 2: the padding order F.pad wants from a conv's padding."""
    return tuple(x for x in reversed(t) for _ in range(n))


def _private(module_path, name):
    mod = sys.modules.get(module_path) or __import__(module_path, fromlist=[name])
    return getattr(mod, name, None)


_LAYOUT = {
    "module": "Module",
    "activation": "ReLU ReLU6 LeakyReLU RReLU PReLU ELU SELU CELU GELU SiLU Mish Sigmoid Tanh "
                  "Hardtanh Hardsigmoid Hardswish Softplus Softsign Softmax Softmax2d Softmin "
                  "LogSoftmax LogSigmoid GLU Tanhshrink Threshold Hardshrink Softshrink "
                  "MultiheadAttention",
    "linear": "Identity Linear Bilinear LazyLinear",
    "conv": "Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d LazyConv1d "
            "LazyConv2d LazyConv3d LazyConvTranspose1d LazyConvTranspose2d LazyConvTranspose3d",
    "batchnorm": "BatchNorm1d BatchNorm2d BatchNorm3d SyncBatchNorm LazyBatchNorm1d "
                 "LazyBatchNorm2d LazyBatchNorm3d",
    "instancenorm": "InstanceNorm1d InstanceNorm2d InstanceNorm3d LazyInstanceNorm1d "
                    "LazyInstanceNorm2d LazyInstanceNorm3d",
    "normalization": "LayerNorm GroupNorm RMSNorm LocalResponseNorm CrossMapLRN2d",
    "dropout": "Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout",
    "pooling": "MaxPool1d MaxPool2d MaxPool3d AvgPool1d AvgPool2d AvgPool3d AdaptiveAvgPool1d "
               "AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d "
               "AdaptiveMaxPool3d MaxUnpool1d MaxUnpool2d MaxUnpool3d LPPool1d LPPool2d LPPool3d "
               "FractionalMaxPool2d FractionalMaxPool3d",
    "padding": "ReflectionPad1d ReflectionPad2d ReflectionPad3d ReplicationPad1d "
               "ReplicationPad2d ReplicationPad3d ZeroPad1d ZeroPad2d ZeroPad3d ConstantPad1d "
               "ConstantPad2d ConstantPad3d CircularPad1d CircularPad2d CircularPad3d",
    "container": "Container Sequential ModuleList ModuleDict ParameterList ParameterDict",
    "sparse": "Embedding EmbeddingBag",
    "rnn": "RNNBase RNN LSTM GRU RNNCellBase RNNCell LSTMCell GRUCell",
    "transformer": "Transformer TransformerEncoder TransformerDecoder TransformerEncoderLayer "
                   "TransformerDecoderLayer",
    "loss": "L1Loss MSELoss CrossEntropyLoss NLLLoss BCELoss BCEWithLogitsLoss KLDivLoss "
            "HuberLoss SmoothL1Loss SoftMarginLoss MultiLabelSoftMarginLoss CosineEmbeddingLoss "
            "HingeEmbeddingLoss MarginRankingLoss TripletMarginLoss PoissonNLLLoss "
            "GaussianNLLLoss CTCLoss MultiMarginLoss MultiLabelMarginLoss NLLLoss2d "
            "TripletMarginWithDistanceLoss",
    "distance": "PairwiseDistance CosineSimilarity",
    "pixelshuffle": "PixelShuffle PixelUnshuffle",
    "upsampling": "Upsample UpsamplingNearest2d UpsamplingBilinear2d",
    "flatten": "Flatten Unflatten",
    "fold": "Fold Unfold",
    "channelshuffle": "ChannelShuffle",
    "adaptive": "AdaptiveLogSoftmaxWithLoss",
    "linear_cross_entropy": "LinearCrossEntropyLoss",
    "linear_cross_entropy_options": "LinearCrossEntropyOptions",
    "lazy": "LazyModuleMixin",
}

# PyTorch's private base classes, where minigen has the same one
_BASES = {
    "conv": {"_ConvNd": ("minigen.nn.conv", "_ConvNd"),
             "_ConvTransposeNd": ("minigen.nn.conv", "_ConvTranspose")},
    "batchnorm": {"_BatchNorm": ("minigen.nn.normalization", "_BatchNorm"),
                  "_NormBase": ("minigen.nn.normalization", "_BatchNorm")},
    "instancenorm": {"_InstanceNorm": ("minigen.nn.normalization", "_InstanceNorm")},
    "loss": {"_Loss": ("minigen.nn.loss", "_Loss"),
             "_WeightedLoss": ("minigen.nn.loss", "_WeightedLoss")},
    "pooling": {"_MaxPoolNd": ("minigen.nn.pooling", "_MaxPoolNd")},
    "dropout": {"_DropoutNd": ("minigen.nn.linear", "_DropoutNd")},
}


def _make(name):
    mod = types.ModuleType(f"{__name__}.{name}", f"torch.nn.modules.{name}, in minigen's layers")
    for cls in _LAYOUT.get(name, "").split():
        if cls in _nn_names:
            setattr(mod, cls, _nn_names[cls])
    for alias, (path, attr) in _BASES.get(name, {}).items():
        obj = _private(path, attr)
        if obj is not None:
            setattr(mod, alias, obj)
    return mod


utils = types.ModuleType(f"{__name__}.utils", "torch.nn.modules.utils: tuple helpers")
for _n, _f in (("_ntuple", _ntuple), ("_single", _single), ("_pair", _pair),
               ("_triple", _triple), ("_quadruple", _quadruple),
               ("_reverse_repeat_tuple", _reverse_repeat_tuple)):
    setattr(utils, _n, _f)
sys.modules[utils.__name__] = utils

for _name in _LAYOUT:
    _m = _make(_name)
    globals()[_name] = _m
    sys.modules[_m.__name__] = _m
    for _cls in _LAYOUT[_name].split():  # the package itself holds every layer, as PyTorch's
        if hasattr(_m, _cls):
            globals()[_cls] = getattr(_m, _cls)
del _name, _m, _cls, _n, _f
