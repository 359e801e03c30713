"""``minigen.backends``: the switches PyTorch programs set or query about hardware libraries.

minigen computes with NumPy (CPU) or CuPy (GPU) and uses none of cuDNN, MPS, MKL-DNN or
TF32 kernels itself, so these modules answer truthfully and their flags change nothing:

    torch.backends.cudnn.benchmark = True        # accepted, no effect (no cuDNN autotuner)
    torch.backends.cudnn.deterministic = True    # accepted; minigen's kernels are deterministic
    torch.backends.mps.is_available()            # False: minigen has no Apple-GPU backend
    torch.backends.cuda.matmul.allow_tf32 = True # accepted, no effect (float32 stays float32)
"""
from . import cuda, cudnn, mkldnn, mps, openmp  # noqa: F401

__all__ = ["cuda", "cudnn", "mkldnn", "mps", "openmp"]
