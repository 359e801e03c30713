"""``minigen.distributed``: the names of ``torch.distributed``, for a single process.

Training scripts written for PyTorch (nanoGPT's and llama2.c's ``train.py`` among them) import
``init_process_group`` and ``destroy_process_group`` at the top, and call them only when they
are started by ``torchrun`` (``RANK`` set in the environment). minigen runs one process on one
device, so this module lets such a script import and run its single-process path, and says
plainly that there is no process group:

    is_available()      False: minigen has no distributed backend
    is_initialized()    False, always
    init_process_group  RuntimeError: minigen runs in one process (start without torchrun)
    get_rank, get_world_size, barrier, all_reduce, broadcast, all_gather,
    destroy_process_group
                        ValueError, PyTorch's own message when no process group exists

``nn.parallel.DistributedDataParallel`` is the single-device stand-in beside DataParallel.
"""
import enum

__all__ = ["is_available", "is_initialized", "init_process_group", "destroy_process_group",
           "get_rank", "get_world_size", "barrier", "all_reduce", "broadcast", "all_gather",
           "ReduceOp"]


class ReduceOp(enum.Enum):
    """The reduction names ``all_reduce`` takes in PyTorch (nothing reduces here)."""
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


def is_available():
    """False: minigen has no distributed backend (PyTorch answers True where it was built
    with one)."""
    return False


def is_initialized():
    """False: no process group ever exists in minigen."""
    return False


def init_process_group(backend=None, *args, **kwargs):
    """Refused: minigen runs in one process on one device. Run the script without torchrun
    (with ``RANK`` unset) to take its single-process path."""
    raise RuntimeError(
        f"init_process_group(backend={backend!r}): minigen runs in a single process and has "
        "no distributed backend; start the script without torchrun (RANK unset) to train "
        "in one process")


def _no_group(name):
    def fn(*args, **kwargs):
        raise ValueError(f"{name}: Default process group has not been initialized, please make "
                         "sure to call init_process_group. (minigen runs in a single process: "
                         "there is no process group)")
    fn.__name__ = name
    fn.__doc__ = (f"``torch.distributed.{name}``: raises ValueError, as PyTorch does when no "
                  "process group exists (in minigen none ever does).")
    return fn


get_rank = _no_group("get_rank")
get_world_size = _no_group("get_world_size")
barrier = _no_group("barrier")
all_reduce = _no_group("all_reduce")
broadcast = _no_group("broadcast")
all_gather = _no_group("all_gather")
destroy_process_group = _no_group("destroy_process_group")
