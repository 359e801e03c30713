"""``torch.nn.grad``: the gradients of a convolution with respect to its input and its weight.

    conv{1,2,3}d_input(input_size, weight, grad_output, ...)   dL/dx of y = conv(x, weight)
    conv{1,2,3}d_weight(input, weight_size, grad_output, ...)  dL/dw of y = conv(input, w)

A convolution is linear in x and in w, so each is the vector-Jacobian product of the
convolution with grad_output, taken at any point (zeros here). It is computed by minigen's
autograd (a conv_transpose for the input, a correlation for the weight) with create_graph, so
the result is itself differentiable in the other operand and in grad_output.
"""
from __future__ import annotations

from ..autograd import enable_grad, grad as _grad
from ..creation import zeros

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input",
           "conv3d_weight"]


def _conv(nd):
    from ..ops.conv import conv1d, conv2d
    from ..ops.conv3d import conv3d
    return (conv1d, conv2d, conv3d)[nd - 1]


def _input_grad(nd, input_size, weight, grad_output, stride, padding, dilation, groups):
    x = zeros(tuple(input_size), dtype=weight.dtype, device=weight.device, requires_grad=True)
    with enable_grad():
        y = _conv(nd)(x, weight, None, stride, padding, dilation, groups)
        return _grad(y, x, grad_output, create_graph=True)[0]


def _weight_grad(nd, input, weight_size, grad_output, stride, padding, dilation, groups):
    w = zeros(tuple(weight_size), dtype=input.dtype, device=input.device, requires_grad=True)
    with enable_grad():
        y = _conv(nd)(input, w, None, stride, padding, dilation, groups)
        return _grad(y, w, grad_output, create_graph=True)[0]


def conv1d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """dL/dinput of conv1d, an input of ``input_size``, given dL/doutput = grad_output."""
    return _input_grad(1, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv1d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """dL/dweight of conv1d (a weight of ``weight_size``) given dL/doutput = grad_output."""
    return _weight_grad(1, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """dL/dinput of conv2d, an input of ``input_size``, given dL/doutput = grad_output."""
    return _input_grad(2, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """dL/dweight of conv2d (a weight of ``weight_size``) given dL/doutput = grad_output."""
    return _weight_grad(2, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv3d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """dL/dinput of conv3d, an input of ``input_size``, given dL/doutput = grad_output."""
    return _input_grad(3, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv3d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """dL/dweight of conv3d (a weight of ``weight_size``) given dL/doutput = grad_output."""
    return _weight_grad(3, input, weight_size, grad_output, stride, padding, dilation, groups)
