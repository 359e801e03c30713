"""Gaps found running the official PyTorch tutorials (pytorch/tutorials beginner_source /
intermediate_source) with ``torch`` pointing at minigen; each compared with real PyTorch."""
import warnings

import numpy as np
import pytest

import minigen

torch = pytest.importorskip("torch")


# -- out= on torch.* functions (60-minute blitz, tensor_tutorial: torch.matmul(t, t.T, out=y3))
def test_out_keyword_matmul_mul_writes_and_returns_out():
    a = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)
    for lib in (torch, minigen):
        t = lib.tensor(a)
        y3 = lib.zeros(4, 4)
        r = lib.matmul(t, t.T, out=y3)
        assert r is y3
        z3 = lib.zeros(4, 4)
        lib.mul(t, t, out=z3)
        if lib is torch:
            ty3, tz3 = y3.numpy(), z3.numpy()
        else:
            np.testing.assert_allclose(y3.numpy(), ty3, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(z3.numpy(), tz3, rtol=1e-6)


def test_out_keyword_resizes_casts_and_tuples():
    x = np.array([[1., 3.], [2., 0.]], dtype=np.float32)
    res = {}
    for lib in (torch, minigen):
        o = lib.empty(0, dtype=lib.float64)
        lib.add(lib.tensor(x), 1, out=o)           # empty out: resized silently, cast to float64
        v, i = lib.empty(0), lib.empty(0, dtype=lib.long)
        lib.max(lib.tensor(x), 1, out=(v, i))
        with pytest.warns(UserWarning):            # non-empty out of the wrong shape: a warning
            lib.add(lib.tensor(x), 1, out=lib.zeros(3))
        res[lib] = (o.numpy(), str(o.dtype), v.numpy(), i.numpy())
    assert res[torch][1].split(".")[-1] == res[minigen][1].split(".")[-1]
    for a, b in zip(res[torch][::2] + (res[torch][3],), res[minigen][::2] + (res[minigen][3],)):
        np.testing.assert_array_equal(a, b)


def test_out_keyword_refuses_autograd():
    for lib in (torch, minigen):
        x = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="out="):
            lib.mul(x, x, out=lib.empty(2))
        with lib.no_grad():
            o = lib.empty(2)
            lib.mul(x, x, out=o)                   # fine without grad mode
            assert o.tolist() == [1.0, 1.0]
        with pytest.raises(RuntimeError):          # float result into an integer out
            lib.add(lib.ones(2), 0.5, out=lib.zeros(2, dtype=lib.long))


# -- grad_fn.next_functions (60-minute blitz, neural_networks_tutorial)
def test_grad_fn_next_functions_walks_to_accumulate_grad():
    for lib in (torch, minigen):
        w = lib.ones(3, requires_grad=True)
        c = lib.ones(3)
        loss = (w * c).sum()
        nf = loss.grad_fn.next_functions
        assert len(nf) == 1
        mul = nf[0][0]
        pairs = mul.next_functions
        assert len(pairs) == 2
        acc = pairs[0][0]
        assert "AccumulateGrad" in acc.name() and acc.variable is w
        assert pairs[1][0] is None                   # a constant input: no node
        assert "Mul" in mul.name()


# -- torch.autograd.forward_ad (intermediate_source/forward_ad_usage.py)
def _fwd_ad_case(lib):
    fwAD = lib.autograd.forward_ad
    rng = np.random.default_rng(1)
    p, t, y = (lib.tensor(rng.standard_normal((4, 5))) for _ in range(3))
    lin = lib.nn.Linear(5, 3).double()
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(rng.standard_normal((3, 5))))
        lin.bias.copy_(lib.tensor(rng.standard_normal(3)))
    tw = lib.tensor(rng.standard_normal((3, 5)))
    with fwAD.dual_level():
        d = fwAD.make_dual(p, t)
        assert fwAD.unpack_dual(d).tangent is t
        out = (d ** 2 + y ** 2).sin()
        jvp1 = fwAD.unpack_dual(out).tangent
        assert fwAD.unpack_dual(y).tangent is None          # a plain tensor: no tangent
        dual_params = {"weight": fwAD.make_dual(lin.weight, tw), "bias": lin.bias}
        jvp2 = fwAD.unpack_dual(lib.func.functional_call(lin, dual_params, (p,))).tangent
    assert fwAD.unpack_dual(out).tangent is None            # tangents end with the level
    return jvp1.detach().numpy(), jvp2.detach().numpy()


def test_forward_ad_dual_tensors_match_torch():
    for a, b in zip(_fwd_ad_case(torch), _fwd_ad_case(minigen)):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


def test_forward_ad_needs_a_level_and_matching_shapes():
    fwAD = minigen.autograd.forward_ad
    with pytest.raises(RuntimeError, match="level"):
        fwAD.make_dual(minigen.ones(2), minigen.ones(2))
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match="size"):
            fwAD.make_dual(minigen.ones(2), minigen.ones(3))


def _custom_jvp_case(lib):
    class Fn(lib.autograd.Function):
        @staticmethod
        def forward(ctx, foo):
            result = lib.exp(foo)
            ctx.result = result
            return result

        @staticmethod
        def jvp(ctx, gI):
            gO = gI * ctx.result
            del ctx.result
            return gO
    rng = np.random.default_rng(2)
    primal = lib.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    tangent = lib.tensor(rng.standard_normal((3, 3)))
    fwAD = lib.autograd.forward_ad
    with fwAD.dual_level():
        out = Fn.apply(fwAD.make_dual(primal, tangent))
        jvp = fwAD.unpack_dual(out.sin() * 2).tangent
    assert lib.autograd.gradcheck(Fn.apply, (primal,), check_forward_ad=True,
                                  check_backward_ad=False, check_undefined_grad=False,
                                  check_batched_grad=False)
    return jvp.detach().numpy()


def test_custom_function_jvp_and_gradcheck_check_forward_ad():
    np.testing.assert_allclose(_custom_jvp_case(minigen), _custom_jvp_case(torch), rtol=1e-12)


def test_gradcheck_check_forward_ad_catches_a_wrong_jvp():
    class Bad(minigen.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.x = x
            return x * x

        @staticmethod
        def jvp(ctx, gI):
            return gI * ctx.x                    # should be 2 x gI
    x = minigen.tensor(np.array([0.5, -1.5]), requires_grad=True)
    assert not minigen.autograd.gradcheck(Bad.apply, (x,), check_forward_ad=True,
                                          check_backward_ad=False, raise_exception=False)


# -- Module.to('meta') (intermediate_source/ensembling.py: a skeleton for functional_call)
def test_module_to_meta_then_functional_call_matches_torch():
    import copy
    rng = np.random.default_rng(3)
    w, b, x = rng.standard_normal((3, 4)), rng.standard_normal(3), rng.standard_normal((2, 4))
    res = []
    for lib in (torch, minigen):
        base = copy.deepcopy(lib.nn.Linear(4, 3).double()).to("meta")
        params = {"weight": lib.tensor(w, requires_grad=True), "bias": lib.tensor(b)}
        out = lib.func.functional_call(base, params, (lib.tensor(x),))
        out.sum().backward()
        res.append((out.detach().numpy(), params["weight"].grad.numpy()))
    for a, c in zip(*res):
        np.testing.assert_allclose(c, a, rtol=1e-12)


# -- torch.autograd.graph.saved_tensors_hooks (intermediate_source/autograd_saved_tensors_hooks_tutorial.py)
def _hooks_case(lib, pack, unpack, second=False):
    rng = np.random.default_rng(4)
    a = lib.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = lib.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
        y = ((a * a).sin() @ w).tanh().sum()
    g, = lib.autograd.grad(y, a, create_graph=second)
    if second:
        gg, = lib.autograd.grad(g.sum(), a)
        return g.detach().numpy(), gg.numpy()
    return (g.numpy(),)


def test_saved_tensors_hooks_identity_keeps_double_backward():
    for x, y in zip(_hooks_case(torch, lambda t: t, lambda t: t, True),
                    _hooks_case(minigen, lambda t: t, lambda t: t, True)):
        np.testing.assert_allclose(y, x, rtol=1e-12)


def test_saved_tensors_hooks_copying_hooks_are_called():
    calls = {"pack": 0, "unpack": 0}

    def pack(t):
        calls["pack"] += 1
        return t.detach().clone()

    def unpack(t):
        calls["unpack"] += 1
        return t
    ref = _hooks_case(torch, lambda t: t.detach().clone(), lambda t: t)
    got = _hooks_case(minigen, pack, unpack)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-12)
    assert calls["pack"] > 0 and calls["unpack"] > 0


def test_save_on_cpu_and_disable_saved_tensors_hooks():
    ref = _hooks_case(torch, lambda t: t, lambda t: t)
    rng = np.random.default_rng(4)
    a = minigen.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = minigen.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    with minigen.autograd.graph.save_on_cpu(pin_memory=True):
        y = ((a * a).sin() @ w).tanh().sum()
    y.backward()
    np.testing.assert_allclose(a.grad.numpy(), ref[0], rtol=1e-12)
    G = minigen.autograd.graph
    with G.disable_saved_tensors_hooks("no hooks here"):
        with pytest.raises(RuntimeError, match="no hooks here"):
            with G.saved_tensors_hooks(lambda t: t, lambda t: t):
                pass


# -- 0-d index in scatter/gather on a 1-d tensor (beginner_source/basics/data_tutorial.py one-hot)
def test_scatter_gather_with_0d_index_on_1d_tensor():
    for y in (0, 3, 9):
        a = torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1)
        b = minigen.zeros(10, dtype=minigen.float).scatter_(0, minigen.tensor(y), value=1)
        np.testing.assert_array_equal(b.numpy(), a.numpy())
    src = np.float64(2.5)
    a = torch.zeros(5, dtype=torch.float64).scatter_add(0, torch.tensor(2), torch.tensor(src))
    b = minigen.zeros(5, dtype=minigen.float64).scatter_add(0, minigen.tensor(2), minigen.tensor(src))
    np.testing.assert_array_equal(b.numpy(), a.numpy())
    res = []
    for lib in (torch, minigen):
        x = lib.arange(6.0, dtype=lib.float64).requires_grad_(True)
        g = x.gather(0, lib.tensor(4))
        (g * 3).backward()
        res.append((tuple(g.shape), g.item(), x.grad.numpy()))
    assert res[0][:2] == res[1][:2]
    np.testing.assert_array_equal(res[1][2], res[0][2])
    with pytest.raises(RuntimeError):       # only 1-d input: a 0-d index on 2-d input is refused
        minigen.zeros(2, 3).scatter_(0, minigen.tensor(1), value=1)


# -- torch.nn.utils.prune (intermediate_source/pruning_tutorial.py)
def _prune_case(lib):
    import importlib
    prune = importlib.import_module(lib.__name__ + ".nn.utils.prune")
    rng = np.random.default_rng(5)
    conv = lib.nn.Conv2d(2, 6, 3).double()
    lin = lib.nn.Linear(8, 5).double()
    lin2 = lib.nn.Linear(5, 4).double()
    with lib.no_grad():
        for p in list(conv.parameters()) + list(lin.parameters()) + list(lin2.parameters()):
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape))))
    prune.l1_unstructured(conv, name="bias", amount=2)
    prune.l1_unstructured(conv, name="weight", amount=0.3)
    prune.ln_structured(conv, name="weight", amount=0.5, n=2, dim=0)   # a PruningContainer now
    hook = [h for h in conv._forward_pre_hooks.values() if h._tensor_name == "weight"][0]
    assert len(list(hook)) == 2
    names = sorted(n for n, _ in conv.named_parameters())
    bufs = sorted(n for n, _ in conv.named_buffers())
    x = lib.tensor(rng.standard_normal((2, 2, 5, 5)))
    out = conv(x)
    out.pow(2).sum().backward()
    g = conv.weight_orig.grad.numpy().copy()
    prune.remove(conv, "weight")
    after = sorted(n for n, _ in conv.named_parameters())

    class EveryOther(prune.BasePruningMethod):
        PRUNING_TYPE = "unstructured"

        def compute_mask(self, t, default_mask):
            mask = default_mask.clone()
            mask.view(-1)[::2] = 0
            return mask
    EveryOther.apply(lin2, "bias")
    prune.global_unstructured(((lin, "weight"), (lin2, "weight")),
                              pruning_method=prune.L1Unstructured, amount=0.25)
    return (names, bufs, after, prune.is_pruned(lin2)), (
        out.detach().numpy(), g, conv.weight.detach().numpy(), conv.bias.detach().numpy(),
        lin.weight_mask.numpy(), lin2.weight_mask.numpy(), lin2.bias.detach().numpy())


def test_prune_matches_torch():
    import torch.nn.utils.prune  # noqa: F401
    (tn, tv), (mn, mv) = _prune_case(torch), _prune_case(minigen)
    assert tn == mn
    for a, b in zip(tv, mv):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


def test_random_unstructured_prunes_that_many_and_then_a_share_of_the_rest():
    prune = minigen.nn.utils.prune
    minigen.manual_seed(0)
    lin = minigen.nn.Linear(5, 6)
    prune.random_unstructured(lin, "weight", amount=7)
    assert int((lin.weight_mask.numpy() == 0).sum()) == 7
    # PyTorch's iterative pruning: 0.5 of the 23 entries still kept, rounded (12), more
    prune.random_unstructured(lin, "weight", amount=0.5)
    mask = lin.weight_mask.numpy()
    assert int((mask == 0).sum()) == 19 and set(np.unique(mask)) == {0.0, 1.0}
    np.testing.assert_array_equal(lin.weight.detach().numpy() == 0, mask == 0)


def test_prune_amount_checks():
    prune = minigen.nn.utils.prune
    lin = minigen.nn.Linear(3, 2)
    with pytest.raises(ValueError):
        prune.l1_unstructured(lin, "weight", amount=1.5)
    with pytest.raises(ValueError):
        prune.l1_unstructured(lin, "weight", amount=7)       # more than the 6 entries
    with pytest.raises(ValueError):
        prune.remove(lin, "bias")                           # never pruned
