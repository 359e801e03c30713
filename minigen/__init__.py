"""minigen: a from-scratch teaching engine for generative models.

A small reverse-mode autograd library on NumPy (CPU) or CuPy (GPU), with PyTorch's names.
"""
__version__ = "0.1.0"

from . import threads
threads.configure()  # before NumPy loads OpenBLAS: idle BLAS workers sleep (minigen/threads.py)
from .threads import set_num_threads, get_num_threads  # noqa: E402
from . import hostmem  # noqa: E402
hostmem.configure()  # keep freed host memory for reuse (see minigen/hostmem.py)
from .hostmem import release_host_memory  # noqa: E402
from . import backend  # noqa: E402
from .backend import (
    float32, float64, float16, int64, int32, int8, uint8, bool_ as bool, device, synchronize,
    get_default_dtype, set_default_dtype, get_rng_state, set_rng_state,
)
from .autograd import (
    Tensor, Function, no_grad, enable_grad, set_grad_enabled, is_grad_enabled, grad,
)
from .creation import (
    tensor, as_tensor, from_numpy, zeros, ones, empty, full, zeros_like, ones_like, empty_like,
    full_like, arange, linspace, eye, manual_seed, seed, rand, randn, randint, randperm,
    rand_like, randn_like, randint_like, normal,
)
from . import cuda
from . import autograd
from .ops import *  # noqa: F401,F403  (the differentiable ops, and Tensor's methods)
from .ops import __all__ as _ops_all
from .ops.shape import (memory_format, contiguous_format, channels_last,  # noqa: E402,F401
                        channels_last_3d, preserve_format)

float = float32
double = float64
complex64 = cfloat = backend.complex64
complex128 = cdouble = backend.complex128
long = int64
half = float16
from .gradcheck import gradcheck, gradgradcheck, GradcheckError
from . import nn, optim  # noqa: E402
from .io import save, load  # noqa: E402
from . import utils, data, distributions  # noqa: E402,F401
from . import backends, accelerator, xpu, amp, sparse  # noqa: E402,F401  (hardware questions, answered truthfully)
from .legacy import *  # noqa: E402,F401,F403  (FloatTensor, Size, Variable, compile, ...)
from .amp import autocast  # noqa: E402,F401
from .sparse import sparse_coo_tensor  # noqa: E402,F401
from .ops.extras_torch import *  # noqa: E402,F401,F403  (diff, kron, quantile, searchsorted, ...)
from . import hub, jit, onnx, distributed  # noqa: E402,F401  (stand-ins: no downloads, no TorchScript, no ONNX, one process)
from . import special, linalg, fft  # noqa: E402,F401  (linalg: ops/linalg.py's products + norms, inv, det)
# torch.stft / torch.istft and the signal windows (torch.fft is minigen/fft.py)
from .fft import (stft, istft, hann_window, hamming_window, blackman_window,  # noqa: E402,F401
                  bartlett_window, kaiser_window)
from .linalg import inv as inverse, det, slogdet, lu_unpack, _lu_deprecated as lu  # noqa: E402,F401
from .ops.extras import normal, addcmul, addcdiv, index_put  # noqa: E402,F401  (normal with tensor mean/std)
from .linalg_decomp import TORCH_LEVEL as _tl  # noqa: E402  (torch.svd, torch.qr, torch.pinverse, ...)
globals().update({_k: _v for _k, _v in _tl.items() if _k not in globals()})
from .ops.extras_torch_numeric import *  # noqa: E402,F401,F403  (gradient, histogramdd, poisson, binomial)
from . import func, cpu  # noqa: E402  (torch.func: vmap, grad, jacrev, functional_call, ...; torch.cpu)
vmap = func.vmap
from .torch_functional import *  # noqa: E402,F401,F403  (torch.dropout, torch.layer_norm, ...: ATen's signatures)
from .ops.conv3d import conv3d, conv_transpose3d, conv_tbc  # noqa: E402,F401  (torch.conv3d: F's)
from .ops.pool_more import max_pool3d  # noqa: E402,F401
from .ops.construct_meta import _assert  # noqa: E402,F401  (torch._assert: torchvision's ViT)
from .ops.extras import install_torch_inplace_functions as _iif  # noqa: E402
_iif(globals())  # torch.relu_(x), torch.exp_(x), ...: x.relu_(), x.exp_()
spmm = sparse.mm
# torch.version, torch.random, torch.profiler (a stand-in), torch.types
from . import version, random, profiler, types  # noqa: E402,F401
from . import _numpy_aliases  # noqa: E402
_numpy_aliases.install(globals(), Tensor)  # x.sum(axis=1, keepdims=True): NumPy's names, as PyTorch reads them
from . import _out_arg  # noqa: E402
_out_arg.install(globals())  # torch.matmul(a, b, out=c)
from . import _torch_alias  # noqa: E402
_torch_alias.install()  # `sys.modules["torch"] = minigen` makes `import torch.nn...` give minigen's modules
