"""The device seam: device objects, moving tensors (and gradients) between devices, host copies,
refusing to mix devices, bounds checks that CuPy would skip, seeded randomness, synchronize."""
import numpy as np
import pytest

import minigen
from minigen import backend as B

REAL_CUDA = type(B._backends.get("cuda")).__name__ == "CupyBackend"


def other(device):
    return "cuda" if device == "cpu" else "cpu"


# ----------------------------------------------------------------------------- device objects
def test_device_objects():
    cpu, cuda = minigen.device("cpu"), minigen.device("cuda")
    assert cpu == "cpu" and cuda == "cuda" and cpu != "cuda" and cuda != cpu
    assert minigen.device("cuda:0") == cuda == "cuda:0"
    assert minigen.device(cpu) is cpu
    assert cpu.type == "cpu" and cuda.type == "cuda" and cuda.index == 0 and cpu.index is None
    assert repr(cpu) == "device(type='cpu')" and repr(cuda) == "device(type='cuda')"
    assert str(cuda) == "cuda"
    assert len({cpu, minigen.device("cpu"), cuda}) == 2
    assert cpu != "tpu" and cpu != 3


@pytest.mark.parametrize("bad, err", [("tpu", ValueError), ("cuda:1", ValueError), (3, ValueError), (1.5, TypeError)])
def test_bad_device_names(bad, err):
    with pytest.raises(err, match="device"):
        minigen.device(bad)


def test_tensor_device_property(device):
    x = minigen.ones(2, device=device)
    assert x.device == device and isinstance(x.device, minigen.device)
    assert x.is_cuda == (device == "cuda")
    assert x.exp().device == device and (x + x).device == device and x.sum().device == device


# ----------------------------------------------------------------------------- moving
def test_to_device_both_ways(device):
    x = minigen.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    y = x.to(other(device))
    assert y.device == other(device) and y.dtype == minigen.float32
    np.testing.assert_array_equal(y.cpu().numpy(), x.cpu().numpy())
    z = y.to(device)
    assert z.device == device
    np.testing.assert_array_equal(z.cpu().numpy(), x.cpu().numpy())
    assert x.to(device) is x  # already there: no copy, as in PyTorch
    assert x.cpu().device == "cpu" and x.cuda().device == "cuda"
    w = x.to(other(device), minigen.float64)
    assert w.device == other(device) and w.dtype == minigen.float64


def test_gradient_flows_across_to(device):
    x = minigen.tensor([0.5, -1.0], dtype=minigen.float64, device=device, requires_grad=True)
    y = (x.to(other(device)).exp() * 2.0).to(device).sum()
    y.backward()
    assert x.grad.device == device
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2.0 * np.exp([0.5, -1.0]))
    assert minigen.gradcheck(lambda t: t.to(other(device)).sin().to(device), [x])
    assert minigen.gradgradcheck(lambda t: t.to(other(device)).sin().to(device), [x])


def test_numpy_shares_memory_on_the_cpu_as_pytorch(device):
    x = minigen.tensor([1.0, 2.0, 3.0], device=device)
    a = x.cpu().numpy()
    assert isinstance(a, np.ndarray)
    a[0] = 99.0
    # on the cpu .cpu() is the tensor itself and .numpy() its memory (PyTorch's); from a GPU,
    # .cpu() is a host copy
    want = [99.0, 2.0, 3.0] if device == "cpu" else [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(x.cpu().numpy(), want)
    assert np.shares_memory(a, x.cpu().numpy()) == (device == "cpu")
    assert not np.shares_memory(a, x.cpu().numpy().copy())


def test_cuda_tensor_refuses_implicit_numpy_conversion():
    x = minigen.ones(2, device="cuda")
    with pytest.raises(TypeError, match="numpy"):
        np.asarray(x)


# ----------------------------------------------------------------------------- mixing devices
MIXES = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: minigen.mul(a, b),
    "matmul": lambda a, b: a.reshape(1, 2) @ b.reshape(2, 1),
    "cat": lambda a, b: minigen.cat([a, b]),
    "stack": lambda a, b: minigen.stack([a, b]),
    "where": lambda a, b: minigen.where(a > 0, a, b),
    "where_condition": lambda a, b: minigen.where(b > 0, a, a),
    "maximum": lambda a, b: minigen.maximum(a, b),
    "lt": lambda a, b: a < b,
    "index": lambda a, b: a[minigen.tensor([0, 1], device=b.device)],
}


@pytest.mark.parametrize("op", sorted(MIXES))
def test_mixing_devices_raises_naming_both(op, device):
    a = minigen.ones(2, device=device, requires_grad=True)
    b = minigen.ones(2, device=other(device))
    with pytest.raises(RuntimeError) as e:
        MIXES[op](a, b)
    msg = str(e.value)
    assert "cpu" in msg and "cuda" in msg, msg


def test_backward_gradient_on_another_device_raises(device):
    x = minigen.ones(2, device=device, requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="cpu.*cuda|cuda.*cpu"):
        y.backward(minigen.ones(2, device=other(device)))


# ----------------------------------------------------------------------------- bounds
BAD_INDEX = {
    "getitem_array": lambda x, d: x[minigen.tensor([0, 3], device=d)],
    "getitem_negative": lambda x, d: x[minigen.tensor([-4], device=d)],
    "getitem_list": lambda x, d: x[[0, 5]],
    "getitem_second_dim": lambda x, d: x[:, minigen.tensor([2], device=d)],
    "getitem_int": lambda x, d: x[3],
    "index_select": lambda x, d: minigen.index_select(x, 0, minigen.tensor([1, 3], device=d)),
    "gather": lambda x, d: minigen.gather(x, 0, minigen.tensor([[0, 3]], device=d)),
    "setitem": lambda x, d: x.__setitem__(minigen.tensor([4], device=d), 1.0),
}


@pytest.mark.parametrize("op", sorted(BAD_INDEX))
def test_out_of_range_indices_raise_index_error(op, device):
    """CuPy (and the simulated device) wrap out-of-range indices silently; minigen checks."""
    x = minigen.tensor(np.arange(6.0).reshape(3, 2), device=device)
    with pytest.raises(IndexError, match="out of bounds|out of range"):
        BAD_INDEX[op](x, device)
    np.testing.assert_array_equal(x.cpu().numpy(), np.arange(6.0).reshape(3, 2))


def test_check_index_directly(device):
    xp = B.get_backend(device).xp
    idx = B.get_backend(device).asarray(np.array([0, 2, -3]))
    B.check_index(xp, idx, 3, "op")  # in range: nothing happens
    with pytest.raises(IndexError, match=r"op: index 3 is out of bounds for dimension 1 with "
                                         r"size 3"):
        B.check_index(xp, B.get_backend(device).asarray(np.array([0, 3])), 3, "op", 1)


# ----------------------------------------------------------------------------- randomness
@pytest.mark.parametrize("make", [
    lambda d: minigen.randn(3, 4, device=d),
    lambda d: minigen.rand(5, device=d, dtype=minigen.float64),
    lambda d: minigen.randint(0, 10, (6,), device=d),
    lambda d: minigen.randperm(7, device=d),
], ids=["randn", "rand", "randint", "randperm"])
def test_manual_seed_repeats_bit_for_bit(make, device):
    minigen.manual_seed(123)
    a = [make(device).cpu().numpy() for _ in range(2)]
    minigen.manual_seed(123)
    b = [make(device).cpu().numpy() for _ in range(2)]
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
    assert a[0].tobytes() != a[1].tobytes()  # the stream moves on
    minigen.manual_seed(124)
    assert make(device).cpu().numpy().tobytes() != a[0].tobytes()


def test_rng_state_roundtrip():
    minigen.manual_seed(5)
    state = minigen.get_rng_state()
    a = minigen.randn(4).cpu().numpy()
    minigen.set_rng_state(state)
    b = minigen.randn(4).cpu().numpy()
    assert a.tobytes() == b.tobytes()


def test_random_tensors_have_the_requested_device_and_dtype(device):
    assert minigen.randn(2, device=device).device == device
    assert minigen.rand(2, device=device).dtype == minigen.float32
    assert minigen.randint(3, (2,), device=device).dtype == minigen.int64
    r = minigen.rand(1000, device=device).cpu().numpy()
    assert r.min() >= 0.0 and r.max() < 1.0


# ----------------------------------------------------------------------------- cuda module
def test_cuda_is_available_and_synchronize():
    # the suite runs with a GPU or the simulated one registered (conftest)
    assert minigen.cuda.is_available() is True
    assert minigen.cuda.device_count() == 1
    minigen.cuda.synchronize()
    minigen.synchronize()
    minigen.synchronize("cuda")
    minigen.synchronize("cpu")


@pytest.mark.skipif(REAL_CUDA, reason="this machine has a real GPU")
def test_missing_cuda_is_a_clear_error():
    from minigen.testing import simulated_cuda
    simulated_cuda.uninstall()
    try:
        assert minigen.cuda.is_available() is False
        assert minigen.cuda.device_count() == 0
        minigen.cuda.synchronize()  # a no-op without a GPU, not a crash
        with pytest.raises(RuntimeError, match="'cuda' is not available"):
            minigen.zeros(2, device="cuda")
        with pytest.raises(RuntimeError, match="'cuda' is not available"):
            minigen.ones(2).to("cuda")
    finally:
        simulated_cuda.install()
    assert minigen.zeros(2, device="cuda").device == "cuda"


def test_blockwise_equals_one_pass_over_the_whole_array(device):
    """Backend.blockwise runs a multi-pass elementwise function block by block on CPU: the
    result must be bit-identical to one call over the whole array, including the ragged tail."""
    from minigen.backend import get_backend
    from minigen.ops.gelu import _normal_cdf
    b = get_backend(device)
    n = 5 * 32768 + 123  # several blocks and a ragged last one
    x = minigen.randn(n, device=device).reshape(n // 7, 7) if n % 7 == 0 else \
        minigen.randn(n, device=device)
    # a device that runs fused kernels runs _normal_cdf's CUDA twin in one launch instead
    same = np.testing.assert_array_equal if b.kernels is None else \
        (lambda a, r: np.testing.assert_allclose(a, r, rtol=0, atol=4e-7))
    whole = _normal_cdf(b.xp, x.array)
    blocked = b.blockwise(_normal_cdf, x.array)
    assert type(blocked) is type(x.array) and blocked.shape == x.array.shape
    same(b.to_numpy(blocked), b.to_numpy(whole))
    # a non-contiguous input (a transposed view) gives the same values in its own shape
    xt = minigen.randn(400, 300, device=device).array.T
    same(b.to_numpy(b.blockwise(_normal_cdf, xt)), b.to_numpy(_normal_cdf(b.xp, xt)))


def test_cpu_scatter_add_of_rows_equals_add_at():
    """The sorted fast path of Backend.scatter_add (one integer index over rows, as in an
    embedding's gradient) adds repeated rows like numpy.add.at, into a nonzero target; other
    index forms (negative, 2-D, short) take add.at itself."""
    from minigen.backend import CPU
    rng = np.random.default_rng(0)
    for idx, shape in [(rng.integers(0, 40, 3000), (40, 7)), (rng.integers(0, 5, 600), (5, 3, 2)),
                       (np.concatenate([np.arange(300), [-1, 299]]), (300, 4)),
                       (rng.integers(0, 9, (20, 30)), (9, 5)), (rng.integers(0, 9, 10), (9, 5))]:
        target = rng.standard_normal(shape)
        values = rng.standard_normal(idx.shape + shape[1:])
        want = target.copy()
        np.add.at(want, idx, values)
        got = target.copy()
        CPU.scatter_add(got, idx, values)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("axes", [(0,), (0, 1), (2,), (1, 2), (-1,), (0, 2), (1,), (0, 1, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_backend_sum_matches_numpy_on_big_arrays(device, axes, keepdims):
    """Backend.sum takes BLAS for big C-contiguous float arrays summed over leading axes or
    short trailing rows, and NumPy's sum otherwise (mixed axes, as a batch norm's (0, 2, 3));
    every form must equal NumPy's sum, shape and dtype included."""
    from minigen.backend import get_backend
    b = get_backend(device)
    x = minigen.randn(60, 40, 30, device=device).array  # 72000 elements: above the BLAS size
    want = b.to_numpy(x).sum(axis=axes, keepdims=keepdims)
    got = b.to_numpy(b.sum(x, axes, keepdims))
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    xt = minigen.randn(30, 40, 60, device=device).array.transpose(2, 1, 0)  # not contiguous
    np.testing.assert_allclose(b.to_numpy(b.sum(xt, axes, keepdims)),
                               b.to_numpy(xt).sum(axis=axes, keepdims=keepdims), rtol=1e-5, atol=1e-4)


def test_device_rules_follow_pytorch():
    import minigen
    assert minigen.device(0) == "cuda" and minigen.device(0).index == 0
    x = minigen.ones(2)
    with pytest.raises(ValueError, match="unknown device type 'gpu'"):
        x.to("gpu")
    assert x.to("float64").dtype == minigen.float64    # a dtype's name still casts
    with pytest.raises(TypeError, match="GPU ordinal"):
        minigen.device(1.5)
