"""Making tensors (PyTorch's dtype rules and signatures) and the basic Tensor attributes."""
import numpy as np
import pytest

import minigen


# ----------------------------------------------------------------------------- tensor()
@pytest.mark.parametrize("data, dtype, shape", [
    ([1.0, 2.0], minigen.float32, (2,)),      # Python floats -> float32
    ([1, 2, 3], minigen.int64, (3,)),         # Python ints -> int64
    ([True, False], minigen.bool, (2,)),
    ([[1, 2.5], [3, 4]], minigen.float32, (2, 2)),  # mixed int/float -> float32
    ([[[1], [2]]], minigen.int64, (1, 2, 1)),
    (2.5, minigen.float32, ()),
    (7, minigen.int64, ()),
    (True, minigen.bool, ()),
    ([], minigen.float32, (0,)),
])
def test_tensor_from_python_data(data, dtype, shape, device):
    t = minigen.tensor(data, device=device)
    assert t.dtype == dtype and t.shape == shape and t.device == device
    np.testing.assert_array_equal(t.cpu().numpy(), np.asarray(data, dtype=dtype))


@pytest.mark.parametrize("np_dtype", [np.float64, np.float32, np.float16, np.int32, np.int64,
                                      np.uint8, np.bool_])
def test_tensor_from_numpy_keeps_dtype_and_copies(np_dtype, device):
    a = np.arange(6).reshape(2, 3).astype(np_dtype)
    t = minigen.tensor(a, device=device)
    assert t.dtype == np.dtype(np_dtype) and t.shape == (2, 3)
    np.testing.assert_array_equal(t.cpu().numpy(), a)
    a[0, 0] = 1  # tensor() copies
    assert t.cpu().numpy()[0, 0] == 0


def test_tensor_from_numpy_scalar_keeps_dtype(device):
    assert minigen.tensor(np.float64(1.5), device=device).dtype == minigen.float64
    assert minigen.tensor(np.int32(3), device=device).dtype == minigen.int32


def test_tensor_dtype_device_requires_grad_arguments(device):
    t = minigen.tensor([1, 2], dtype=minigen.float64, device=device, requires_grad=True)
    assert t.dtype == minigen.float64 and t.requires_grad and t.is_leaf and t.device == device
    assert minigen.tensor([1.5], dtype="float64").dtype == minigen.float64
    assert minigen.tensor([1.7, -2.2], dtype=minigen.int64).tolist() == [1, -2]


def test_tensor_from_tensor_copies(device):
    a = minigen.tensor([1.0, 2.0], device=device)
    b = minigen.tensor(a)
    with minigen.no_grad():
        b.fill_(5.0)
    assert a.tolist() == [1.0, 2.0]


def test_tensor_rejects_ragged_and_strings():
    with pytest.raises(TypeError):
        minigen.tensor([[1, 2], [3]])
    with pytest.raises(TypeError):
        minigen.tensor(["a", "b"])


def test_from_numpy_shares_memory():
    a = np.arange(4.0)
    t = minigen.from_numpy(a)
    assert t.dtype == minigen.float64 and t.device == "cpu"
    a[0] = 10.0
    assert t.tolist()[0] == 10.0
    with minigen.no_grad():
        t[1] = 20.0
    assert a[1] == 20.0
    with pytest.raises(TypeError):
        minigen.from_numpy([1.0, 2.0])


# ----------------------------------------------------------------------------- factories
FACTORIES = {
    "zeros": (lambda *s, **k: minigen.zeros(*s, **k), 0.0),
    "ones": (lambda *s, **k: minigen.ones(*s, **k), 1.0),
    "full": (lambda *s, **k: minigen.full(s[0] if len(s) == 1 and isinstance(s[0], (tuple, list))
                                          else s, 2.5, **k), 2.5),
    "empty": (lambda *s, **k: minigen.empty(*s, **k), None),
    "rand": (lambda *s, **k: minigen.rand(*s, **k), None),
    "randn": (lambda *s, **k: minigen.randn(*s, **k), None),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factories_shapes_dtypes_devices(name, device):
    make, value = FACTORIES[name]
    for shape_args in [(2, 3), ((2, 3),), ([2, 3],)]:
        t = make(*shape_args, device=device)
        assert t.shape == (2, 3) and t.dtype == minigen.float32 and t.device == device
        assert not t.requires_grad and t.grad is None and t.is_leaf
        if value is not None:
            np.testing.assert_array_equal(t.cpu().numpy(), np.full((2, 3), value, np.float32))
    t = make(4, dtype=minigen.float64, device=device, requires_grad=True)
    assert t.shape == (4,) and t.dtype == minigen.float64 and t.requires_grad
    assert make((), device=device).shape == ()
    assert make(0, 3, device=device).shape == (0, 3)


def test_factory_errors():
    with pytest.raises(RuntimeError, match="negative dimension"):
        minigen.zeros(2, -1)
    with pytest.raises(TypeError, match="size"):
        minigen.ones(2.5)


def test_full_infers_dtype_from_the_fill_value(device):
    assert minigen.full((2,), 3, device=device).dtype == minigen.int64
    assert minigen.full((2,), 3.0, device=device).dtype == minigen.float32
    assert minigen.full((2,), True, device=device).dtype == minigen.bool
    assert minigen.full(3, 1.5, dtype=minigen.float64, device=device).tolist() == [1.5] * 3


def test_arange(device):
    t = minigen.arange(5, device=device)
    assert t.dtype == minigen.int64 and t.tolist() == [0, 1, 2, 3, 4] and t.device == device
    assert minigen.arange(2, 8, 2, device=device).tolist() == [2, 4, 6]
    f = minigen.arange(0, 1, 0.25, device=device)
    assert f.dtype == minigen.float32 and f.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert minigen.arange(5, 0, -2).tolist() == [5, 3, 1]
    assert minigen.arange(3, dtype=minigen.float64).dtype == minigen.float64
    assert minigen.arange(0).shape == (0,)
    with pytest.raises(RuntimeError, match="step"):
        minigen.arange(0, 3, 0)


def test_linspace_and_eye(device):
    t = minigen.linspace(0, 1, 5, device=device)
    assert t.dtype == minigen.float32 and t.device == device
    np.testing.assert_allclose(t.cpu().numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    e = minigen.eye(3, device=device)
    assert e.dtype == minigen.float32
    np.testing.assert_array_equal(e.cpu().numpy(), np.eye(3))
    np.testing.assert_array_equal(minigen.eye(2, 3, dtype=minigen.float64).cpu().numpy(), np.eye(2, 3))


def test_randint(device):
    t = minigen.randint(0, 4, (50,), device=device)
    assert t.dtype == minigen.int64 and t.device == device and t.shape == (50,)
    assert set(t.tolist()) <= {0, 1, 2, 3}
    t2 = minigen.randint(3, (2, 2), device=device)
    assert t2.shape == (2, 2) and t2.cpu().numpy().max() < 3
    with pytest.raises(RuntimeError, match="low < high"):
        minigen.randint(5, 5, (2,))


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like", "rand_like",
                                  "randn_like", "full_like"])
def test_like_functions(name, device):
    src = minigen.tensor([[1.0, 2.0, 3.0]], dtype=minigen.float64, device=device)
    fn = getattr(minigen, name)
    args = (src, 7.0) if name == "full_like" else (src,)
    t = fn(*args)
    assert t.shape == (1, 3) and t.dtype == minigen.float64 and t.device == device
    assert not t.requires_grad
    t32 = fn(*args, dtype=minigen.float32, requires_grad=True)
    assert t32.dtype == minigen.float32 and t32.requires_grad
    if name in ("zeros_like", "ones_like", "full_like"):
        want = {"zeros_like": 0.0, "ones_like": 1.0, "full_like": 7.0}[name]
        np.testing.assert_array_equal(t.cpu().numpy(), np.full((1, 3), want))


def test_like_functions_keep_integer_dtype(device):
    src = minigen.tensor([1, 2], device=device)
    assert minigen.zeros_like(src).dtype == minigen.int64
    assert minigen.randint_like(src, 10).dtype == minigen.int64


def test_tril_triu_of_created_tensors(device):
    ones = minigen.ones(3, 3, device=device)
    np.testing.assert_array_equal(minigen.tril(ones).cpu().numpy(), np.tril(np.ones((3, 3))))
    np.testing.assert_array_equal(ones.triu(1).cpu().numpy(), np.triu(np.ones((3, 3)), 1))


# ----------------------------------------------------------------------------- properties
def test_tensor_properties(device):
    t = minigen.tensor(np.arange(24.0).reshape(2, 3, 4), device=device)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.numel() == 24 and len(t) == 2
    assert t.dtype == minigen.float64 and t.device == device
    assert not t.requires_grad and t.grad is None and t.is_leaf
    m = minigen.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    assert m.T.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    with pytest.raises(IndexError, match="dimension out of range"):
        t.size(3)


def test_scalar_conversions(device):
    t = minigen.tensor([[2.5]], device=device)
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert float(t) == 2.5 and int(minigen.tensor(3, device=device)) == 3
    assert minigen.tensor(3, device=device).item() == 3
    with pytest.raises(ValueError, match="2 elements"):
        minigen.tensor([1.0, 2.0]).item()
    assert minigen.tensor([[1, 2], [3, 4]], device=device).tolist() == [[1, 2], [3, 4]]


def test_dtype_conversion_methods(device):
    t = minigen.tensor([1.7, -2.2], device=device)
    assert t.double().dtype == minigen.float64
    assert t.double().float().dtype == minigen.float32
    assert t.long().dtype == minigen.int64 and t.long().tolist() == [1, -2]
    assert t.long().float().dtype == minigen.float32
    assert t.to(minigen.float64).device == device


def test_detach_clone_requires_grad(device):
    x = minigen.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 2.0
    assert not y.is_leaf and y.requires_grad and y.grad_fn is not None
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.tolist() == [2.0, 4.0]
    c = x.clone()
    assert c.requires_grad and not c.is_leaf
    c.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    z = minigen.zeros(2, device=device)
    assert z.requires_grad_() is z and z.requires_grad
    z.requires_grad_(False)
    assert not z.requires_grad


def test_repr_names_device_dtype_and_grad(device):
    x = minigen.tensor([1.0, 2.0], dtype=minigen.float64, device=device, requires_grad=True)
    r = repr(x)
    assert r.startswith("tensor(") and "float64" in r and "requires_grad=True" in r
    assert ("cuda" in r) == (device == "cuda")
    assert "grad_fn" in repr(x * 2.0)


# ----------------------------------------------------------------------------- vs torch
def _cases():
    return {
        "tensor_floats": (lambda m: m.tensor([1.0, 2.0]), lambda t: t.tensor([1.0, 2.0])),
        "tensor_ints": (lambda m: m.tensor([[1, 2]]), lambda t: t.tensor([[1, 2]])),
        "tensor_mixed": (lambda m: m.tensor([1, 2.5]), lambda t: t.tensor([1, 2.5])),
        "tensor_bools": (lambda m: m.tensor([True]), lambda t: t.tensor([True])),
        "tensor_float_scalar": (lambda m: m.tensor(3.5), lambda t: t.tensor(3.5)),
        "tensor_np_float64": (lambda m: m.tensor(np.ones(2)), lambda t: t.tensor(np.ones(2))),
        "tensor_np_int32": (lambda m: m.tensor(np.arange(3, dtype=np.int32)),
                            lambda t: t.tensor(np.arange(3, dtype=np.int32))),
        "zeros": (lambda m: m.zeros(2, 3), lambda t: t.zeros(2, 3)),
        "ones_tuple": (lambda m: m.ones((3,)), lambda t: t.ones((3,))),
        "full_int": (lambda m: m.full((2,), 3), lambda t: t.full((2,), 3)),
        "full_float": (lambda m: m.full((2,), 2.5), lambda t: t.full((2,), 2.5)),
        "full_bool": (lambda m: m.full((2,), True), lambda t: t.full((2,), True)),
        "arange_int": (lambda m: m.arange(5), lambda t: t.arange(5)),
        "arange_float": (lambda m: m.arange(0, 1, 0.25), lambda t: t.arange(0, 1, 0.25)),
        "arange_float_start": (lambda m: m.arange(1.0, 4), lambda t: t.arange(1.0, 4)),
        "arange_negative_step": (lambda m: m.arange(5, 0, -2), lambda t: t.arange(5, 0, -2)),
        "linspace": (lambda m: m.linspace(-1, 1, 5), lambda t: t.linspace(-1, 1, 5)),
        "eye": (lambda m: m.eye(3), lambda t: t.eye(3)),
        "eye_rect": (lambda m: m.eye(2, 4), lambda t: t.eye(2, 4)),
        "zeros_like_int": (lambda m: m.zeros_like(m.tensor([1, 2])),
                           lambda t: t.zeros_like(t.tensor([1, 2]))),
        "ones_like_f64": (lambda m: m.ones_like(m.zeros(2, dtype=m.float64)),
                          lambda t: t.ones_like(t.zeros(2, dtype=t.float64))),
        "full_like": (lambda m: m.full_like(m.tensor([1, 2]), 7),
                      lambda t: t.full_like(t.tensor([1, 2]), 7)),
        "randint_dtype": (lambda m: m.randint(0, 1, (3,)), lambda t: t.randint(0, 1, (3,))),
        "rand_dtype": (lambda m: m.rand(2) * 0, lambda t: t.rand(2) * 0),
    }


@pytest.mark.parametrize("case", sorted(_cases()))
def test_creation_matches_torch(case):
    torch = pytest.importorskip("torch")
    ours, theirs = _cases()[case]
    m, t = ours(minigen), theirs(torch)
    assert m.dtype.name == str(t.dtype).replace("torch.", ""), (m.dtype, t.dtype)
    assert tuple(m.shape) == tuple(t.shape)
    np.testing.assert_allclose(m.cpu().numpy(), t.cpu().numpy(), rtol=1e-6)
