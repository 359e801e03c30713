"""``minigen.backends.cuda``: CUDA switches. TF32 and the fused attention kernels are PyTorch's;
minigen keeps the flags so programs can set them, and they change nothing here."""
from .. import backend as _backend


class _Matmul:
    allow_tf32 = False
    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True


matmul = _Matmul()


def is_built():
    """True when minigen can run on a CUDA GPU here (CuPy sees one)."""
    return _backend.cuda_is_available()


def flash_sdp_enabled():
    return False


def mem_efficient_sdp_enabled():
    return False


def math_sdp_enabled():
    return True


def enable_flash_sdp(enabled):
    pass


def enable_mem_efficient_sdp(enabled):
    pass


def enable_math_sdp(enabled):
    pass


class sdp_kernel:
    """``with torch.backends.cuda.sdp_kernel(enable_flash=..., enable_math=...):``: accepted; the
    block runs as it is (minigen has one attention path)."""

    def __init__(self, enable_flash=True, enable_math=True, enable_mem_efficient=True,
                 enable_cudnn=True):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
