"""The reverse-mode graph walk: ``run_backward`` (behind ``Tensor.backward``) and ``grad``.

``Function.apply`` (minigen/autograd.py) records a node for each op whose inputs require
grad. The walk starts from the output(s), runs each node's ``backward`` once, highest
*generation* first (a node's generation is one more than its inputs' highest), so every node
runs after all the nodes that consume its outputs have handed it their gradients, and passes
the gradients it returns on to the nodes that made its inputs. Gradients reaching a leaf that
requires grad are summed into its ``.grad`` (``Tensor.backward``) or returned (``grad``).
"""
from __future__ import annotations

import heapq
import itertools

from .autograd import _Out, _check_finite, _device_mismatch, _state, as_recorded
from .tensor import Tensor, _wrap

_counter = itertools.count()


def run_backward(roots, grad_roots, retain_graph=None, create_graph=False, inputs=None,
                 capture=None, allow_unused=False):
    """Walk the graph from ``roots`` and deliver gradients.

    With ``capture=None`` (``Tensor.backward``) gradients accumulate into the ``.grad`` of every
    leaf that requires grad. With ``capture`` (a list of tensors, ``minigen.grad``) nothing's
    ``.grad`` is touched and the gradients of those tensors are returned.
    """
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:  # Tensor.backward(inputs=...) accumulates into these only
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        got = run_backward(roots, grad_roots, retain_graph, create_graph, capture=inputs,
                           allow_unused=True)
        for t, g in zip(inputs, got):
            if g is not None:
                _accumulate_leaf(t, g, create_graph, ())
        return None

    pending = {}      # node -> list of gradients, one slot per output
    heap = []
    captured = None
    wanted = None
    if capture is not None:
        captured = {}
        for t in capture:
            captured[_key(t)] = None
        wanted = _nodes_leading_to(roots, capture)
    shared = set()
    for r, g in zip(roots, grad_roots):
        if not r.requires_grad:
            raise RuntimeError(
                "backward: element 0 of tensors does not require grad and does not have a grad_fn")
        if g.shape != r.shape:
            raise RuntimeError(
                f"backward: gradient has shape {list(g.shape)} but the output has shape {list(r.shape)}")
        if type(g.array) is not type(r.array):
            _device_mismatch("backward", [r, g])
        shared.add(id(g.array))
        _push(r, g, pending, heap, captured, create_graph, shared)

    prev = _state["grad"]
    _state["grad"] = create_graph
    anomaly = _state["anomaly"]
    heappop, heappush = heapq.heappop, heapq.heappush
    try:
        while heap:
            f = heappop(heap)[2]
            gys = pending.pop(f)
            if f._out_hooks is not None:
                _run_hooks(f._out_hooks, gys)
            if f.saved is None:
                raise RuntimeError(
                    f"Trying to backward through the graph a second time (node "
                    f"'{type(f).__name__}'); its saved values were freed after the first "
                    "backward. Pass retain_graph=True to the first backward() call.")
            if f.n_out > 1:
                for i, g in enumerate(gys):
                    if g is None:
                        gys[i] = _wrap(f.xp.zeros_like(_output_like(f, i)))
            if captured is not None:
                for i in range(f.n_out):
                    k = (f, i)
                    if k in captured:
                        captured[k] = gys[i]
            for t in f._retained:
                g = gys[t._idx]
                t.grad = g if t.grad is None else t.grad + g
            gxs = f.backward(*gys) if not anomaly else _backward_checked(f, gys)
            if type(gxs) is not tuple:
                gxs = (gxs,)
            if not retain_graph:
                f.release()
            for t, gx, need in zip(f.inputs, gxs, f.needs_input_grad):
                if not need or gx is None:
                    continue
                if t._hist is not None:  # written in place after f read it
                    t = as_recorded(t, f)
                c = t.creator
                if c is None or captured is not None:
                    if wanted is not None and c is not None and c not in wanted:
                        continue
                    _push(t, gx, pending, heap, captured, create_graph, shared)
                    continue
                # inline _push for the common case: a node's output feeding this node
                slots = pending.get(c)
                if slots is None:
                    slots = pending[c] = [None] * c.n_out
                    heappush(heap, (-c.generation, next(_counter), c))
                i = t._idx
                slots[i] = gx if slots[i] is None else slots[i] + gx
            if not retain_graph:
                # Drop the edges too: while the caller holds the loss, every node is reachable
                # from it, and a node's inputs are the forward's activations. Dropping them
                # here frees each activation as soon as the walk is past it, as in PyTorch.
                f.inputs = ()
    finally:
        _state["grad"] = prev
    if capture is not None:
        out = []
        for t in capture:
            g = captured[_key(t)]
            if g is None and not allow_unused:
                raise RuntimeError(
                    "grad: one of the differentiated Tensors appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior.")
            out.append(g)
        return out
    return None


def _backward_checked(f, gys):
    """``f.backward`` under detect_anomaly. A backward is itself made of ops, so the first op
    to make a NaN may be one inside it (the Div in Sqrt's backward): say whose backward it was."""
    try:
        gxs = f.backward(*gys)
    except RuntimeError as e:
        if str(e).startswith("detect_anomaly"):
            raise RuntimeError(f"{e}, while computing the backward of '{type(f).__name__}'") from e
        raise
    _check_finite(f, [g.array for g in (gxs if type(gxs) is tuple else (gxs,)) if g is not None],
                  "backward")
    return gxs


def _key(t):
    return id(t) if t.creator is None else (t.creator, t._idx)


def _push(t, g, pending, heap, captured, create_graph, shared):
    f = t.creator
    if f is None:
        if captured is not None:
            k = id(t)
            if k in captured:
                prev = captured[k]
                captured[k] = g if prev is None else prev + g
        elif t.requires_grad:
            _accumulate_leaf(t, g, create_graph, shared)
        return
    slots = pending.get(f)
    if slots is None:
        slots = pending[f] = [None] * f.n_out
        heapq.heappush(heap, (-f.generation, next(_counter), f))
    i = t._idx
    slots[i] = g if slots[i] is None else slots[i] + g


# ----------------------------------------------------------------------------- tensor hooks
# A hook on a non-leaf lives on the node that made it (``f._out_hooks``: output index -> hooks)
# and runs when the walk reaches that node, all of its outputs' gradients summed; a hook on a
# leaf lives here (id -> [weakref, hooks]) and runs before its gradient is accumulated.
_leaf_hooks = {}


class _HookHandle:
    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add_hook(t, hook):
    import weakref
    if t.creator is not None:
        f = t.creator
        if f._out_hooks is None:
            f._out_hooks = {}
        hooks = f._out_hooks.setdefault(t._idx, [])
    else:
        key = id(t)
        entry = _leaf_hooks.get(key)
        if entry is None or entry[0]() is not t:
            entry = _leaf_hooks[key] = [weakref.ref(t, lambda _, k=key: _leaf_hooks.pop(k, None)), []]
        hooks = entry[1]
    hooks.append(hook)
    return _HookHandle(hooks, hook)


def _run_hooks(by_index, gys):
    for i, hooks in by_index.items():
        for h in list(hooks):
            if gys[i] is None:
                continue
            r = h(gys[i])
            if r is not None:
                gys[i] = r


def _leaf_hooked(t, g):
    entry = _leaf_hooks.get(id(t))
    if entry is None or entry[0]() is not t:
        return g
    box = [g]
    _run_hooks({0: entry[1]}, box)
    return box[0]


def _accumulate_leaf(t, g, create_graph, shared):
    if _leaf_hooks:
        g = _leaf_hooked(t, g)
    if g.array.dtype != t.array.dtype:
        g = g.to(t.array.dtype)
    if t.grad is None:
        if not create_graph:
            # never hand a leaf an array that another tensor (the caller's `gradient`, another
            # leaf's grad, a view of either) also holds: an in-place zero_() would hit both
            d = g.array
            if id(d) in shared or d.base is not None:
                d = d.copy(order="K")  # (keeps the layout: a plain copy, no transpose)
            shared.add(id(d))
            g = _wrap(d)
        t.grad = g
    else:
        # (asarray: NumPy answers 0-d + 0-d with a scalar, and a grad must stay an array)
        t.grad = t.grad + g if create_graph else _wrap(t.xp.asarray(t.grad.array + g.array))


def _output_like(f, i):
    # a zero gradient for an output that nothing used: shape and dtype from a saved output
    for s in f.saved or ():
        if type(s) is _Out and s.index == i:
            return s.array
    shape, dtype = f.output_meta[i]
    return f.xp.empty(shape, dtype)


def _inputs_as_recorded(f):
    return [t if t._hist is None else as_recorded(t, f) for t in f.inputs]


def _nodes_leading_to(roots, targets):
    """The set of nodes from which some target can be reached (the part of the graph
    minigen.grad must walk)."""
    target_nodes = {t.creator for t in targets if t.creator is not None}
    target_leaves = {id(t) for t in targets if t.creator is None}
    order, seen, stack = [], set(), [r.creator for r in roots if r.creator is not None]
    while stack:  # iterative DFS, post-order
        f = stack[-1]
        if f in seen:
            stack.pop()
            continue
        ins = _inputs_as_recorded(f)
        children = [t.creator for t in ins if t.creator is not None and t.creator not in seen]
        if children:
            stack.extend(children)
            continue
        seen.add(f)
        order.append(f)
        stack.pop()
    good = set()
    for f in order:  # children come before parents
        if f in target_nodes or any(
                (t.creator is None and id(t) in target_leaves) or t.creator in good
                for t in _inputs_as_recorded(f)):
            good.add(f)
    return good


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=False, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned as a tuple.

    As ``torch.autograd.grad``: no ``.grad`` is changed. With ``create_graph=True`` the result
    is itself differentiable (the WGAN-GP gradient penalty is built on this). ``only_inputs`` is
    accepted and ignored (as PyTorch, which deprecated it); ``materialize_grads=True`` gives
    zeros instead of None for an input the outputs do not depend on.
    """
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True (vmap over grad_outputs) is not "
                                  "supported in minigen; loop over the rows of grad_outputs")
    single_in = isinstance(inputs, Tensor)
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if single_in else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    gs = []
    for o, g in zip(outputs, grad_outputs):
        if g is None:
            if o.array.size != 1:
                raise RuntimeError(
                    f"grad: grad can be implicitly created only for scalar outputs; got shape "
                    f"{list(o.shape)}, pass grad_outputs=")
            g = _wrap(o.xp.ones_like(o.array))
        gs.append(g)
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad: one of the differentiated Tensors does not require grad")
    got = run_backward(outputs, gs, retain_graph, create_graph, capture=inputs,
                       allow_unused=allow_unused or materialize_grads)
    if materialize_grads:
        got = [_wrap(t.xp.zeros_like(t.array)) if g is None else g for t, g in zip(inputs, got)]
    return tuple(got)
