"""Every Function in minigen is exercised by a registered op spec, and every nn spec passes
its gradient checks on both devices.

* Discovery: every module under ``minigen/`` is imported and ``Function.__subclasses__()`` is
  walked recursively (classes defined in ``minigen.*`` only; test-local Functions are not ops).
* Recording: ``Function.apply`` is instrumented (monkeypatched, restored afterwards) to record
  the class of every node built while each registered spec (``op_specs.all_specs()``) runs its
  forward, its backward with ``create_graph=True`` and the backward of that backward, on 'cpu'.
  A base class (``_Normalize``) counts as exercised when a subclass runs its code.
* ``EXPECTED_FUNCTIONS`` is the literal list of every Function class, so that grepping for a
  class name finds this test, and so that a new Function fails here until it has a spec in
  minigen/testing/op_specs*.py and its name in the list.
* Every spec of ``op_specs_nn`` (the nn layers' functional ops) runs ``check_op`` (forward
  against its NumPy reference, gradcheck, gradgradcheck, no mutation) on both devices, on a
  second draw of inputs (``test_op_registry`` checks the first).
"""
import importlib
import pkgutil

import numpy as np
import pytest

import minigen
import minigen.nn.functional as F
from minigen.autograd import Function, Tensor
from minigen.testing import check_op
from minigen.testing.op_specs import all_specs, get_spec
from minigen.testing.op_specs_nn import SPECS as NN_SPECS

EXPECTED_FUNCTIONS = [
    # minigen/ops/elementwise.py, elementwise_scalar.py
    "_Binary", "Add", "Sub", "Mul", "Div", "Pow", "Maximum", "Minimum", "AddScalar",
    "RSubScalar", "Square", "MulScalar", "DivScalar", "RDivScalar", "PowScalar", "RPowScalar",
    "Where",
    # minigen/ops/unary.py
    "Neg", "Exp", "Log", "Log1p", "Expm1", "Sqrt", "Abs", "Sin", "Cos", "Tanh", "TanhBackward",
    "Sigmoid", "SigmoidBackward", "Relu", "Clamp",
    # minigen/ops/reduction.py, softmax_family.py
    "SumTo", "BroadcastTo", "Sum", "GatherAlong", "ScatterAlong", "AMax", "Cumsum", "Prod",
    "Softmax", "LogSoftmax", "LogSumExp",
    # minigen/ops/shape.py, join.py
    "Reshape", "Transpose", "Repeat", "Flip", "Cat", "Split", "Pad", "Tril", "Cast", "ToDevice",
    "Clone",
    # minigen/ops/indexing.py
    "GetItem", "IndexAdd",
    # minigen/ops/mathfns.py, mathfns_binary.py
    "_Elementary", "Tan", "Sinh", "Cosh", "Atan", "Asin", "Acos", "Log2", "Log10", "Exp2",
    "Erf", "Erfc", "Atan2", "Fmod", "Remainder",
    # minigen/ops/construct.py
    "Scatter",
    # minigen/ops/extras_torch_special.py, extras_torch_elementwise.py, extras_torch_index.py
    "Lgamma", "Polygamma", "Erfinv", "BesselI0", "BesselI1", "Acosh", "Asinh", "Atanh", "Hypot",
    "Copysign", "LogCumSumExp", "ScatterProd",
    # minigen/ops/linalg.py
    "MatMul", "Einsum",
    # minigen/ops/activation.py, gelu.py
    "Linear", "LeakyRelu", "Hardtanh", "Elu", "Softplus", "NormalCdf", "Gelu", "GeluBackward",
    "GeluTanh", "GeluTanhBackward", "EmbeddingGather",
    "EmbeddingScatter",
    # minigen/ops/loss.py, cross_entropy.py
    "_ClampValue", "BinaryCrossEntropy", "BinaryCrossEntropyWithLogits", "SoftmaxCrossEntropy",
    # minigen/ops/conv.py
    "Conv2dFunction", "ConvTranspose2dFunction", "Conv2dWeightFunction",
    # minigen/ops/pool.py
    "MaxPool2dFunction", "PlaneGather", "PlaneScatter", "WindowSum", "WindowSpread",
    # minigen/ops/norm.py, batch_norm.py
    "_Normalize", "BatchNorm", "LayerNorm", "GroupNorm",
    # minigen/ops/attention.py
    "ScaledDotProductAttention",
    # minigen/ops/flash_attention.py
    "FlashAttention",
    # minigen/ops/ctc.py
    "CTCLossFunction",
    # minigen/ops/rnn.py, rnn_sequence.py, gru_sequence.py
    "LSTMCellFunction", "GRUCellFunction", "_SequenceFunction", "LSTMSequenceFunction",
    "GRUSequenceFunction",
    # minigen/ops/extras.py, minigen/linalg.py (what PyTorch programs use)
    "IndexPut", "Inv", "Det", "_LogAbsDet", "_LUFactor", "Cholesky", "SolveTriangular",
    # minigen/distributions/gamma.py (spec: minigen/testing/distributions_specs.py)
    "_GammaInc",
    # minigen/autograd/function.py: the node of a PyTorch-style custom Function, and the one
    # minigen/testing/op_specs_nn.py runs as a spec
    "_CustomNode", "_TorchStyleCube",
    # minigen/nn/hooks.py: the identity nodes of module backward hooks
    "_HookIdentity",
    # minigen/utils/checkpoint.py: the node that recomputes a checkpointed function
    "_Recompute",
    # minigen/ops/complex.py
    "ViewAsReal", "ViewAsComplex", "Real", "Imag", "Conj", "Complex", "Polar", "Angle",
    # minigen/fft.py
    "_FFT", "_RFFT", "_IRFFT",
    # minigen/linalg_decomp.py
    "_SVD", "_QR", "_Eigh", "_MatrixExp", "_Pinv", "_Eig",
]

# minigen.nn.functional names whose specs are named otherwise, and those with no gradient
SPEC_PREFIX = {
    "scaled_dot_product_attention": "sdpa",
    "binary_cross_entropy_with_logits": "bce_with_logits",
    "max_pool1d_with_indices": "max_pool1d", "max_pool2d_with_indices": "max_pool2d",
    "upsample": "interpolate", "upsample_nearest": "interpolate_nearest",
    "upsample_bilinear": "interpolate_bilinear",
}
NOT_DIFFERENTIABLE = {"one_hot"}  # an integer output


# ----------------------------------------------------------------------------- discovery
def _function_classes():
    """{name: class} of every Function subclass defined in the minigen package."""
    for info in pkgutil.walk_packages(minigen.__path__, "minigen."):
        importlib.import_module(info.name)
    found, stack = {}, list(Function.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__ == "minigen" or cls.__module__.startswith("minigen."):
            other = found.setdefault(cls.__name__, cls)
            assert other is cls, (f"two Function classes are named {cls.__name__!r} "
                                  f"({other.__module__} and {cls.__module__}): rename one")
    return found


# ----------------------------------------------------------------------------- recording
_ORIGINAL_APPLY = Function.__dict__["apply"]


class _Recorder:
    """Within ``with _Recorder(monkeypatch) as seen:`` every Function.apply call adds the names
    of its class and of that class's Function bases to ``seen``."""

    def __init__(self, monkeypatch):
        self.mp = monkeypatch
        self.seen = set()

    def __enter__(self):
        original, seen = _ORIGINAL_APPLY.__func__, self.seen

        def apply(cls, *inputs, **params):
            seen.update(k.__name__ for k in cls.__mro__
                        if issubclass(k, Function) and k is not Function)
            return original(cls, *inputs, **params)

        from minigen.autograd import function as torch_style
        original_torch_style = torch_style.torch_style_apply

        def torch_style_apply(cls, *args, **kwargs):  # custom Functions written PyTorch's way
            seen.update(k.__name__ for k in cls.__mro__
                        if issubclass(k, Function) and k is not Function)
            seen.add("_CustomNode")
            return original_torch_style(cls, *args, **kwargs)

        self.ctx = self.mp.context()
        patch = self.ctx.__enter__()
        patch.setattr(Function, "apply", classmethod(apply))
        patch.setattr(torch_style, "torch_style_apply", torch_style_apply)
        return self.seen

    def __exit__(self, *exc):
        self.ctx.__exit__(*exc)


def _floats(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f" and o.requires_grad]


def _exercise(spec, device="cpu"):
    """Forward, backward with create_graph (for second-order specs) and the backward of that."""
    rng = np.random.default_rng(0)
    xs = spec.make_inputs(rng, device)
    diff = [x for x in xs if x.requires_grad]
    outs = _floats(spec.fn(*xs))
    if not (diff and outs):
        return
    vs = [minigen.tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=device,
                         requires_grad=True) for o in outs]
    gs = minigen.grad(outs, diff, grad_outputs=vs, create_graph=spec.second_order,
                      allow_unused=True)
    live = [g for g in gs if g is not None and g.requires_grad]
    if spec.second_order and live:
        us = [minigen.tensor(rng.standard_normal(g.shape), dtype=g.dtype, device=device)
              for g in live]
        minigen.grad(live, diff + vs, grad_outputs=us, allow_unused=True)


@pytest.fixture(scope="module")
def exercised():
    """{Function class name} run by all registered specs (module-scoped: computed once)."""
    mp = pytest.MonkeyPatch()
    try:
        with _Recorder(mp) as seen:
            for spec in all_specs():
                _exercise(spec)
    finally:
        mp.undo()
    return seen


# ----------------------------------------------------------------------------- the tests
def test_expected_functions_is_the_discovered_set():
    assert len(EXPECTED_FUNCTIONS) == len(set(EXPECTED_FUNCTIONS)), "duplicate names in the list"
    found = set(_function_classes())
    missing, stale = found - set(EXPECTED_FUNCTIONS), set(EXPECTED_FUNCTIONS) - found
    assert not missing, (f"new Function classes {sorted(missing)}: add an OpSpec that runs each "
                         "(minigen/testing/op_specs*.py) and its name to EXPECTED_FUNCTIONS")
    assert not stale, f"EXPECTED_FUNCTIONS names classes that no longer exist: {sorted(stale)}"


def test_every_function_is_exercised_by_a_spec(exercised):
    unexercised = sorted(set(EXPECTED_FUNCTIONS) - exercised)
    assert not unexercised, (f"no registered OpSpec runs {unexercised} (forward, backward or "
                             "second-order backward); add one to minigen/testing/op_specs*.py")


def test_recording_sees_exactly_what_ran_and_restores_apply(monkeypatch):
    with _Recorder(monkeypatch) as seen:
        _exercise(get_spec("exp"))
    # d/dx e^x = g * e^x, a Mul (a _Binary); the backward of that multiplies again
    assert seen == {"Exp", "Mul", "_Binary"}
    with _Recorder(monkeypatch) as seen:
        _exercise(get_spec("conv2d"))
        _exercise(get_spec("group_norm"))
    assert {"Conv2dFunction", "ConvTranspose2dFunction", "Conv2dWeightFunction", "GroupNorm",
            "_Normalize"} <= seen
    assert not {"Exp", "BatchNorm", "LayerNorm", "MaxPool2dFunction"} & seen
    assert Function.__dict__["apply"] is _ORIGINAL_APPLY


def test_every_nn_functional_name_has_a_spec():
    names = {s.name for s in all_specs()}
    public = [n for n in dir(F) if not n.startswith("_") and callable(getattr(F, n))]
    assert len(public) > 40
    for name in public:
        if name in NOT_DIFFERENTIABLE:
            continue
        # F.relu_ and friends compute F.relu and write it back (test_inplace_autograd.py)
        prefix = SPEC_PREFIX.get(name, name[:-1] if name.endswith("_") else name)
        assert any(s.startswith(prefix) for s in names), \
            f"minigen.nn.functional.{name} has no OpSpec (a spec name starting with {prefix!r})"


def test_nn_specs_are_tagged_and_second_order():
    assert len(NN_SPECS) >= 80
    for spec in NN_SPECS:
        assert spec.tags and spec.tags[0] in ("nn", "engine"), spec
        assert spec.second_order, f"{spec.name}: every nn op is twice differentiable"
        assert all_specs().count(spec) == 1


@pytest.mark.parametrize("spec", NN_SPECS, ids=[s.name for s in NN_SPECS])
def test_nn_spec(spec, device):
    inputs = spec.make_inputs(np.random.default_rng(1), device)
    check_op(spec.fn, spec.reference, inputs, device, second_order=spec.second_order,
             atol=spec.atol, rtol=spec.rtol, eps=spec.eps, gradcheck_mode=spec.gradcheck_mode,
             name=spec.name)
