"""Host threads: how minigen spreads NumPy work over several CPU cores.

NumPy runs each elementwise call (add, exp, a reduction) on one core, and only BLAS products
use several. Most of a step that is not a product (GELU's ~40 passes, attention's softmax,
LayerNorm) would then leave the other cores idle. NumPy lets go of Python's global lock inside
each call on a plain numeric array, so two Python threads that each run the same NumPy code on
half of the rows do run at once. ``parallel(fn, ranges)`` does that: it calls ``fn(lo, hi)``
for each contiguous range of rows, the first on the calling thread and the rest on a small
pool, and returns the results in order. The ops that use it (``Backend.parallel``) split along
an axis whose rows are independent, so the numbers are those of one call: to the last bit for
elementwise work, to a rounding or two where a product over a slice of a batch takes another of
NumPy's loops (BLAS or its own) than over the whole batch.

One setting makes this pay. After each multi-threaded product, OpenBLAS keeps its worker
threads spinning on the other cores for a while (2^28 cycles, ~0.1 s, by default), waiting for
the next product; a Python thread given one of those cores then gets a fraction of it. Measured
here (2-core machine, a big product then 30 passes over 4 MiB split in two): 6.1 ms with the
default, 3.1-3.8 ms with the workers put to sleep at once, against 6.1 ms on one thread; the
products themselves took the same time either way (5.3 and 5.2 ms;
``benchmarks/bench_blas_spin.py`` repeats the measurement). OpenBLAS reads the setting,
``OPENBLAS_THREAD_TIMEOUT`` (the spin is 2^value cycles, 4 the least), once, when NumPy loads
it, so minigen sets it to 4 on import, before importing NumPy, unless the user set it. If NumPy
was imported first the default stays, and ``host_threads()`` says so.

Work whose parts call BLAS (the convolutions' blocks of images) is split only with BLAS set to
one thread while the parts run (``parallel(..., blas=True)``, through threadpoolctl): each part
then has a core to itself for its copies and its products. Measured here, 16 blocks of a 3x3
convolution's unfold and product: 16 ms in one loop with BLAS on 2 threads, 13 ms in two parts
with BLAS on one; two parts that each ask BLAS for 2 threads fight over them (24-25 ms).
BLAS's count is process-wide: a product another Python thread runs meanwhile runs on one
thread too.

``set_num_threads(n)`` sets how many threads minigen uses (default: ``MINIGEN_NUM_THREADS``,
else ``OMP_NUM_THREADS``, else the CPUs this process may run on); ``set_num_threads(1)`` runs
everything on the calling thread. Like ``torch.set_num_threads`` it sets BLAS's thread count
too (through threadpoolctl, where it is installed). ``OPENBLAS_THREAD_TIMEOUT`` stays in
``os.environ``, so child processes inherit it. On a GPU nothing here is used: each op is already
one kernel over the whole array.

A busy machine. BLAS splits each product over its threads and waits for the slowest; when other
programs hold the cores, a thread that lost its core holds up the product (measured here: a
plain MLP GAN script ran 13x slower with other programs keeping both cores busy than the same
script on one BLAS thread). Unless the user set a count (``set_num_threads``), minigen therefore
checks, at most once a second when a backward pass starts (``adapt_to_load``), how many threads
of other processes are running right now (Linux's ``/proc/loadavg`` running count, less this
process's own), and gives BLAS only the cores the others leave free (at least one):

    blas threads = max(1, min(default, CPUs - running elsewhere))

smoothed over two readings, so one short spike does not flip it. Where the count cannot be read
(not Linux) or set (no threadpoolctl), nothing changes.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, wait

__all__ = ["set_num_threads", "get_num_threads", "host_threads", "adapt_to_load"]

_TIMEOUT_ENV = "OPENBLAS_THREAD_TIMEOUT"
_state = {"threads": None, "pool": None, "pool_size": 0, "blas_spin": "not configured",
          "blas": None}
_local = threading.local()  # .inside: this thread is running a part of a parallel call
_lock = threading.Lock()

# Below this many bytes per part, splitting costs more than it saves. Handing a part to a pool
# thread costs 20-70 us here, and every NumPy call then waits for Python's lock, which the
# other thread takes between its own calls: LayerNorm's forward on 1 MiB (a dozen calls of
# ~40 us) took 0.42-0.48 ms in one piece and 0.52-0.60 ms in two.
MIN_PART_BYTES = 1 << 20


def configure():
    """Ask OpenBLAS to put its idle workers to sleep at once (see the module docstring); called
    on import of minigen, before NumPy is imported."""
    if _TIMEOUT_ENV in os.environ:
        _state["blas_spin"] = f"{_TIMEOUT_ENV}={os.environ[_TIMEOUT_ENV]} (set before minigen)"
    elif "numpy" in sys.modules:
        _state["blas_spin"] = ("OpenBLAS's default spin (NumPy was imported before minigen, so "
                               f"{_TIMEOUT_ENV} could not be set)")
    else:
        os.environ[_TIMEOUT_ENV] = "4"
        _state["blas_spin"] = f"{_TIMEOUT_ENV}=4 (set by minigen: idle BLAS workers sleep)"


def _default_threads():
    """MINIGEN_NUM_THREADS, else OMP_NUM_THREADS (the usual way to ask a process for fewer
    threads; PyTorch reads it too), else the CPUs this process may run on."""
    for name in ("MINIGEN_NUM_THREADS", "OMP_NUM_THREADS"):
        env = os.environ.get(name, "").strip()
        if env:
            try:
                n = int(env)
            except ValueError:
                n = 0
            if n < 1:
                raise ValueError(f"{name} must be a positive integer, got {env!r}")
            return n
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def get_num_threads():
    """How many threads minigen's CPU ops split their work over."""
    if _state["threads"] is None:
        _state["threads"] = _default_threads()
    return _state["threads"]


def set_num_threads(n):
    """Split minigen's CPU ops over ``n`` threads (1: all on the calling thread), and run BLAS
    on ``n`` threads too (as ``torch.set_num_threads``; through threadpoolctl where installed).
    A count set here is kept: the busy-machine adaptation (``adapt_to_load``) stops."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    _state["threads"] = n
    _state["auto_blas"] = False
    with _lock:
        if _state.get("blas_users", 0) == 0:
            for lib in _blas_libraries():
                lib.set_num_threads(n)
        else:  # inside a split: put back n, not the saved count, when it ends
            _state["blas_before"] = [n] * len(_state.get("blas_before", []))


def pin_host_threads(n):
    """Set minigen's own thread count to ``n`` and stop the busy-machine adaptation, without
    touching BLAS (for callers that pin BLAS themselves, e.g. with threadpoolctl's context).
    Returns ``restore()``, which puts both back."""
    before = (_state["threads"], _state["auto_blas"])
    _state["threads"], _state["auto_blas"] = n, False

    def restore():
        _state["threads"], _state["auto_blas"] = before
    return restore


# ----------------------------------------------------------------------------- a busy machine
_state.update(auto_blas=True, last_check=0.0, blas_default=None, others=None, auto_now=None)
CHECK_SECONDS = 1.0


def _running_elsewhere():
    """Threads of other processes running or ready to run now (None where unknown)."""
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
        own = 0
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as f:
                    own += f.read().rsplit(")", 1)[1].split()[0] == "R"
            except OSError:
                continue
        return max(running - own, 0)
    except (OSError, ValueError, IndexError):
        return None


def adapt_to_load(now=None):
    """Give BLAS the cores other processes leave free (see the module docstring). Cheap when
    called often: it looks at the machine at most once every ``CHECK_SECONDS``."""
    import time
    if not _state["auto_blas"]:
        return
    now = time.monotonic() if now is None else now
    if now - _state["last_check"] < CHECK_SECONDS:
        return
    _state["last_check"] = now
    others = _running_elsewhere()
    libs = _blas_libraries()
    if others is None or not libs:
        _state["auto_blas"] = False     # nothing to read or nothing to set: stop looking
        return
    if _state["blas_default"] is None:
        _state["blas_default"] = max(lib.num_threads for lib in libs)
    # the mean of this reading and the last one: a one-off spike moves it only halfway
    prev = _state["others"]
    smooth = others if prev is None else (others + prev) / 2
    _state["others"] = others
    cpus = _default_cpus()
    want = max(1, min(_state["blas_default"], int(cpus - smooth + 0.5)))
    if want != _state["auto_now"]:
        with _lock:
            if _state.get("blas_users", 0) == 0:
                for lib in libs:
                    lib.set_num_threads(want)
                _state["auto_now"] = want


def _default_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def host_threads():
    """A line for a machine description: minigen's threads and OpenBLAS's idle-worker setting."""
    return f"{get_num_threads()} (minigen.set_num_threads); {_state['blas_spin']}"


def ranges(n, nbytes):
    """[(lo, hi), ...]: [0, n) cut into contiguous ranges, one per thread, or fewer so that
    each part has at least ``MIN_PART_BYTES`` of the ``nbytes`` the work touches."""
    k = min(get_num_threads(), n, max(1, nbytes // MIN_PART_BYTES))
    if k <= 1 or getattr(_local, "inside", False):
        return [(0, n)]
    cuts = [n * i // k for i in range(k + 1)]
    return [(cuts[i], cuts[i + 1]) for i in range(k)]


def _pool(size):
    with _lock:
        if _state["pool_size"] < size:
            if _state["pool"] is not None:
                _state["pool"].shutdown(wait=True)
            _state["pool"] = ThreadPoolExecutor(size, thread_name_prefix="minigen")
            _state["pool_size"] = size
        return _state["pool"]


def _forget_pool():
    """In a forked child the pool's threads do not exist (fork copies only the calling
    thread): a new pool is made on first use, rather than waiting forever on the old one."""
    _state["pool"], _state["pool_size"] = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _part(fn, lo, hi):
    _local.inside = True  # a parallel call made from inside a part runs on this thread alone
    try:
        return fn(lo, hi)
    finally:
        _local.inside = False


def _blas_libraries():
    """threadpoolctl's handles on the loaded BLAS libraries ([] without threadpoolctl)."""
    if _state["blas"] is None:
        try:
            from threadpoolctl import ThreadpoolController
            _state["blas"] = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:  # not installed, or a library it cannot drive
            _state["blas"] = []
    return _state["blas"]


@contextlib.contextmanager
def _one_blas_thread():
    """BLAS on one thread inside the block, its thread counts put back afterwards. Calls from
    several user threads at once nest: the first saves the counts, the last puts them back."""
    libs = _blas_libraries()
    with _lock:
        if _state.setdefault("blas_users", 0) == 0:
            _state["blas_before"] = [lib.num_threads for lib in libs]
            for lib in libs:
                lib.set_num_threads(1)
        _state["blas_users"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["blas_users"] -= 1
            if _state["blas_users"] == 0:
                for lib, n in zip(libs, _state["blas_before"]):
                    lib.set_num_threads(n)


def parallel(fn, parts, blas=False):
    """``[fn(lo, hi) for (lo, hi) in parts]``, the parts after the first on pool threads.

    ``fn`` must only touch its own rows of any array it writes. Every part has finished when
    this returns, also when one of them raised (the first error is raised again). With
    ``blas=True`` (parts that call BLAS) BLAS runs on one thread meanwhile; where it cannot be
    set (no threadpoolctl) the work is not split: one call over all of ``parts``."""
    if len(parts) > 1 and blas and not _blas_libraries():
        parts = [(parts[0][0], parts[-1][1])]
    if len(parts) == 1:
        return [fn(*parts[0])]
    pool = _pool(len(parts) - 1)
    with _one_blas_thread() if blas else contextlib.nullcontext():
        futures = [pool.submit(_part, fn, lo, hi) for lo, hi in parts[1:]]
        try:
            first = _part(fn, *parts[0])
        finally:
            wait(futures)
    return [first] + [f.result() for f in futures]
