"""``torch.profiler``: accepted, and honest about what it records here (nothing).

Programs wrap a few steps in ``with torch.profiler.profile(...) as prof:`` and mark regions
with ``record_function("name")``. minigen has no op-level profiler of its own (its benchmark
command times whole steps: ``minigen bench``), so these run the block unchanged; the results
object says so instead of printing an empty table.
"""
import contextlib
import enum

__all__ = ["profile", "record_function", "ProfilerActivity", "schedule",
           "tensorboard_trace_handler", "supported_activities", "ProfilerAction"]


class ProfilerActivity(enum.Enum):
    CPU = 0
    CUDA = 1
    XPU = 2
    MTIA = 3


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def supported_activities():
    return {ProfilerActivity.CPU}


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """The step -> action function PyTorch's profile takes (kept for programs that pass it)."""
    def action(step):
        return ProfilerAction.RECORD
    return action


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False):
    def handler(prof):
        return None
    return handler


class _Averages(list):
    def table(self, *args, **kwargs):
        return ("(minigen records no per-op profile; time whole steps with `minigen bench` "
                "or time.perf_counter)")


class profile(contextlib.ContextDecorator):
    """``with profile(activities=[...], record_shapes=True) as prof:`` runs the block as it is."""

    def __init__(self, *args, activities=None, schedule=None, on_trace_ready=None,
                 record_shapes=False, profile_memory=False, with_stack=False, with_flops=False,
                 with_modules=False, **kwargs):
        self.on_trace_ready = on_trace_ready

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def step(self):
        pass

    def key_averages(self, *args, **kwargs):
        return _Averages()

    def export_chrome_trace(self, path):
        raise RuntimeError("export_chrome_trace: minigen's profiler stand-in records no trace")


class record_function(contextlib.ContextDecorator):
    """``with record_function("attention"):`` marks a region; here it only runs it."""

    def __init__(self, name, args=None):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
