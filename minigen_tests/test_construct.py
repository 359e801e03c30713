"""minigen/ops/construct*.py and the creation additions: values against NumPy (and torch where
installed), gradients (gradcheck, gradgradcheck), index errors, dtype/device semantics. The
registered specs (minigen/testing/construct_specs.py) run check_op in test_op_registry."""
import warnings

import numpy as np
import pytest

import minigen as mg
from minigen.testing.op_specs import get_spec


def T(a, device, **kw):
    return mg.tensor(np.asarray(a), device=device, **kw)


def leaf(a, device):
    return mg.tensor(np.asarray(a, dtype=np.float64), dtype=mg.float64, device=device,
                     requires_grad=True)


# ----------------------------------------------------------------------------- selecting
def test_nonzero_argwhere(device):
    a = np.array([[0, 1.5, 0], [2, 0, -1]])
    x = T(a, device)
    got = mg.nonzero(x)
    assert got.dtype == mg.int64 and got.device == device
    np.testing.assert_array_equal(got.cpu().numpy(), np.argwhere(a))
    np.testing.assert_array_equal(x.argwhere().cpu().numpy(), np.argwhere(a))
    rows, cols = x.nonzero(as_tuple=True)
    np.testing.assert_array_equal(rows.cpu().numpy(), np.nonzero(a)[0])
    np.testing.assert_array_equal(cols.cpu().numpy(), np.nonzero(a)[1])
    assert mg.nonzero(T(5.0, device)).shape == (1, 0)
    assert mg.nonzero(T(0.0, device)).shape == (0, 0)


def test_unique(device):
    a = np.array([[3, 1, 3], [2, 1, 1]])
    vals, inv, counts = mg.unique(T(a, device), return_inverse=True, return_counts=True)
    want_v, want_i, want_c = np.unique(a, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(vals.cpu().numpy(), want_v)
    np.testing.assert_array_equal(inv.cpu().numpy(), want_i.reshape(a.shape))
    np.testing.assert_array_equal(counts.cpu().numpy(), want_c)
    np.testing.assert_array_equal(vals.cpu().numpy()[inv.cpu().numpy()], a)
    np.testing.assert_array_equal(T(a, device).unique().cpu().numpy(), [1, 2, 3])
    with pytest.raises(NotImplementedError):
        mg.unique(T(a, device), dim=0)


def test_masked_select_needs_bool(device):
    with pytest.raises(RuntimeError, match="masked_select"):
        mg.masked_select(T([1.0, 2.0], device), T([1, 0], device))


def test_narrow_select_take(device):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = T(a, device)
    np.testing.assert_array_equal(x.narrow(2, -2, 2).cpu().numpy(), a[:, :, 2:4])
    np.testing.assert_array_equal(mg.select(x, 1, 2).cpu().numpy(), a[:, 2])
    np.testing.assert_array_equal(mg.take(x, T([[0, 23], [-1, 5]], device)).cpu().numpy(),
                                  a.reshape(-1)[[[0, 23], [-1, 5]]])
    with pytest.raises(RuntimeError, match="narrow"):
        x.narrow(2, 3, 2)
    with pytest.raises(IndexError):
        mg.take(x, T([24], device))
    with pytest.raises(IndexError):
        mg.select(x, 1, 3)


# ----------------------------------------------------------------------------- scattering
def test_scatter_values_and_input_unchanged(device):
    a = np.zeros((3, 4))
    src = np.arange(1.0, 9.0).reshape(2, 4)
    idx = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])
    x, s = T(a, device), T(src, device)
    out = mg.scatter(x, 0, T(idx, device), s)
    want = a.copy()
    for i in range(2):
        for j in range(4):
            want[idx[i, j], j] = src[i, j]
    np.testing.assert_array_equal(out.cpu().numpy(), want)
    np.testing.assert_array_equal(x.cpu().numpy(), a)  # not in place
    np.testing.assert_array_equal(mg.scatter(x, 0, T(idx, device), 7.0).cpu().numpy(),
                                  np.where(want != 0, 7.0, 0.0))


def test_scatter_gradients_with_repeated_index_match_torch(device):
    torch = pytest.importorskip("torch")
    a, src = np.random.randn(3, 2), np.random.randn(2, 2)
    idx = np.array([[1, 0], [1, 0]])  # every target written twice
    x, s = leaf(a, device), leaf(src, device)
    g = np.random.randn(3, 2)
    mg.scatter(x, 0, T(idx, device), s).backward(T(g, device, dtype=mg.float64))
    tx = torch.tensor(a, requires_grad=True)
    ts = torch.tensor(src, requires_grad=True)
    torch.scatter(tx, 0, torch.tensor(idx), ts).backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.cpu().numpy())
    np.testing.assert_allclose(s.grad.cpu().numpy(), ts.grad.cpu().numpy())


def test_scatter_matches_composite_twin(device):
    # with no repeated target: scatter = input * (1 - written) + scatter_add(zeros, src)
    a, src = np.random.randn(3, 4), np.random.randn(2, 4)
    idx = T(np.array([[0, 1, 2, 0], [2, 0, 1, 1]]), device)
    x1, s1, x2, s2 = leaf(a, device), leaf(src, device), leaf(a, device), leaf(src, device)
    g = T(np.random.randn(3, 4), device, dtype=mg.float64)
    y1 = mg.scatter(x1, 0, idx, s1)
    written = mg.scatter(mg.zeros(3, 4, dtype=mg.float64, device=device), 0, idx, 1.0)
    y2 = x2 * (1 - written) + mg.zeros(3, 4, dtype=mg.float64, device=device).scatter_add(0, idx, s2)
    np.testing.assert_allclose(y1.cpu().numpy(), y2.cpu().numpy())
    g1 = mg.grad(y1, [x1, s1], g, create_graph=True)
    g2 = mg.grad(y2, [x2, s2], g, create_graph=True)
    for p, q in zip(g1, g2):
        np.testing.assert_allclose(p.cpu().numpy(), q.cpu().numpy())


def test_scatter_family_gradcheck(device):
    rng = np.random.default_rng(3)
    idx = T(np.array([[1, 0, 1]]), device)
    x, s = leaf(rng.standard_normal((2, 3)), device), leaf(rng.standard_normal((1, 3)), device)
    for fn in (lambda x, s: mg.scatter(x, 0, idx, s), lambda x, s: mg.scatter_add(x, 0, idx, s)):
        assert mg.gradcheck(fn, (x, s))
        assert mg.gradgradcheck(fn, (x, s))


def test_scatter_family_against_torch(device):
    torch = pytest.importorskip("torch")
    a, src = np.random.randn(3, 4), np.random.randn(3, 4)
    idx = np.array([[0, 0, 3], [2, 1, 2]])
    got = mg.scatter_add(T(a, device), 1, T(idx, device), T(src, device))
    want = torch.scatter_add(torch.tensor(a), 1, torch.tensor(idx), torch.tensor(src))
    np.testing.assert_allclose(got.cpu().numpy(), want.cpu().numpy())
    i1 = np.array([3, 0, 3])
    s1 = np.random.randn(3, 3)
    got = T(a, device).index_add(1, T(i1, device), T(s1, device), alpha=-0.5)
    want = torch.tensor(a).index_add(1, torch.tensor(i1), torch.tensor(s1), alpha=-0.5)
    np.testing.assert_allclose(got.cpu().numpy(), want.cpu().numpy())
    got = T(a, device).index_fill(1, T([-1, 0], device), 9.0)
    want = torch.tensor(a).index_fill(1, torch.tensor([-1, 0]), 9.0)
    np.testing.assert_allclose(got.cpu().numpy(), want.cpu().numpy())


@pytest.mark.parametrize("bad", [4, -1])
def test_scatter_family_index_errors(device, bad):
    x = T(np.zeros((3, 4)), device)
    idx = T(np.array([[0, bad]]), device)
    with pytest.raises(IndexError, match="scatter: index"):
        mg.scatter(x, 1, idx, T(np.ones((1, 2)), device))
    with pytest.raises(IndexError, match="scatter_add: index"):
        mg.scatter_add(x, 1, idx, T(np.ones((1, 2)), device))
    with pytest.raises(IndexError, match="index_add: index"):
        mg.index_add(x, 1, T([bad], device), T(np.ones((3, 1)), device))
    with pytest.raises(RuntimeError, match="index_add: source"):
        mg.index_add(x, 1, T([0], device), T(np.ones((3, 2)), device))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        mg.scatter(x, 0, T([0], device), 1.0)


def test_index_fill_out_of_range(device):
    with pytest.raises(IndexError, match="index_fill"):
        T(np.zeros((3, 2)), device).index_fill(0, T([3], device), 1.0)


# ----------------------------------------------------------------------------- building
def test_diag_trace_against_torch(device):
    torch = pytest.importorskip("torch")
    v, m = np.random.randn(3), np.random.randn(3, 4)
    for k in (-2, 0, 1):
        np.testing.assert_allclose(mg.diag(T(v, device), k).cpu().numpy(), torch.diag(torch.tensor(v), k))
        np.testing.assert_allclose(mg.diag(T(m, device), k).cpu().numpy(), torch.diag(torch.tensor(m), k))
    b = np.random.randn(2, 3)
    np.testing.assert_allclose(mg.diag_embed(T(b, device), 1, 0, 2).cpu().numpy(),
                               torch.diag_embed(torch.tensor(b), 1, 0, 2))
    np.testing.assert_allclose(T(m, device).trace().item(), np.trace(m))
    with pytest.raises(RuntimeError, match="diag"):
        mg.diag(T(np.zeros((2, 2, 2)), device))


def test_meshgrid_indexing_and_warning(device):
    a, b = np.arange(2.0), np.arange(3.0)
    with pytest.warns(UserWarning, match="indexing"):
        gx, gy = mg.meshgrid(T(a, device), T(b, device))
    want = np.meshgrid(a, b, indexing="ij")
    np.testing.assert_array_equal(gx.cpu().numpy(), want[0])
    np.testing.assert_array_equal(gy.cpu().numpy(), want[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = mg.meshgrid([T(a, device), T(b, device), T(b, device)], indexing="xy")
    for p, q in zip(out, np.meshgrid(a, b, b, indexing="xy")):
        np.testing.assert_array_equal(p.cpu().numpy(), q)


def test_broadcast_shapes():
    assert mg.broadcast_shapes((2, 1), (3,), 1) == (2, 3)
    with pytest.raises(RuntimeError, match="broadcast_shapes"):
        mg.broadcast_shapes((2,), (3,))


def test_stacks_of_scalars_and_vectors(device):
    s, v = T(1.0, device), T([2.0, 3.0], device)
    np.testing.assert_array_equal(mg.hstack([s, v]).cpu().numpy(), [1, 2, 3])
    np.testing.assert_array_equal(mg.vstack([v, v]).cpu().numpy(), np.vstack([[2, 3], [2, 3]]))
    assert mg.column_stack([v, v]).shape == (2, 2)
    assert mg.dstack([v, v]).shape == (1, 2, 2)
    # integer inputs keep their dtype
    assert mg.hstack([T([1, 2], device), T([3], device)]).dtype == mg.int64


def test_tensor_split_and_tile_against_torch(device):
    torch = pytest.importorskip("torch")
    a = np.arange(14.0).reshape(7, 2)
    for ios in (3, [3, 1, 9], 7):
        got = mg.tensor_split(T(a, device), ios)
        want = torch.tensor_split(torch.tensor(a), ios)
        assert len(got) == len(want)
        for p, q in zip(got, want):
            np.testing.assert_array_equal(p.cpu().numpy(), q.cpu().numpy())
    got = T(a, device).tensor_split(T([2, 5], device))
    assert [p.shape[0] for p in got] == [2, 3, 2]
    np.testing.assert_array_equal(T(a, device).tile((2,)).cpu().numpy(), torch.tensor(a).tile((2,)))


def test_repeat_interleave_forms(device):
    torch = pytest.importorskip("torch")
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(mg.repeat_interleave(T(a, device), 2, dim=1).cpu().numpy(),
                                  np.repeat(a, 2, axis=1))
    np.testing.assert_array_equal(mg.repeat_interleave(T(a, device), T([3], device), dim=0).cpu().numpy(),
                                  np.repeat(a, 3, axis=0))
    np.testing.assert_array_equal(mg.repeat_interleave(T([1, 2], device)).cpu().numpy(),
                                  torch.repeat_interleave(torch.tensor([1, 2])).cpu().numpy())
    with pytest.raises(RuntimeError, match="repeat_interleave"):
        mg.repeat_interleave(T(a, device), T([1, 2], device), dim=1)


def test_flips_and_rot90(device):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = T(a, device)
    np.testing.assert_array_equal(x.fliplr().cpu().numpy(), np.fliplr(a))
    np.testing.assert_array_equal(x.flipud().cpu().numpy(), np.flipud(a))
    for k in range(-5, 6):
        np.testing.assert_array_equal(mg.rot90(x, k, [2, 0]).cpu().numpy(), np.rot90(a, k, (2, 0)))
    with pytest.raises(RuntimeError, match="fliplr"):
        mg.fliplr(T([1.0], device))
    with pytest.raises(RuntimeError, match="rot90"):
        mg.rot90(x, 1, (1, 1))


@pytest.mark.parametrize("name", ["diag_embed", "meshgrid_xy", "tensor_split_indices",
                                  "repeat_interleave_tensor", "rot90", "masked_select"])
def test_composites_gradgradcheck(device, name):
    spec = get_spec(name)
    xs = spec.make_inputs(np.random.default_rng(5), device)
    assert mg.gradcheck(spec.fn, xs)
    assert mg.gradgradcheck(spec.fn, xs)


# ----------------------------------------------------------------------------- creation
def test_logspace_and_tri_indices(device):
    torch = pytest.importorskip("torch")
    got = mg.logspace(-1, 2, 5, base=2.0, device=device)
    assert got.dtype == mg.float32 and got.device == device
    np.testing.assert_allclose(got.cpu().numpy(), np.logspace(-1, 2, 5, base=2.0), rtol=1e-6)
    for r, c, k in [(3, 3, 0), (4, 2, -1), (2, 5, 2), (0, 3, 0)]:
        np.testing.assert_array_equal(mg.tril_indices(r, c, k, device=device).cpu().numpy(),
                                      torch.tril_indices(r, c, k).cpu().numpy())
        np.testing.assert_array_equal(mg.triu_indices(r, c, k, device=device).cpu().numpy(),
                                      torch.triu_indices(r, c, k).cpu().numpy())
    assert mg.triu_indices(3, 3, device=device).dtype == mg.int64


# ----------------------------------------------------------------------------- tensor facts
def test_new_methods_keep_dtype_and_device(device):
    x = T(np.zeros(2), device, dtype=mg.float64)
    for t in (x.new_zeros(2, 3), x.new_ones((2, 3)), x.new_empty(2, 3), x.new_full((2, 3), 4.0)):
        assert t.shape == (2, 3) and t.dtype == mg.float64 and t.device == device
    assert x.new_full((1,), 4.0).item() == 4.0 and x.new_ones(1).item() == 1.0
    t = x.new_tensor([1, 2])
    assert t.dtype == mg.float64 and t.device == device and t.tolist() == [1.0, 2.0]
    assert x.new_zeros(2, dtype=mg.int64).dtype == mg.int64
    assert x.new_zeros(2, device="cpu").device == "cpu"
    assert x.new_ones(2, requires_grad=True).requires_grad


def test_dtype_predicates_sizes_strides(device):
    x = T(np.zeros((2, 3, 4)), device, dtype=mg.float32)
    assert x.is_floating_point() and mg.is_floating_point(x) and not x.is_complex()
    assert not T([1], device).is_floating_point()
    assert mg.numel(x) == 24 and mg.is_tensor(x) and not mg.is_tensor(np.zeros(2))
    assert x.nbytes == 96 and x.itemsize == 4
    assert x.stride() == (12, 4, 1) and x.stride(-2) == 4
    assert x.transpose(0, 2).stride() == (1, 4, 12)
    y = x.type(mg.float64)
    assert y.dtype == mg.float64 and y.device == device
    assert T([1], device).type() in ("minigen.LongTensor", "minigen.cuda.LongTensor")


def test_finfo_iinfo_against_torch():
    torch = pytest.importorskip("torch")
    for ours, theirs in [(mg.float32, torch.float32), (mg.float64, torch.float64),
                         (mg.float16, torch.float16)]:
        a, b = mg.finfo(ours), torch.finfo(theirs)
        assert (a.eps, a.max, a.min, a.tiny, a.bits, a.dtype) == \
            (b.eps, b.max, b.min, b.tiny, b.bits, b.dtype)
    assert mg.finfo().dtype == "float32"
    for ours, theirs in [(mg.int64, torch.int64), (mg.int32, torch.int32), (mg.uint8, torch.uint8)]:
        a, b = mg.iinfo(ours), torch.iinfo(theirs)
        assert (a.max, a.min, a.bits, a.dtype) == (b.max, b.min, b.bits, b.dtype)
    with pytest.raises(TypeError):
        mg.finfo(mg.int64)


def test_generator_seed_state_and_random_functions(device):
    g = mg.Generator(device)
    assert g.manual_seed(7) is g and g.initial_seed() == 7
    a = mg.randn(3, generator=g, device=device).cpu().numpy()
    state = g.get_state()
    b = mg.rand(4, generator=g, device=device).cpu().numpy()
    c = mg.randint(0, 10, (5,), generator=g, device=device).cpu().numpy()
    g.set_state(state)
    np.testing.assert_array_equal(mg.rand(4, generator=g, device=device).cpu().numpy(), b)
    np.testing.assert_array_equal(mg.randint(0, 10, (5,), generator=g, device=device).cpu().numpy(), c)
    g.manual_seed(7)
    np.testing.assert_array_equal(mg.randn(3, generator=g, device=device).cpu().numpy(), a)
    s = g.seed()
    assert g.initial_seed() == s
    assert sorted(mg.randperm(6, generator=g, device=device).tolist()) == list(range(6))


def test_generator_in_dataloader():
    from minigen.utils.data import DataLoader, TensorDataset
    ds = TensorDataset(mg.arange(10))

    def order(seed):
        return [int(v) for (b,) in DataLoader(ds, batch_size=3, shuffle=True,
                                              generator=mg.Generator().manual_seed(seed))
                for v in b]
    assert order(1) == order(1) and sorted(order(1)) == list(range(10))
    assert order(1) != order(2)


def test_inference_mode(device):
    x = leaf([1.0], device)
    with mg.inference_mode():
        assert not (x * 2).requires_grad
        with mg.inference_mode(False):
            assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
