"""minigen.gradcheck / gradgradcheck must pass correct ops and catch wrong ones (both modes), and
so must the helpers in minigen.testing (check_op, check_broadcasting, jacobian_error, the table)."""
import io
import subprocess
import sys
import warnings

import numpy as np
import pytest

import minigen
from minigen.autograd import Function, _wrap
from minigen.testing import check_broadcasting, check_op, jacobian_error
from minigen.testing import gradcheck_table
from minigen.testing.op_specs import REGISTRY, OpSpec, register

MODES = ["full", "directional"]


def T(a, device, grad=True, dtype=minigen.float64):
    return minigen.tensor(np.asarray(a, np.float64), dtype=dtype, device=device,
                          requires_grad=grad)


class WrongSquare(Function):
    """y = x^2 with a wrong first derivative (2.1 x instead of 2 x)."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * x * 2.1


class RawSquare(Function):
    """y = x^2 whose backward is right but built from raw arrays: it records no graph, so its
    second derivative comes out as zero."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, gy):
        (x,) = self.saved_tensors
        return _wrap(gy.array * 2.0 * x.array)


class WrongCurvatureSquare(Function):
    """y = x^2, first derivative right at every point, but its own derivative is 2.5 not 2:
    2x + 0.5 (x - x.detach()) has the value 2x and the slope 2.5."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * (x * 2.0 + (x - x.detach()) * 0.5)


class NoSumToAdd(Function):
    """a + b with broadcasting, whose backward forgets to sum the gradient back to b's shape."""

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy


@pytest.fixture
def x3(device):
    return T([0.5, -1.2, 2.0], device)


# ----------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_passes_correct_ops(mode, device):
    a, b = T(np.random.default_rng(0).standard_normal((2, 3)), device), T([0.3, 1.0, -2.0], device)
    assert minigen.gradcheck(lambda a, b: (a * b).tanh() / (1.5 + b * b), [a, b], mode=mode)
    assert minigen.gradgradcheck(lambda a, b: (a * b).tanh() / (1.5 + b * b), [a, b], mode=mode)
    assert minigen.gradcheck(lambda a: a.split([1, 2], dim=1), [a], mode=mode)  # several outputs
    assert minigen.gradcheck(lambda a: (a.exp(), a.argmax()), [a], mode=mode)  # an int output


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_catches_a_wrong_backward(mode, device, x3):
    with pytest.raises(minigen.GradcheckError):
        minigen.gradcheck(WrongSquare.apply, [x3], mode=mode)
    assert minigen.gradcheck(WrongSquare.apply, [x3], mode=mode, raise_exception=False) is False


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn", [RawSquare, WrongCurvatureSquare], ids=lambda f: f.__name__)
def test_gradgradcheck_catches_a_wrong_second_derivative(fn, mode, device, x3):
    assert minigen.gradcheck(fn.apply, [x3], mode=mode)  # the first derivative is right
    with pytest.raises(minigen.GradcheckError, match="gradgradcheck"):
        minigen.gradgradcheck(fn.apply, [x3], mode=mode)


def test_the_report_shows_numeric_against_analytic(device, x3):
    with pytest.raises(minigen.GradcheckError) as e:
        minigen.gradcheck(WrongSquare.apply, [x3])
    msg = str(e.value)
    assert "numeric" in msg and "analytic" in msg and "input 0" in msg
    # the diagonal entry for x = 0.5: numeric 2x = 1.0, analytic 2.1x = 1.05
    row = next(line for line in msg.splitlines() if line.strip().startswith("(0, 0)"))
    numeric, analytic = (float(v) for v in row.split(")")[1].split())
    assert numeric == pytest.approx(1.0, abs=1e-6) and analytic == pytest.approx(1.05)
    with pytest.raises(minigen.GradcheckError, match="direction 0: numeric .* vs analytic"):
        minigen.gradcheck(WrongSquare.apply, [x3], mode="directional")


def test_float32_inputs_warn(device):
    x = T([1.0, 2.0], device, dtype=minigen.float32)
    with pytest.warns(UserWarning, match="float64"):
        minigen.gradcheck(lambda t: t * 2.0, [x], atol=1e-2, rtol=1e-2, eps=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and float64 does not
        minigen.gradcheck(lambda t: t * 2.0, [T([1.0, 2.0], device)])


def test_gradcheck_does_not_touch_the_inputs(device, x3):
    before = x3.cpu().numpy()
    minigen.gradcheck(lambda t: t.sin(), [x3])
    minigen.gradgradcheck(lambda t: t.sin(), [x3], mode="directional")
    np.testing.assert_array_equal(x3.cpu().numpy(), before)
    assert x3.grad is None


def test_gradcheck_argument_errors(device):
    with pytest.raises(ValueError, match="no input requires grad"):
        minigen.gradcheck(lambda t: t * 2.0, [T([1.0], device, grad=False)])
    with pytest.raises(ValueError, match="mode"):
        minigen.gradcheck(lambda t: t * 2.0, [T([1.0], device)], mode="fast")


# ----------------------------------------------------------------------------- testing helpers
def test_check_op_passes_and_fails(device, x3):
    timings = check_op(lambda t: t * t, lambda a: a * a, [x3], device)
    assert set(timings) == {"forward", "gradcheck", "gradgradcheck"}
    with pytest.raises(AssertionError, match="first derivatives"):
        check_op(WrongSquare.apply, lambda a: a * a, [x3], device)
    with pytest.raises(AssertionError, match="second derivatives") as e:
        check_op(RawSquare.apply, lambda a: a * a, [x3], device)
    assert "first derivatives" not in str(e.value)
    check_op(RawSquare.apply, lambda a: a * a, [x3], device, second_order=False)


def test_check_op_accepts_numpy_inputs_and_moves_tensors(device):
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    check_op(lambda t: t.sum(dim=0), lambda t: t.sum(axis=0), [a], device)
    cpu_tensor = T(a, "cpu")
    check_op(lambda t: t.exp(), np.exp, [cpu_tensor], device)


def test_check_op_reports_a_wrong_shape_and_dtype(device, x3):
    with pytest.raises(AssertionError, match=r"shape \[3\] but the reference has shape \[1, 3\]"):
        check_op(lambda t: t * 1.0, lambda a: a[None], [x3], device)
    with pytest.raises(AssertionError, match="float64 inputs gave a float32 output"):
        check_op(lambda t: t.float() * 1.0, lambda a: a, [x3], device, second_order=False,
                 atol=1e-3, rtol=1e-3, forward_atol=1e-6)


def test_check_broadcasting_catches_a_missing_sum_to(device):
    check_broadcasting(minigen.add, np.add, (2, 3), (3,), device,
                       grad_reference=lambda a, b, g: (g, g))
    with pytest.raises(AssertionError, match=r"gradient of b has shape \[2, 3\].*expected \[3\]"):
        check_broadcasting(NoSumToAdd.apply, np.add, (2, 3), (3,), device,
                           grad_reference=lambda a, b, g: (g, g))
    with pytest.raises(AssertionError, match="gradient of a"):  # wrong values, right shapes
        check_broadcasting(minigen.mul, np.multiply, (2, 3), (3,), device,
                           grad_reference=lambda a, b, g: (g * a, g * a))


def test_jacobian_error(device, x3):
    assert jacobian_error(lambda t: t.sin(), [x3]) < 1e-8
    assert jacobian_error(lambda t: t.sin(), [x3], order=2) < 1e-8
    assert jacobian_error(WrongSquare.apply, [x3]) == pytest.approx(0.1 * 2.0, rel=1e-4)
    assert jacobian_error(RawSquare.apply, [x3]) < 1e-8
    assert jacobian_error(RawSquare.apply, [x3], order=2) > 0.5


# ----------------------------------------------------------------------------- the table
@pytest.fixture
def wrong_spec():
    spec = register(OpSpec("zz_wrong_square", WrongSquare.apply, lambda a: a * a,
                           lambda r, d: [T([0.5, 1.5], d)]))
    yield spec
    del REGISTRY[spec.name]


def test_gradcheck_table_passes_and_prints(device):
    out = io.StringIO()
    code = gradcheck_table.run(devices=(device,), only="add,matmul_2d,pad_re*", out=out)
    text = out.getvalue()
    assert code == 0, text
    assert "op" in text and "1st order" in text and "max error" in text and "time (ms)" in text
    for name in ("add", "matmul_2d", "pad_reflect"):
        assert any(line.startswith(name + " ") and f"| {device}" in line
                   for line in text.splitlines()), text
    assert "4 of 4 passed" in text  # pad_re* is reflect and replicate


def test_gradcheck_table_fails_on_a_wrong_op(wrong_spec, device):
    out = io.StringIO()
    assert gradcheck_table.run(devices=device, only=["zz_*"], out=out) == 1
    text = out.getvalue()
    assert "zz_wrong_square" in text and "FAIL" in text and "numeric" in text


def test_gradcheck_table_without_cuda():
    from minigen.backend import _backends
    from minigen.testing import simulated_cuda
    if type(_backends.get("cuda")).__name__ == "CupyBackend":
        pytest.skip("this machine has a real GPU")
    simulated_cuda.uninstall()
    try:
        out = io.StringIO()
        assert gradcheck_table.run(devices="cuda", only="add", out=out) == 2
        assert "skipping device 'cuda'" in out.getvalue()
        out = io.StringIO()
        assert gradcheck_table.run(devices="all", only="add", out=out) == 0
        assert "skipping device 'cuda'" in out.getvalue() and "| cpu" in out.getvalue()
    finally:
        simulated_cuda.install()


def test_gradcheck_table_as_a_module():
    r = subprocess.run([sys.executable, "-m", "minigen.testing.gradcheck_table", "--device", "all",
                        "--simulated-cuda", "--only", "exp,sum"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "| cuda" in r.stdout and "| cpu" in r.stdout and "4 of 4 passed" in r.stdout


class LayoutSensitive(Function):
    """y = x * c (c differs per element), whose backward goes wrong only for inputs that are
    not C-contiguous in memory: the kind of bug a layout-specific fast path can have."""

    def forward(self, x, c):
        self.save_for_backward(x)
        self.c = c
        return x * c

    def backward(self, gy):
        (x,) = self.saved_tensors
        g = gy.array * self.c
        return _wrap(g if x.array.flags.c_contiguous else g * 1.5), None


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_keeps_the_memory_layout_of_its_inputs(mode, device):
    """A channels-last (non-C-contiguous) input is perturbed in place and stays so: correct
    ops pass on it, and a backward that is wrong only for that layout is caught."""
    rng = np.random.default_rng(3)
    x = T(rng.standard_normal((2, 3, 4, 3)), device, grad=False).permute(0, 3, 1, 2).detach()
    x.requires_grad_(True)
    assert not x.array.flags.c_contiguous
    c = minigen.tensor(rng.standard_normal((2, 3, 3, 4)), dtype=minigen.float64, device=device).array
    assert minigen.gradcheck(lambda t: (t * t).sum(dim=(2, 3)) * t.mean(), [x], mode=mode)
    with pytest.raises(minigen.GradcheckError):
        minigen.gradcheck(lambda t: LayoutSensitive.apply(t, c=c), [x], mode=mode)
    xc = minigen.tensor(np.ascontiguousarray(x.cpu().numpy()), dtype=minigen.float64, device=device,
                        requires_grad=True)
    assert xc.array.flags.c_contiguous
    assert minigen.gradcheck(lambda t: LayoutSensitive.apply(t, c=c), [xc], mode=mode)
