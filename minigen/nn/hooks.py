"""Module backward hooks: ``register_full_backward_hook`` and ``register_full_backward_pre_hook``.

A module call with backward hooks puts two identity nodes into the graph, one on the module's
tensor inputs and one on its outputs (as PyTorch does):

    inputs -> [identity] -> forward(...) -> [identity] -> outputs

The backward walk reaches the outputs' node first, with the gradients of the outputs (grad_output):
the pre-hooks run there, ``hook(module, grad_output)``, and may replace them. It reaches
the inputs' node last, with the gradients of the inputs (grad_input): the hooks run there,
``hook(module, grad_input, grad_output)``, and may replace grad_input. A call whose inputs need
no gradient runs the hooks at the outputs' node, with grad_input all None.
"""
from __future__ import annotations

from ..autograd import Function
from ..tensor import Tensor


class _HookIdentity(Function):
    """An identity node whose backward hands the gradients to ``on_grads`` (which may replace
    them): one sits on the module's inputs, one on its outputs."""

    @staticmethod
    def forward(ctx, on_grads, *tensors):
        ctx.on_grads = on_grads
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.on_grads(grads))


class BackwardHooks:
    """One module call's backward hooks (see the module docstring)."""

    def __init__(self, module, pre_hooks, hooks):
        self.module = module
        self.pre_hooks = list((pre_hooks or {}).values())
        self.hooks = list((hooks or {}).values())
        self.grad_output = None
        self.n_inputs = 0
        self.input_slots = []      # positions (among tensor args) that require grad

    def wrap_inputs(self, args):
        args = list(args)
        tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_inputs = len(tensor_pos)
        live = [i for i in tensor_pos if args[i].requires_grad]
        self.input_slots = [tensor_pos.index(i) for i in live]
        if live:
            wrapped = _HookIdentity.apply(self.at_inputs, *[args[i] for i in live])
            for i, w in zip(live, wrapped):
                args[i] = w
        return tuple(args)

    def wrap_outputs(self, out):
        single = isinstance(out, Tensor)
        outs = [out] if single else (list(out) if isinstance(out, (tuple, list)) else None)
        if outs is None:
            return out
        live = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        self.n_outputs = len(outs)
        self.output_slots = live
        if not live:
            return out
        wrapped = _HookIdentity.apply(self.at_outputs, *[outs[i] for i in live])
        for i, w in zip(live, wrapped):
            outs[i] = w
        return outs[0] if single else type(out)(outs) if isinstance(out, tuple) else outs

    def at_outputs(self, grads):
        full = [None] * self.n_outputs
        for i, g in zip(self.output_slots, grads):
            full[i] = g
        grad_output = tuple(full)
        for hook in self.pre_hooks:
            r = hook(self.module, grad_output)
            if r is not None:
                grad_output = tuple(r) if isinstance(r, (tuple, list)) else (r,)
        self.grad_output = grad_output
        if not self.input_slots:  # nothing flows to the inputs: the hooks run now
            for hook in self.hooks:
                hook(self.module, (None,) * self.n_inputs, grad_output)
        return [grad_output[i] for i in self.output_slots]

    def at_inputs(self, grads):
        full = [None] * self.n_inputs
        for i, g in zip(self.input_slots, grads):
            full[i] = g
        grad_input = tuple(full)
        for hook in self.hooks:
            r = hook(self.module, grad_input, self.grad_output)
            if r is not None:
                grad_input = tuple(r) if isinstance(r, (tuple, list)) else (r,)
        return [grad_input[i] for i in self.input_slots]
