"""minigen.threads: CPU ops shared out among host threads give the same numbers as one thread.

The ops split only along axes whose rows are independent, so the check is equality with a
single-threaded run: exact for elementwise work (``blockwise``); for attention to a few
roundings, because NumPy may take a different loop (BLAS or its own) for a product over a
slice of a batch than over the whole batch, which can change the last bit. Small test arrays would never be split (``MIN_PART_BYTES``), so the
tests lower that threshold to one byte and ask for 3 threads: every split path runs, with
parts of unequal length, on any machine (a one-core machine interleaves the threads).
"""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigen
import minigen.nn.functional as F
from minigen import threads
from minigen.backend import CPU


@pytest.fixture
def split_everything(monkeypatch):
    """Every CPU op that can split does, into up to 3 parts; restored afterwards."""
    before = threads.get_num_threads()
    monkeypatch.setattr(threads, "MIN_PART_BYTES", 1)
    yield
    threads.set_num_threads(before)


def _same_to_rounding(a, b):
    """Equal up to a few roundings of the array's own scale (float64)."""
    eps = np.finfo(a.dtype).eps
    np.testing.assert_allclose(a, b, rtol=8 * eps, atol=8 * eps * float(np.abs(a).max(initial=0)))


def _run(fn, n_threads):
    threads.set_num_threads(n_threads)
    return fn()


# ---------------------------------------------------------------------------- the mechanism
@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 10_000), nbytes=st.integers(0, 1 << 24), k=st.integers(1, 8))
def test_ranges_cover_the_rows_once_in_order(n, nbytes, k):
    before = threads.get_num_threads()
    try:
        threads.set_num_threads(k)
        parts = threads.ranges(n, nbytes)
    finally:
        threads.set_num_threads(before)
    assert parts[0][0] == 0 and parts[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
    assert len(parts) <= max(1, min(k, n))
    if len(parts) > 1:
        assert all(hi > lo for lo, hi in parts)
        assert nbytes // len(parts) >= threads.MIN_PART_BYTES
        assert max(hi - lo for lo, hi in parts) - min(hi - lo for lo, hi in parts) <= 1


def test_set_num_threads_checks_its_argument():
    before = threads.get_num_threads()
    try:
        minigen.set_num_threads(3)
        assert minigen.get_num_threads() == 3
        for bad in (0, -1, 1.5, True, "2", None):
            with pytest.raises(ValueError, match="set_num_threads: expected a positive integer"):
                minigen.set_num_threads(bad)
        assert minigen.get_num_threads() == 3  # a refused value changes nothing
    finally:
        minigen.set_num_threads(before)


def test_default_from_environment(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("MINIGEN_NUM_THREADS", "5")
    assert threads._default_threads() == 5  # minigen's own variable first
    monkeypatch.delenv("MINIGEN_NUM_THREADS")
    assert threads._default_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "-2")
    with pytest.raises(ValueError, match="OMP_NUM_THREADS must be a positive integer"):
        threads._default_threads()
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setenv("MINIGEN_NUM_THREADS", "5")
    assert threads._default_threads() == 5
    monkeypatch.setenv("MINIGEN_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="MINIGEN_NUM_THREADS must be a positive integer"):
        threads._default_threads()
    monkeypatch.delenv("MINIGEN_NUM_THREADS")
    assert threads._default_threads() >= 1


def test_parallel_returns_in_order_and_runs_nested_calls_on_one_thread(split_everything):
    threads.set_num_threads(3)
    seen = []

    def part(lo, hi):
        inner = threads.ranges(100, 1 << 30)  # a parallel call from inside a part
        seen.append((threading.get_ident(), inner))
        return (lo, hi)

    parts = threads.ranges(10, 1 << 30)
    assert len(parts) == 3
    assert threads.parallel(part, parts) == parts
    assert all(inner == [(0, 100)] for _, inner in seen)
    assert threads.ranges(100, 1 << 30) == [(0, 33), (33, 66), (66, 100)]  # outside: split again


def test_parallel_waits_for_every_part_before_raising(split_everything):
    threads.set_num_threads(3)
    finished = []

    def part(lo, hi):
        if lo == 0:
            raise RuntimeError("part 0 failed")
        threading.Event().wait(0.05)
        finished.append(lo)

    with pytest.raises(RuntimeError, match="part 0 failed"):
        threads.parallel(part, threads.ranges(9, 1 << 30))
    assert sorted(finished) == [3, 6]  # the other parts had finished when the error came


_IMPORT = """
import os, sys
if sys.argv[1] == "numpy-first":
    import numpy
import minigen
print(os.environ.get("OPENBLAS_THREAD_TIMEOUT"))
print(minigen.threads.host_threads())
"""


def _child(mode, **env):
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", _IMPORT, mode], capture_output=True, text=True,
                         env=dict(clean, **env), timeout=120, check=True)
    return out.stdout.splitlines()


def test_import_puts_idle_blas_workers_to_sleep_unless_told_otherwise():
    value, line = _child("minigen-first")
    assert value == "4" and "set by minigen" in line
    value, line = _child("numpy-first")
    assert value == "None" and "NumPy was imported before minigen" in line
    value, line = _child("minigen-first", OPENBLAS_THREAD_TIMEOUT="20")
    assert value == "20" and "set before minigen" in line


# ---------------------------------------------------------------------------- the ops
def _gelu_all(x):
    from minigen.ops.gelu import _gelu_and_slope, _normal_cdf
    y, slope = CPU.blockwise(_gelu_and_slope, x)
    return [y, slope, CPU.blockwise(_normal_cdf, x)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 5, CPU.block - 1, 3 * CPU.block + 7])
def test_blockwise_split_equals_one_thread(split_everything, dtype, size):
    x = (np.random.default_rng(size).standard_normal(size) * 4).astype(dtype)
    x0 = x.copy()
    one = _run(lambda: _gelu_all(x), 1)
    three = _run(lambda: _gelu_all(x), 3)
    for a, b in zip(one, three):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(x, x0)


def _attention(n, h, L, S, E, kind, need_weights=False, seed=0):
    """Output, (weights), and the gradients of every input, for one mask kind."""
    rng = np.random.default_rng(seed)
    q = minigen.tensor(rng.standard_normal((n, h, L, E)), requires_grad=True)
    k = minigen.tensor(rng.standard_normal((n, h, S, E)), requires_grad=True)
    v = minigen.tensor(rng.standard_normal((n, h, S, E + 1)), requires_grad=True)
    kw = {}
    if kind == "causal":
        kw["is_causal"] = True
    elif kind == "bool-broadcast":
        kw["attn_mask"] = minigen.tensor(rng.random((1, h, L, S)) > 0.3)
    elif kind == "float-full":
        kw["attn_mask"] = minigen.tensor(rng.standard_normal((n, h, L, S)), requires_grad=True)
    elif kind == "float-shared":  # fewer dims: broadcasts along the batch, never cut
        kw["attn_mask"] = minigen.tensor(rng.standard_normal((h, L, S)), requires_grad=True)
    elif kind == "dropout":
        kw["dropout_p"] = 0.3
    minigen.manual_seed(seed)
    out = F.scaled_dot_product_attention(q, k, v, _need_weights=need_weights, **kw)
    outs = list(out) if need_weights else [out]
    g = minigen.tensor(rng.standard_normal(outs[0].shape))
    outs[0].backward(g)
    leaves = [q, k, v] + ([kw["attn_mask"]] if kind.startswith("float") else [])
    return [o.detach().numpy() for o in outs] + [t.grad.numpy() for t in leaves]


@pytest.mark.parametrize("kind", ["none", "causal", "bool-broadcast", "float-full",
                                  "float-shared", "dropout"])
@pytest.mark.parametrize("L,S", [(6, 6), (3, 140)])  # keys first (S <= 128) and keys last
def test_attention_split_equals_one_thread(split_everything, kind, L, S):
    one = _run(lambda: _attention(5, 2, L, S, 4, kind), 1)
    three = _run(lambda: _attention(5, 2, L, S, 4, kind), 3)
    assert len(one) == len(three)
    for a, b in zip(one, three):
        _same_to_rounding(a, b)


def test_attention_with_weights_is_not_split_and_still_right(split_everything):
    one = _run(lambda: _attention(4, 2, 5, 5, 3, "causal", need_weights=True), 1)
    three = _run(lambda: _attention(4, 2, 5, 5, 3, "causal", need_weights=True), 3)
    for a, b in zip(one, three):
        np.testing.assert_array_equal(a, b)  # not split: the very same calls


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 7), h=st.integers(1, 3), L=st.integers(1, 9), S=st.integers(1, 9),
       E=st.integers(1, 5), kind=st.sampled_from(["none", "causal", "float-full"]))
def test_attention_split_equals_one_thread_any_shape(n, h, L, S, E, kind):
    if kind == "causal" and L > S:
        S = L
    before = (threads.get_num_threads(), threads.MIN_PART_BYTES)
    threads.MIN_PART_BYTES = 1
    try:
        one = _run(lambda: _attention(n, h, L, S, E, kind), 1)
        three = _run(lambda: _attention(n, h, L, S, E, kind), 3)
    finally:
        threads.set_num_threads(before[0])
        threads.MIN_PART_BYTES = before[1]
    for a, b in zip(one, three):
        _same_to_rounding(a, b)


def test_bench_pins_minigen_threads_and_restores_them():
    from minigen.bench.machine import describe_machine, pin_threads
    before = threads.get_num_threads()
    pins = pin_threads(1)
    try:
        assert threads.get_num_threads() == 1
    finally:
        pins.release()
    assert threads.get_num_threads() == before
    assert "minigen.set_num_threads" in describe_machine({})["host_threads"]


def _conv_all(kind, x, w, b):
    xt, wt, bt = (minigen.tensor(a, requires_grad=True) for a in (x, w, b))
    if kind == "conv2d":
        y = F.conv2d(xt, wt, bt, stride=(1, 2), padding=(2, 1), dilation=(1, 2), groups=2)
    else:
        y = F.conv_transpose2d(xt, wt, bt, stride=2, padding=1, output_padding=1, groups=2)
    g = np.random.default_rng(7).standard_normal(y.shape)
    y.backward(minigen.tensor(g))
    # the weight gradient alone (Conv2dWeightFunction's loop): x needs no gradient
    xc = minigen.tensor(x)
    wc = minigen.tensor(w, requires_grad=True)
    yc = (F.conv2d(xc, wc, padding=1, groups=2) if kind == "conv2d"
          else F.conv_transpose2d(xc, wc, stride=2, padding=1, groups=2))
    gc, = minigen.autograd.grad(yc, wc, minigen.tensor(np.ones(yc.shape)), create_graph=True)
    return [y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy(),
            gc.detach().numpy()]


@pytest.mark.parametrize("kind", ["conv2d", "conv_transpose2d"])
@pytest.mark.parametrize("N", [1, 7])
def test_convolution_blocks_shared_out_equal_one_thread(split_everything, monkeypatch, kind, N):
    from minigen.ops import im2col
    monkeypatch.setattr(im2col, "_BLOCK_BYTES", 1)  # a block per image: N blocks to share out
    rng = np.random.default_rng(N)
    x = rng.standard_normal((N, 4, 6, 7))
    w = rng.standard_normal((6, 2, 3, 3) if kind == "conv2d" else (4, 3, 3, 3))
    b = rng.standard_normal(6)
    x0 = x.copy()
    one = _run(lambda: _conv_all(kind, x, w, b), 1)
    three = _run(lambda: _conv_all(kind, x, w, b), 3)
    for a, c in zip(one, three):
        np.testing.assert_array_equal(a, c)  # the same blocks, summed in the same order
    np.testing.assert_array_equal(x, x0)


def test_blas_threads_are_put_back_after_a_split(split_everything):
    libs = threads._blas_libraries()
    if not libs:
        pytest.skip("threadpoolctl sees no BLAS here: blas work is never split")
    threads.set_num_threads(2)  # sets BLAS's count too: the split must put back this one
    before = [lib.num_threads for lib in libs]
    seen = []
    threads.parallel(lambda lo, hi: seen.append([lib.num_threads for lib in libs]),
                     threads.ranges(4, 1 << 30), blas=True)
    assert seen == [[1] * len(libs)] * 2  # one BLAS thread in each part
    assert [lib.num_threads for lib in libs] == before


def test_blas_work_is_not_split_without_a_way_to_pin_blas(split_everything, monkeypatch):
    monkeypatch.setitem(threads._state, "blas", [])
    threads.set_num_threads(3)
    calls = []
    threads.parallel(lambda lo, hi: calls.append((lo, hi)), threads.ranges(9, 1 << 30), blas=True)
    assert calls == [(0, 9)]


_FORK = """
import os, sys
import numpy as np
import minigen
from minigen import threads
from minigen.backend import CPU
from minigen.ops.gelu import _gelu_and_slope
threads.MIN_PART_BYTES = 1
minigen.set_num_threads(2)
x = np.linspace(-4, 4, 4 * CPU.block)
want = CPU.blockwise(_gelu_and_slope, x)   # the pool exists from here on
pid = os.fork()
if pid == 0:  # the child: its copy of the pool has no threads
    got = CPU.blockwise(_gelu_and_slope, x)
    os._exit(0 if all(np.array_equal(a, b) for a, b in zip(got, want)) else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_makes_its_own_pool():
    out = subprocess.run([sys.executable, "-c", _FORK], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "0", out.stdout + out.stderr


def test_blas_threads_come_back_when_user_threads_split_at_once(split_everything):
    """Two user threads, each running blas work in parts, overlapping: the first enters and
    leaves first, the second enters while BLAS is on one thread and leaves last. The BLAS
    thread count must come back to what it was (not to the one thread the second one saw)."""
    libs = threads._blas_libraries()
    if not libs:
        pytest.skip("threadpoolctl sees no BLAS here: blas work is never split")
    threads.set_num_threads(2)  # sets BLAS's count too: the one to come back to
    before = [lib.num_threads for lib in libs]
    first_inside, both_inside = threading.Event(), threading.Barrier(2)

    def user(i):
        def part(lo, hi):
            if lo == 0:
                first_inside.set()
                both_inside.wait(timeout=10)
                if i == 1:
                    threading.Event().wait(0.05)  # the second user leaves last
        threads.parallel(part, threads.ranges(4, 1 << 30), blas=True)

    users = [threading.Thread(target=user, args=(i,)) for i in range(2)]
    users[0].start()
    assert first_inside.wait(timeout=10)
    users[1].start()
    for t in users:
        t.join(timeout=30)
    assert [lib.num_threads for lib in libs] == before


# ----------------------------------------------------------------------------- a busy machine
class _FakeBlas:
    def __init__(self, n):
        self.num_threads, self.calls = n, []

    def set_num_threads(self, n):
        self.num_threads = n
        self.calls.append(n)


def test_blas_gets_the_cores_others_leave_free(monkeypatch):
    lib = _FakeBlas(4)
    monkeypatch.setitem(threads._state, "blas", [lib])
    for key, value in (("auto_blas", True), ("last_check", 0.0), ("blas_default", None),
                       ("others", None), ("auto_now", None)):
        monkeypatch.setitem(threads._state, key, value)
    monkeypatch.setattr(threads, "_default_cpus", lambda: 4)
    readings = iter([0, 0, 3, 3, 3, 1, 1])
    monkeypatch.setattr(threads, "_running_elsewhere", lambda: next(readings))
    seen = []
    for t in range(1, 8):
        threads.adapt_to_load(now=10.0 * t)
        seen.append(lib.num_threads)
    # idle: all 4; three others running: (0+3)/2 = 1.5 -> 4 - 1.5 = 2.5 -> 3 at first (smoothed),
    # then 1; one other: back up to 2 (smoothed), then 3
    assert seen == [4, 4, 3, 1, 1, 2, 3]
    # at most once a CHECK_SECONDS: a second call at the same time reads nothing
    threads.adapt_to_load(now=70.0)
    # a count the user sets is kept: the adaptation stops, and BLAS takes that count
    threads.set_num_threads(1)
    assert lib.num_threads == 1 and threads._state["auto_blas"] is False
    threads.adapt_to_load(now=1000.0)
    assert lib.num_threads == 1
    threads.set_num_threads(threads._default_threads())


def test_no_proc_or_no_threadpoolctl_changes_nothing(monkeypatch):
    monkeypatch.setitem(threads._state, "auto_blas", True)
    monkeypatch.setitem(threads._state, "last_check", 0.0)
    monkeypatch.setattr(threads, "_running_elsewhere", lambda: None)
    threads.adapt_to_load(now=100.0)
    assert threads._state["auto_blas"] is False


def test_running_elsewhere_reads_the_machine():
    n = threads._running_elsewhere()
    assert n is None or (isinstance(n, int) and n >= 0)
