"""Every registered differentiable op, on both devices: forward against an independent NumPy
reference, gradcheck, gradgradcheck and no mutation of inputs (minigen.testing.check_op).
Then broadcasting, by Hypothesis, for every binary op: 0-d and size-0 shapes included, forward
values, and gradients equal to the local derivative summed back to each input's shape."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigen
from minigen.testing import check_broadcasting, check_op
from minigen.testing import strategies as mst
from minigen.testing.check import sum_to_reference
from minigen.testing.op_specs import OpSpec, all_specs, register

SPECS = all_specs()


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_spec(spec, device):
    inputs = spec.make_inputs(np.random.default_rng(0), device)
    check_op(spec.fn, spec.reference, inputs, device, second_order=spec.second_order,
             atol=spec.atol, rtol=spec.rtol, eps=spec.eps, gradcheck_mode=spec.gradcheck_mode,
             name=spec.name)


# every differentiable engine op has at least one spec (a prefix of the spec's name)
ENGINE_OPS = [
    "add", "sub", "mul", "div", "pow", "pow_scalar_exponent", "pow_scalar_base", "neg", "exp",
    "log", "sqrt", "rsqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "maximum",
    "minimum", "clamp_scalar", "clamp_tensor", "where", "softmax", "log_softmax", "logsumexp",
    "sum", "mean", "var", "var_dim_biased", "var_correction", "std", "std_dim_biased",
    "std_correction", "max", "max_dim", "min", "min_dim", "amax", "amin", "cumsum", "cumprod",
    "prod", "matmul_1d", "matmul_2d", "matmul_batched", "einsum_ellipsis", "einsum_diagonal",
    "einsum_trace", "einsum_outer", "einsum_batched", "reshape", "view", "flatten", "unflatten",
    "squeeze", "unsqueeze", "transpose", "permute", "movedim", "expand", "broadcast_to",
    "repeat", "flip", "cat", "stack", "split", "chunk", "unbind", "pad_constant", "pad_reflect",
    "pad_replicate", "pad_circular", "tril", "triu", "diagonal", "getitem_int",
    "getitem_slices", "getitem_none_ellipsis", "getitem_bool_mask", "getitem_int_array_repeats",
    "index_select", "gather", "masked_fill", "to_float32", "clone",
]


@pytest.mark.parametrize("op", ENGINE_OPS)
def test_registry_covers_engine_op(op):
    assert any(s.name.startswith(op) for s in SPECS), \
        f"no OpSpec for {op!r} in minigen.testing.op_specs"


def test_register_rejects_duplicates_and_non_specs():
    with pytest.raises(ValueError, match="already registered"):
        register(OpSpec("add", minigen.add, np.add, lambda r, d: []))
    with pytest.raises(TypeError):
        register("add")


def test_check_op_catches_a_wrong_reference_and_mutation(device):
    x = minigen.tensor(np.arange(1.0, 4.0), dtype=minigen.float64, device=device,
                       requires_grad=True)
    with pytest.raises(AssertionError, match="forward output 0"):
        check_op(minigen.exp, lambda a: np.exp(a) + 1e-3, [x], device)

    def mutating(t):  # writes into its input: the check must notice
        t.array[0] = 9.0
        return t * 2.0
    with pytest.raises(AssertionError, match="mutation: input 0"):
        check_op(mutating, lambda a: a * 2.0, [np.arange(3.0)], device, second_order=False)


# ----------------------------------------------------------------------------- broadcasting
HYP = settings(max_examples=25, deadline=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture])


def _d_pow(a, b, g):
    return g * b * a ** (b - 1), g * a ** b * np.log(a)


def _tie_split(wins, ties):
    return wins.astype(np.float64) + 0.5 * ties


# op: (minigen fn, numpy reference, (a, b, g) -> (dL/da, dL/db) in the broadcast shape,
#      domain of a, domain of b)
BINARY = {
    "add": (minigen.add, np.add, lambda a, b, g: (g, g), None, None),
    "sub": (minigen.sub, np.subtract, lambda a, b, g: (g, -g), None, None),
    "mul": (minigen.mul, np.multiply, lambda a, b, g: (g * b, g * a), None, None),
    "div": (minigen.div, np.divide, lambda a, b, g: (g / b, -g * a / b ** 2), None, "nonzero"),
    "pow": (minigen.pow, np.power, _d_pow, "positive", None),
    # ties split the gradient evenly, as in PyTorch
    "maximum": (minigen.maximum, np.maximum, lambda a, b, g: (
        g * _tie_split(a > b, a == b), g * _tie_split(b > a, a == b)), None, None),
    "minimum": (minigen.minimum, np.minimum, lambda a, b, g: (
        g * _tie_split(a < b, a == b), g * _tie_split(b < a, a == b)), None, None),
}


@pytest.mark.parametrize("op", sorted(BINARY))
@HYP
@given(data=st.data())
def test_binary_broadcasting(op, device, data):
    fn, ref, dref, dom_a, dom_b = BINARY[op]
    sa, sb = data.draw(mst.broadcastable_shapes(2), label="shapes")
    a = data.draw(mst.arrays(sa, domain=dom_a), label="a")
    b = data.draw(mst.arrays(sb, domain=dom_b), label="b")
    check_broadcasting(fn, ref, sa, sb, device, grad_reference=dref, inputs=(a, b))


@pytest.mark.parametrize("op", sorted(BINARY))
@HYP
@given(data=st.data())
def test_binary_broadcasting_with_operators_and_swapped_shapes(op, device, data):
    """The same through Python operators (a + b, ...) and with the shapes in the other order."""
    operator = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b,
                "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
                "pow": lambda a, b: a ** b}.get(op, BINARY[op][0])
    _, ref, dref, dom_a, dom_b = BINARY[op]
    sb, sa = data.draw(mst.broadcastable_shapes(2), label="shapes")
    a = data.draw(mst.arrays(sa, domain=dom_a), label="a")
    b = data.draw(mst.arrays(sb, domain=dom_b), label="b")
    check_broadcasting(operator, ref, sa, sb, device, grad_reference=dref, inputs=(a, b))


@HYP
@given(data=st.data())
def test_where_broadcasting(device, data):
    sc, sa, sb = data.draw(mst.broadcastable_shapes(3), label="shapes")
    c = data.draw(mst.arrays(sc, dtype=np.bool_), label="condition")
    a = data.draw(mst.arrays(sa), label="a")
    b = data.draw(mst.arrays(sb), label="b")
    cond = minigen.tensor(c, device=device)
    ta = minigen.tensor(a, dtype=minigen.float64, device=device, requires_grad=True)
    tb = minigen.tensor(b, dtype=minigen.float64, device=device, requires_grad=True)
    y = minigen.where(cond, ta, tb)
    want = np.where(c, a, b)
    assert y.shape == want.shape and y.device == device
    np.testing.assert_array_equal(y.cpu().numpy(), want)
    g = np.random.default_rng(0).standard_normal(want.shape)
    ga, gb = minigen.grad(y, [ta, tb], minigen.tensor(g, dtype=minigen.float64, device=device))
    cb = np.broadcast_to(c, want.shape)
    np.testing.assert_allclose(ga.cpu().numpy(), sum_to_reference(np.where(cb, g, 0.0), sa),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb.cpu().numpy(), sum_to_reference(np.where(cb, 0.0, g), sb),
                               rtol=1e-12, atol=1e-12)


COMPARISONS = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
               "gt": np.greater, "ge": np.greater_equal}


@pytest.mark.parametrize("op", sorted(COMPARISONS))
@HYP
@given(data=st.data())
def test_comparison_broadcasting(op, device, data):
    sa, sb = data.draw(mst.broadcastable_shapes(2), label="shapes")
    few = st.sampled_from([-1.0, 0.0, 0.5, 1.0])  # a small set, so equal values do occur
    a = data.draw(mst.arrays(sa, elements=few), label="a")
    b = data.draw(mst.arrays(sb, elements=few), label="b")
    fn = getattr(minigen, op)
    check_broadcasting(fn, COMPARISONS[op], sa, sb, device, inputs=(a, b), differentiable=False)
    y = fn(minigen.tensor(a, device=device), minigen.tensor(b, device=device))
    assert y.dtype == minigen.bool and not y.requires_grad


BAD_PAIRS = [((2, 3), (4,)), ((3,), (2, 2)), ((2, 0), (3,)), ((5, 1, 2), (4, 3))]


@pytest.mark.parametrize("op", sorted(BINARY) + sorted(COMPARISONS))
@pytest.mark.parametrize("shapes", BAD_PAIRS, ids=str)
def test_broadcasting_error_names_both_shapes(op, shapes, device):
    fn = BINARY[op][0] if op in BINARY else getattr(minigen, op)
    # check_broadcasting asserts a RuntimeError whose message names both shapes
    check_broadcasting(fn, None, shapes[0], shapes[1], device)


def test_where_broadcasting_error_names_shapes(device):
    c = minigen.tensor(np.ones((2, 3), bool), device=device)
    a = minigen.zeros(4, device=device)
    b = minigen.zeros(1, device=device)
    with pytest.raises(RuntimeError, match=r"\[2, 3\].*\[4\]"):
        minigen.where(c, a, b)


# ----------------------------------------------------------------------------- aliasing
# the ops whose output PyTorch documents as a view of (or the same tensor as) an input; every
# other op must return new memory, or a later in-place write into its result would change the
# caller's tensor (checked against PyTorch where installed, below)
VIEW_SPECS = {
    "reshape", "view", "flatten", "unflatten", "squeeze_dim", "squeeze_all", "unsqueeze",
    "transpose", "permute", "T", "movedim", "expand", "broadcast_to", "split_sizes", "split_int",
    "chunk", "unbind", "getitem_int", "getitem_negative_int_slice", "getitem_slices",
    "getitem_none_ellipsis", "narrow", "select", "meshgrid_xy", "broadcast_tensors",
    "tensor_split", "tensor_split_indices", "einsum_transpose", "dropout_p0", "dropout_eval",
}


def _aliases(spec):
    from minigen.autograd import Tensor
    inputs = spec.make_inputs(np.random.default_rng(0), "cpu")
    out = spec.fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else [out]
    ins = [t for t in inputs if isinstance(t, Tensor)]
    return any(isinstance(o, Tensor) and any(np.shares_memory(o.array, t.array) for t in ins)
               for o in outs)


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_no_output_aliases_an_input_unless_pytorchs_does(spec):
    if spec.name in VIEW_SPECS:
        return
    assert not _aliases(spec), (f"{spec.name}: the output shares memory with an input, but "
                                "PyTorch returns a new tensor here")


def test_view_list_is_what_pytorch_views():
    torch = pytest.importorskip("torch")
    x = torch.randn(3, 4)
    views = {"reshape": x.reshape(4, 3), "transpose": x.t(), "expand": x[:1].expand(3, 4),
             "narrow": x.narrow(1, 0, 2), "einsum_transpose": torch.einsum("ij->ji", x),
             "dropout_eval": torch.nn.functional.dropout(x, 0.5, training=False),
             "tensor_split": torch.tensor_split(x, 2)[0]}
    for name, v in views.items():
        assert name in VIEW_SPECS and v.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    for copy in (torch.flip(x, [0]), torch.rot90(x), torch.roll(x, 4, 1), torch.fliplr(x)):
        assert copy.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()


def test_roll_by_a_whole_turn_and_flips_return_new_tensors():
    x = minigen.arange(6.0).reshape(2, 3)
    for y in (minigen.roll(x, 3, 1), minigen.roll(x, 0, 0), minigen.roll(x, (2, 6), (0, 1)),
              minigen.roll(x, 6), minigen.flip(x, [0]), minigen.rot90(x, 4), minigen.fliplr(x)):
        y.add_(100.0)
    np.testing.assert_array_equal(x.cpu().numpy(), np.arange(6.0).reshape(2, 3))
