"""Helpers for testing ops the way minigen tests its own.

* ``check_op(fn, reference, inputs, device)``: forward against a NumPy reference, gradcheck,
  gradgradcheck and no mutation of the inputs, in one call (``check.py``);
* ``check_broadcasting(fn, reference, shape_a, shape_b, device)``: a binary op on one pair of
  shapes, gradients summed back to each input's shape (``check.py``);
* ``op_specs``: the registry of every differentiable op (``register``, ``all_specs``);
* ``gradcheck_table``: ``python -m minigen.testing.gradcheck_table`` checks them all;
* ``strategies``: Hypothesis strategies for shapes and arrays (needs ``hypothesis``);
* ``simulated_cuda``: the CPU stand-in for a CUDA device that the test suite runs on;
* ``assert_close(actual, expected)``: PyTorch's ``torch.testing.assert_close``.
"""
from .check import check_broadcasting, check_op, jacobian_error, sum_to_reference
from .assert_close import assert_close  # PyTorch's torch.testing.assert_close

__all__ = ["check_op", "check_broadcasting", "jacobian_error", "sum_to_reference", "assert_close",
           "OpSpec", "register", "all_specs", "strategies", "op_specs"]


def __getattr__(name):
    # op_specs imports all of minigen, strategies needs hypothesis: load each on first use
    import importlib
    if name in ("OpSpec", "register", "all_specs"):
        return getattr(importlib.import_module(".op_specs", __name__), name)
    if name in ("strategies", "op_specs", "gradcheck_table", "simulated_cuda"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
