"""The simulated CUDA device must be trustworthy: it behaves like CuPy where that catches bugs."""
import copy
import pickle

import numpy as np
import pytest

import minigen.backend as B
from minigen.testing import simulated_cuda as sc
from minigen.testing.simulated_cuda import SimArray, simnp


@pytest.fixture
def restore_cuda():
    """Leave the 'cuda' registration as the session had it (conftest may have installed us)."""
    previous = B._backends.get("cuda")
    yield
    B.unregister_backend("cuda")
    if previous is not None:
        B.register_backend("cuda", previous)


@pytest.fixture
def cuda(restore_cuda):
    yield sc.install()


def sim(data, dtype=None):
    return simnp.asarray(data, dtype=dtype)


# ----------------------------------------------------------------------------- refusing NumPy
@pytest.mark.parametrize("convert", [np.asarray, np.array, lambda a: np.asarray([a, a]),
                                     lambda a: np.array(a, dtype=np.float64)])
def test_implicit_conversion_to_numpy_raises(convert):
    a = sim([1.0, 2.0])
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        convert(a)


def test_not_an_ndarray():
    a = sim([1.0, 2.0])
    assert not isinstance(a, np.ndarray)
    assert isinstance(a, simnp.ndarray)
    for name in ("__array_interface__", "__array_struct__", "data", "ctypes", "flat"):
        assert not hasattr(a, name)


@pytest.mark.parametrize("op", [lambda x, y: x + y, lambda x, y: x * y, lambda x, y: x @ y,
                                lambda x, y: x < y, lambda x, y: x == y, lambda x, y: x - y])
def test_mixing_with_host_arrays_raises_both_orders(op):
    d = sim(np.ones(3, np.float32))
    h = np.ones(3, np.float32)
    with pytest.raises(TypeError) as e1:
        op(h, d)
    assert "SimArray" in str(e1.value)
    with pytest.raises(TypeError) as e2:
        op(d, h)
    assert "SimArray" in str(e2.value) and "numpy.ndarray" in str(e2.value)


def test_mixing_with_0d_host_array_raises():
    d = sim([1.0, 2.0])
    with pytest.raises(TypeError):
        d + np.array(1.0)
    with pytest.raises(TypeError):
        simnp.add(d, np.array(1.0))


def test_in_place_mixing_raises():
    d = sim(np.ones(3))
    h = np.ones(3)
    with pytest.raises(TypeError):
        d += h
    with pytest.raises(TypeError):
        h += d
    np.testing.assert_array_equal(d.get(), np.ones(3))


def test_xp_functions_reject_host_arrays():
    d = sim(np.ones(3))
    h = np.ones(3)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        simnp.add(d, h)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        simnp.concatenate([d, h])
    with pytest.raises(TypeError, match="numpy.ndarray"):
        simnp.where(d > 0, d, h)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        simnp.exp(h)
    with pytest.raises(TypeError):
        simnp.linalg.norm(h)
    with pytest.raises(TypeError):
        simnp.maximum(d, out=h)


def test_numpy_functions_refuse_device_arrays():
    d = sim([1.0, 2.0])
    with pytest.raises(TypeError):
        np.exp(d)
    with pytest.raises(TypeError):
        np.sum(d)
    with pytest.raises(TypeError):
        np.concatenate([d, d])
    with pytest.raises(TypeError):
        np.add.at(d, sim([0]), 1.0)


def test_scalars_mix_fine():
    d = sim(np.array([1.0, 2.0], np.float32))
    for r in (d + 1, 1 + d, d * 2.5, np.float32(2) * d, d * np.float32(2), np.float64(1) + d,
              d / np.int64(2), d ** 2, 2 ** d, -d, abs(d), d > np.float32(1), True & (d > 1)):
        assert type(r) is SimArray
    assert (np.float32(2) * d).dtype == np.float32
    np.testing.assert_array_equal((np.float32(2) * d).get(), [2.0, 4.0])
    np.testing.assert_array_equal((3 - d).get(), [2.0, 1.0])
    assert type(simnp.maximum(d, np.float32(0))) is SimArray
    i = sim([1, 2, 3])
    assert type(~i) is SimArray and type(i << 1) is SimArray and type(i % 2) is SimArray


def test_ufuncs_reject_lists():
    with pytest.raises(TypeError):
        simnp.add(sim([1.0]), [1.0])


def test_asarray_accepts_host_arrays_and_copies():
    h = np.arange(3.0)
    d = simnp.asarray(h)
    assert type(d) is SimArray
    h[0] = 99
    assert d.get()[0] == 0
    d2 = simnp.array(np.float32(3))
    assert type(d2) is SimArray and d2.shape == () and d2.dtype == np.float32
    assert simnp.asarray(d) is d
    assert simnp.asarray(d, dtype=np.float32).dtype == np.float32
    assert simnp.asarray([[1, 2], [3, 4]]).shape == (2, 2)


# ----------------------------------------------------------------------------- results
def test_results_are_device_arrays_including_0d_reductions():
    d = sim(np.arange(6, dtype=np.float32).reshape(2, 3))
    for r in (d.sum(), d.mean(), d.max(), d.argmax(), simnp.sum(d), simnp.linalg.norm(d),
              d[0, 1], d.sum(axis=0)[1], simnp.dot(d[0], d[1]), d.std()):
        assert type(r) is SimArray, type(r)
    assert d.sum().shape == () and d.sum().dtype == np.float32
    assert float(d.sum()) == 15.0
    assert int(d.argmax()) == 5
    assert bool(d.max() > 4)
    assert d.sum().item() == 15.0 and isinstance(d.sum().item(), float)
    assert d.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert type(simnp.allclose(d, d)) is SimArray and bool(simnp.allclose(d, d))
    assert f"{d.sum():.1f}" == "15.0"
    assert len(d) == 2
    assert range(10)[sim(3, dtype=np.int64)] == 3


def test_forwarded_attributes_and_methods():
    d = sim(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert d.shape == (2, 3) and d.ndim == 2 and d.size == 6 and d.dtype == np.float32
    assert d.nbytes == 24 and d.itemsize == 4 and d.strides == (12, 4)
    assert d.flags.c_contiguous
    for r in (d.T, d.reshape(3, 2), d.transpose(1, 0), d.swapaxes(0, 1), d.astype(np.float64),
              d.copy(), d.ravel(), d.clip(1, 3), d.cumsum(axis=1), d[None].squeeze(0),
              d.view(np.int32), d.var(), d.prod(), d.any(), d.all(), d.min(axis=1)):
        assert type(r) is SimArray
    assert type(d.T.base) is SimArray and d.base is None
    nz = (d > 2).nonzero()
    assert type(nz) is tuple and all(type(x) is SimArray for x in nz)
    assert d.astype(np.float64).dtype == np.float64
    e = simnp.empty((2,), np.float32)
    e.fill(7)
    np.testing.assert_array_equal(e.get(), [7, 7])
    assert type(simnp.split(simnp.arange(4), 2)[0]) is SimArray
    assert type(simnp.random.default_rng(0).random(3)) is SimArray


def test_xp_namespace_passes_constants_and_types():
    assert simnp.float32 is np.float32
    assert simnp.pi == np.pi and simnp.newaxis is None and simnp.inf == np.inf
    assert simnp.dtype is np.dtype
    assert simnp.finfo(simnp.float32).eps == np.finfo(np.float32).eps
    assert simnp.float32 is simnp.float32 and simnp.exp is simnp.exp  # cached


def test_get_is_a_copy():
    d = sim([1.0, 2.0])
    h = d.get()
    assert type(h) is np.ndarray
    h[0] = 42
    assert d.get()[0] == 1.0
    assert sc.SimulatedCudaBackend().to_numpy(d) is not d._a


def test_iteration_and_repr():
    d = sim([[1, 2], [3, 4]])
    rows = list(d)
    assert all(type(r) is SimArray for r in rows)
    assert all(type(x) is SimArray and x.shape == () for x in d[0])
    assert "SimArray" in repr(d)
    with pytest.raises(TypeError):
        iter(sim(1.0))


# ----------------------------------------------------------------------------- indexing
def test_getitem_and_setitem():
    d = sim(np.arange(12.0).reshape(3, 4))
    assert d[1].shape == (4,)
    assert d[:, 1:3].shape == (3, 2)
    assert d[None, ..., 0].shape == (1, 3)
    assert d[sim([0, 2])].shape == (2, 4)
    assert d[d > 5].shape == (6,)
    assert d[sim([0, 1]), sim([1, 2])].tolist() == [1.0, 6.0]
    assert d[[0, 2], 1].tolist() == [1.0, 9.0]
    d[0] = 0.0
    d[1, sim([0, 1])] = sim([-1.0, -2.0])
    d[d > 10] = 100.0
    d[2, :2] = [7.0, 8.0]
    assert d.tolist() == [[0, 0, 0, 0], [-1, -2, 6, 7], [7, 8, 10, 100]]
    d[0] += 1
    assert d[0].tolist() == [1, 1, 1, 1]
    with pytest.raises(TypeError):
        d[np.array([0, 1])]
    with pytest.raises(TypeError):
        d[0] = np.zeros(4)
    with pytest.raises(IndexError):
        d[5]  # plain integer indices are still checked, as in CuPy


def test_scalar_index_gives_0d_view_as_cupy():
    d = sim(np.arange(6.0).reshape(2, 3))
    x = d[0, 0]
    assert type(x) is SimArray and x.shape == ()
    x += 5  # on CuPy d[0, 0] is a 0-d view, so this writes through
    assert d[0, 0].item() == 5.0
    for v in d[1]:
        v *= 2
    assert d[1].tolist() == [6.0, 8.0, 10.0]


def test_out_of_range_integer_array_indices_wrap():
    d = sim(np.arange(5.0) * 10)
    assert d[sim([5, 7, -6])].tolist() == [0.0, 20.0, 40.0]  # NumPy would raise IndexError
    assert simnp.take(d, sim([6])).tolist() == [10.0]
    assert d.take(sim([-7])).tolist() == [30.0]
    m = sim(np.arange(6.0).reshape(2, 3))
    assert m[:, sim([3])].tolist() == [[0.0], [3.0]]
    assert m[..., sim([4])].tolist() == [[1.0], [4.0]]
    assert simnp.take_along_axis(m, sim([[3], [4]]), axis=1).tolist() == [[0.0], [4.0]]
    m[sim([2]), 0] = -1.0
    assert m[0, 0].item() == -1.0


def test_ufunc_at_and_reduce():
    d = simnp.zeros(3)
    simnp.add.at(d, sim([0, 0, 2]), 1.0)
    assert d.tolist() == [2.0, 0.0, 1.0]
    assert type(simnp.maximum.reduce(sim([1.0, 3.0, 2.0]))) is SimArray
    assert simnp.add.nin == 2


# ----------------------------------------------------------------------------- the backend
def test_scatter_add_adds_repeated_indices():
    b = sc.SimulatedCudaBackend()
    t = simnp.zeros((3, 2), dtype=np.float32)
    b.scatter_add(t, sim([0, 2, 0]), sim(np.ones((3, 2), np.float32)))
    assert t.tolist() == [[2, 2], [0, 0], [1, 1]]
    b.scatter_add(t, (sim([1, 1]), slice(None)), 0.5)
    assert t.tolist() == [[2, 2], [1, 1], [1, 1]]
    with pytest.raises(TypeError):
        b.scatter_add(np.zeros(3), sim([0]), 1.0)
    with pytest.raises(TypeError):
        b.scatter_add(t, np.array([0]), 1.0)


def test_asarray_and_to_numpy():
    b = sc.SimulatedCudaBackend()
    h = np.arange(4, dtype=np.float32)
    d = b.asarray(h)
    assert type(d) is SimArray and d.dtype == np.float32
    h[0] = 5
    assert d.get()[0] == 0
    assert b.asarray([1, 2], dtype=np.float64).dtype == np.float64
    back = b.to_numpy(d)
    assert type(back) is np.ndarray and back.tolist() == [0, 1, 2, 3]


def test_generator_is_seeded_and_returns_device_arrays():
    b = sc.SimulatedCudaBackend()
    g1, g2 = b.generator(123), b.generator(123)
    for dtype in (np.float32, np.float64):
        r1, r2 = g1.random((2, 3), dtype=dtype), g2.random((2, 3), dtype=dtype)
        assert type(r1) is SimArray and r1.dtype == dtype and r1.shape == (2, 3)
        np.testing.assert_array_equal(r1.get(), r2.get())
        n = g1.standard_normal((4,), dtype=dtype)
        assert type(n) is SimArray and n.dtype == dtype
        g2.standard_normal((4,), dtype=dtype)
    i = g1.integers(0, 10, size=(5,))
    assert type(i) is SimArray and i.dtype == np.int64 and int(i.max()) < 10
    p = g1.permutation(6)
    assert type(p) is SimArray and sorted(p.tolist()) == list(range(6))
    assert type(g1.uniform(-1, 1, size=3, dtype=np.float32)) is SimArray
    assert g1.normal(0, 1, size=(2,), dtype=np.float32).dtype == np.float32
    assert type(g1.choice(5, size=2, replace=False)) is SimArray
    assert type(g1.random()) is SimArray  # CuPy gives a 0-d array, not a float
    # The cuda stream differs from the cpu stream for the same seed, as on real hardware.
    cpu = B.Backend().generator(123).random(3)
    assert not np.array_equal(cpu, b.generator(123).random(3).get())


def test_as_strided():
    b = sc.SimulatedCudaBackend()
    d = sim(np.arange(6, dtype=np.float32))
    w = b.as_strided(d, (4, 3), (4, 4))
    assert type(w) is SimArray and w.shape == (4, 3)
    assert w[1].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError):
        w[0, 0] = 1.0


def test_memory_allocated_counts_live_arrays():
    b = sc.SimulatedCudaBackend()
    before = b.memory_allocated()
    big = simnp.zeros(1 << 16, dtype=np.float32)
    view = big[::2]
    assert b.memory_allocated() - before == big.nbytes  # the view shares the buffer
    del big, view


def test_copy_and_pickle():
    d = sim([1.0, 2.0])
    for c in (copy.copy(d), copy.deepcopy(d), pickle.loads(pickle.dumps(d))):
        assert type(c) is SimArray and c.tolist() == [1.0, 2.0]
        c[0] = 9
        assert d[0].item() == 1.0


def test_install_registers_cuda(cuda):
    import minigen.cuda

    assert isinstance(cuda, sc.SimulatedCudaBackend)
    assert B.get_backend("cuda") is cuda
    assert B.get_backend(B.device("cuda")).xp is simnp
    assert B.backend_of(sim([1.0])) is cuda
    assert minigen.cuda.is_available()
    B.check_index(simnp, sim([0, 1]), 2, "test")
    with pytest.raises(IndexError):
        B.check_index(simnp, sim([0, 2]), 2, "test")


def test_uninstall_and_context_manager(restore_cuda):
    B.unregister_backend("cuda")
    with sc.simulated_cuda() as b:
        assert B.get_backend("cuda") is b
    assert not isinstance(B._backends.get("cuda"), sc.SimulatedCudaBackend)
    outer = sc.install()
    with sc.simulated_cuda():
        pass
    assert B._backends["cuda"] is outer  # an outer install() survives the context manager
    sc.uninstall()
    assert not isinstance(B._backends.get("cuda"), sc.SimulatedCudaBackend)
