"""``assert_close(actual, expected)``: PyTorch's ``torch.testing.assert_close`` for minigen.

Close means |actual - expected| <= atol + rtol |expected| elementwise, with the tolerances of
the dtype when not given (float16: rtol 1e-3, atol 1e-5; float32: 1.3e-6, 1e-5; float64:
1e-7, 1e-7; integers and bools: exact). Shapes must match, and (``check_dtype``) dtypes and
(``check_device``) devices too. Nested lists, tuples and dicts are compared element by element.
"""
import numpy

__all__ = ["assert_close"]

_TOLERANCES = {"float16": (1e-3, 1e-5), "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}


def _as_array(x):
    from ..autograd import Tensor
    if isinstance(x, Tensor):
        return x.cpu().numpy(), x.dtype, x.device.type
    arr = numpy.asarray(x)
    return arr, arr.dtype, "cpu"


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    if (rtol is None) != (atol is None):
        raise ValueError("assert_close: give both rtol and atol, or neither")
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            raise AssertionError(msg or f"assert_close: the keys differ: {sorted(actual)} vs "
                                        f"{sorted(expected)}")
        for k in expected:
            assert_close(actual[k], expected[k], rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_device=check_device, check_dtype=check_dtype, msg=msg)
        return
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            raise AssertionError(msg or "assert_close: the sequences differ in length")
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_device=check_device, check_dtype=check_dtype, msg=msg)
        return
    a, adt, adev = _as_array(actual)
    e, edt, edev = _as_array(expected)
    if a.shape != e.shape:
        raise AssertionError(msg or f"The values for attribute 'shape' do not match: "
                                    f"{tuple(a.shape)} != {tuple(e.shape)}.")
    if check_dtype and numpy.dtype(adt) != numpy.dtype(edt):
        raise AssertionError(msg or f"The values for attribute 'dtype' do not match: "
                                    f"{adt} != {edt}.")
    if check_device and adev != edev:
        raise AssertionError(msg or f"The values for attribute 'device' do not match: "
                                    f"{adev} != {edev}.")
    if rtol is None:
        rtol, atol = _TOLERANCES.get(numpy.result_type(a, e).name, (0.0, 0.0))
    a64, e64 = a.astype(numpy.float64), e.astype(numpy.float64)
    close = numpy.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if close.all():
        return
    bad = ~close
    diff = numpy.abs(a64 - e64)
    diff_bad = numpy.where(bad, numpy.nan_to_num(diff, nan=numpy.inf), -1.0)
    i = numpy.unravel_index(int(numpy.argmax(diff_bad)), a.shape) if a.ndim else ()
    rel = diff / numpy.abs(e64)
    rel_bad = numpy.where(bad, numpy.nan_to_num(rel, nan=numpy.inf), -1.0)
    j = numpy.unravel_index(int(numpy.argmax(rel_bad)), a.shape) if a.ndim else ()
    raise AssertionError(msg or (
        f"Tensor-likes are not close!\n\nMismatched elements: {int(bad.sum())} / {a.size} "
        f"({100.0 * bad.sum() / max(a.size, 1):.1f}%)\n"
        f"Greatest absolute difference: {diff[i]} at index {tuple(int(k) for k in i)} "
        f"(up to {atol} allowed)\n"
        f"Greatest relative difference: {rel[j]} at index {tuple(int(k) for k in j)} "
        f"(up to {rtol} allowed)"))
