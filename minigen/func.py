"""``torch.func`` (functorch's transforms) for minigen: ``vmap``, ``grad``, ``grad_and_value``,
``vjp``, ``jacrev``, ``jacfwd``, ``hessian`` and ``functional_call``.

minigen has one autograd engine (reverse mode, a graph of nodes) and no batching rules, so:

* ``vmap(f, in_dims, out_dims)`` is a LOOP: the batched inputs are sliced along their
  ``in_dims``, ``f`` runs once per slice, and each output is stacked along its ``out_dims``.
  The numbers are those of PyTorch's vmap (which computes the same function batched); the speed
  is that of a Python loop. ``randomness`` is accepted: 'different' and 'error' draw fresh
  random numbers for every slice (minigen cannot see random calls to refuse them); 'same'
  replays the generator's state before each slice, so every slice draws the same numbers.
* ``grad(f)(x)`` runs ``f`` on a fresh leaf (or, when x is itself on a graph, on a
  differentiable copy of it) and returns d f / d x. The gradient is recorded (create_graph) when
  any argument requires grad or f's output reaches another tensor that does (a parameter f
  closes over), so ``grad(grad(f))``, per-sample gradients ``vmap(grad(f))`` and an outer
  ``backward()`` through the gradient compose, as in PyTorch.
* ``jacrev`` and ``jacfwd`` both build the Jacobian by reverse mode, one backward pass per output
  element (jacfwd gives the same numbers as PyTorch's forward mode).
* ``functional_call(module, params_and_buffers, args)`` runs ``module`` with the given tensors in
  place of its parameters and buffers (restored afterwards), so gradients flow to those tensors.

Arguments may be pytrees (tuples, lists, dicts of tensors), as in PyTorch.
"""
from __future__ import annotations

import numbers

from .autograd import Tensor

__all__ = ["vmap", "grad", "grad_and_value", "vjp", "jvp", "linearize", "jacrev", "jacfwd",
           "hessian", "functional_call", "stack_module_state", "functionalize",
           "replace_all_batch_norm_modules_", "debug_unwrap"]


# ----------------------------------------------------------------------------- pytrees
def _flatten(tree):
    """(leaves, rebuild): the leaves of nested tuples / lists / dicts, and a function that
    puts a list of new leaves back into the same structure."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(t) for t in tree]
        leaves = [x for p in parts for x in p[0]]

        def rebuild(new, parts=parts, kind=type(tree)):
            out, i = [], 0
            for leaves_k, rb in parts:
                out.append(rb(new[i:i + len(leaves_k)]))
                i += len(leaves_k)
            if kind is tuple or kind is list:
                return kind(out)
            return kind(*out)  # a namedtuple
        return leaves, rebuild
    if isinstance(tree, dict):
        keys = list(tree)
        parts = [_flatten(tree[k]) for k in keys]
        leaves = [x for p in parts for x in p[0]]

        def rebuild(new, parts=parts, keys=keys, kind=type(tree)):
            out, i = {}, 0
            for k, (leaves_k, rb) in zip(keys, parts):
                out[k] = rb(new[i:i + len(leaves_k)])
                i += len(leaves_k)
            return kind(out) if kind is not dict else out
        return leaves, rebuild
    return [tree], lambda new: new[0]


def _broadcast_dims(dims, tree, what):
    """``dims`` (an int / None, or a structure matching ``tree``'s prefix) as one dim per leaf."""
    if dims is None or isinstance(dims, numbers.Integral):
        return [dims] * len(_flatten(tree)[0])
    if isinstance(dims, (tuple, list)) and isinstance(tree, (tuple, list)):
        if len(dims) != len(tree):
            raise ValueError(f"vmap: {what} has {len(dims)} entries but there are {len(tree)} "
                             f"{'inputs' if what == 'in_dims' else 'outputs'}; they must match")
        return [d for dk, tk in zip(dims, tree) for d in _broadcast_dims(dk, tk, what)]
    if isinstance(dims, dict) and isinstance(tree, dict):
        return [d for k in tree for d in _broadcast_dims(dims[k], tree[k], what)]
    raise ValueError(f"vmap: {what}={dims!r} does not match the structure of the "
                     f"{'inputs' if what == 'in_dims' else 'outputs'}")


# ----------------------------------------------------------------------------- vmap
def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``torch.vmap(func, in_dims=0, out_dims=0, randomness='error', *, chunk_size=None)``:
    a function that maps ``func`` over a batch dimension of its inputs (a loop here; see the
    module docstring). ``in_dims``: an int, None (not mapped) or one entry per positional
    argument (nested like the argument); ``out_dims`` likewise for the outputs."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")
    name = getattr(func, "__name__", type(func).__name__)

    def wrapped(*args, **kwargs):
        from .ops import stack
        if not isinstance(in_dims, (numbers.Integral, tuple, list, dict)) and in_dims is not None:
            raise ValueError(f"vmap({name}, in_dims={in_dims!r}, ...): expected in_dims to be "
                             f"int or a (potentially nested) tuple matching the inputs")
        if isinstance(in_dims, (tuple, list)) and len(in_dims) != len(args):
            raise ValueError(f"vmap({name}, in_dims={in_dims!r}, ...)(<inputs>): in_dims is not "
                             f"compatible with the structure of `inputs`. in_dims has "
                             f"{len(in_dims)} elements, but inputs has {len(args)} elements")
        leaves, rebuild = _flatten(list(args))
        dims = _broadcast_dims(list(in_dims) if isinstance(in_dims, tuple) else in_dims,
                               list(args), "in_dims")
        sizes = []
        for leaf, d in zip(leaves, dims):
            if d is None:
                continue
            if not isinstance(leaf, Tensor):
                raise ValueError(f"vmap({name}, in_dims={in_dims!r}, ...)(<inputs>): Got "
                                 f"in_dim={d} for an input but the input is of type "
                                 f"{type(leaf).__name__}. We cannot vmap over non-Tensor "
                                 f"arguments, please use None as the respective in_dim")
            if not -max(leaf.ndim, 1) <= d < max(leaf.ndim, 1) or leaf.ndim == 0:
                raise ValueError(f"vmap({name}, in_dims={in_dims!r}, ...)(<inputs>): Got "
                                 f"in_dim={d} for some input, but that input is a Tensor of "
                                 f"dimensionality {leaf.ndim} so expected in_dim to satisfy "
                                 f"-{leaf.ndim} <= in_dim < {leaf.ndim}.")
            sizes.append(leaf.shape[d])
        if not sizes:
            raise ValueError(f"vmap({name}, in_dims={in_dims!r}, ...)(<inputs>): at least one "
                             f"input must be mapped over (got in_dims={in_dims!r}, and no "
                             f"Tensor input has a non-None in_dim)")
        if len(set(sizes)) != 1:
            raise ValueError(f"vmap({name}, in_dims={in_dims!r}, ...)(<inputs>): Expected all "
                             f"tensors to have the same size in the mapped dimension, got sizes "
                             f"{sizes} for the mapped dimension")
        n = sizes[0]
        state = None
        if randomness == "same":
            from . import backend as B
            kinds = {"cpu"} | {x.device.type for x in leaves if isinstance(x, Tensor)}
            for k in kinds:
                B.generator_for(k)
            gens = {k: g.bit_generator.state for k, g in B._generators.items()
                    if hasattr(g, "bit_generator")}
            state = gens
        results = []
        for i in range(n):
            if state is not None:
                from . import backend as B
                for k, s in state.items():
                    B._generators[k].bit_generator.state = s
            sliced = [leaf.select(d, i) if d is not None else leaf
                      for leaf, d in zip(leaves, dims)]
            results.append(func(*rebuild(sliced), **kwargs))
        out_leaves0, out_rebuild = _flatten(results[0])
        odims = _broadcast_dims(out_dims, results[0], "out_dims")
        per_leaf = [_flatten(r)[0] for r in results]
        stacked = []
        for j, (leaf0, od) in enumerate(zip(out_leaves0, odims)):
            col = [p[j] for p in per_leaf]
            if od is None:
                stacked.append(col[0])
                continue
            if not isinstance(leaf0, Tensor):
                if isinstance(leaf0, numbers.Number):
                    from .creation import tensor
                    col = [tensor(v) for v in col]
                else:
                    raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, "
                                     f"got type {type(leaf0).__name__}. Did you mean to set "
                                     f"out_dims= to None for output?")
            nd = col[0].ndim + 1
            if not -nd <= od < nd:
                raise ValueError(f"vmap({name}, ...): out_dims={od} is out of range for an "
                                 f"output of {nd - 1} dims")
            stacked.append(stack(col, od % nd))
        return out_rebuild(stacked)

    wrapped.__name__ = f"vmap({name})"
    wrapped.__doc__ = func.__doc__
    return wrapped


# ----------------------------------------------------------------------------- grad
def _prepare_args(args, argnums):
    """The arguments with the differentiated ones replaced by fresh differentiable tensors
    (a leaf, or an identity on the caller's graph when the argument already needs grad)."""
    nums = (argnums,) if isinstance(argnums, numbers.Integral) else tuple(argnums)
    if not nums:
        raise RuntimeError("grad: argnums must be non-empty")
    for k in nums:
        if not -len(args) <= k < len(args):
            raise RuntimeError(f"Got argnums={k} but only {len(args)} positional inputs")
    nums = tuple(k % len(args) for k in nums)
    all_leaves = [x for a in args for x in _flatten(a)[0]]
    record = any(isinstance(x, Tensor) and x.requires_grad for x in all_leaves)
    new_args, diff = list(args), []
    for k in nums:
        leaves, rebuild = _flatten(args[k])
        fresh = []
        for x in leaves:
            if not isinstance(x, Tensor) or x.array.dtype.kind not in "fc":
                raise RuntimeError(f"grad: expected argument {k} to be a floating Tensor (or a "
                                   f"structure of them), got "
                                   f"{type(x).__name__ if not isinstance(x, Tensor) else x.dtype}")
            fresh.append(x * 1.0 if x.requires_grad else x.detach().requires_grad_(True))
        diff.append((k, fresh, rebuild))
        new_args[k] = rebuild(fresh)
    return new_args, diff, isinstance(argnums, numbers.Integral), record


def _reaches_outer_graph(out, fresh):
    """True when ``out`` depends on a tensor that requires grad other than the fresh inputs
    (a parameter the function closes over): the gradient is then recorded, so that it stays
    differentiable for an outer backward, as PyTorch's transforms compose with autograd."""
    stop = {id(x) for x in fresh}
    seen, stack = set(), [out]
    while stack:
        t = stack.pop()
        if id(t) in stop or id(t) in seen:
            continue
        seen.add(id(t))
        creator = getattr(t, "creator", None)
        if creator is None:
            if t.requires_grad:
                return True
            continue
        stack.extend(x for x in getattr(creator, "inputs", ()) if isinstance(x, Tensor))
    return False


def _grad_impl(func, argnums, has_aux, args, kwargs):
    from .autograd import enable_grad
    from .graph import grad as autograd_grad
    new_args, diff, single, record = _prepare_args(args, argnums)
    with enable_grad():
        out = func(*new_args, **kwargs)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError("grad_and_value(f)(*args): output of function f should be a "
                                   "tuple: (output, aux) if has_aux is True")
            out, aux = out
        if not isinstance(out, Tensor):
            raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, "
                               f"got {type(out).__name__}")
        if out.numel() != 1:
            raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a scalar "
                               f"Tensor, got tensor with {out.ndim} dims. Maybe you wanted to "
                               f"use the vjp or jacrev APIs instead?")
        flat = [x for _, fresh, _ in diff for x in fresh]
        record = record or _reaches_outer_graph(out, flat)
        gs = autograd_grad([out], flat, create_graph=record, allow_unused=True)
    from .creation import zeros_like
    gs = [zeros_like(x) if g is None else g for x, g in zip(flat, gs)]
    grads, i = [], 0
    for _, fresh, rebuild in diff:
        grads.append(rebuild(gs[i:i + len(fresh)]))
        i += len(fresh)
    g = grads[0] if single else tuple(grads)
    value = out if record else out.detach()
    return g, value, aux


def grad_and_value(func, argnums=0, has_aux=False):
    """``torch.func.grad_and_value(f, argnums=0, has_aux=False)``: a function returning
    (gradient, value), or (gradient, (value, aux)) with ``has_aux``."""
    def wrapped(*args, **kwargs):
        g, value, aux = _grad_impl(func, argnums, has_aux, args, kwargs)
        return (g, (value, aux)) if has_aux else (g, value)
    wrapped.__name__ = f"grad_and_value({getattr(func, '__name__', 'f')})"
    return wrapped


def grad(func, argnums=0, has_aux=False):
    """``torch.func.grad(f, argnums=0, has_aux=False)``: a function returning the gradient of
    the scalar ``f(*args)`` with respect to ``args[argnums]`` (a tuple for a tuple of argnums;
    a structure like the argument for a dict / tuple argument); with ``has_aux``, f returns
    (output, aux) and the result is (gradient, aux)."""
    def wrapped(*args, **kwargs):
        g, _, aux = _grad_impl(func, argnums, has_aux, args, kwargs)
        return (g, aux) if has_aux else g
    wrapped.__name__ = f"grad({getattr(func, '__name__', 'f')})"
    return wrapped


# ----------------------------------------------------------------------------- vjp, jacobians
def vjp(func, *primals, has_aux=False):
    """``torch.func.vjp(f, *primals, has_aux=False)``: (f(*primals), vjp_fn[, aux]) where
    ``vjp_fn(cotangents)`` returns the tuple of v^T J, one entry per primal."""
    from .autograd import enable_grad
    from .graph import grad as autograd_grad
    new_args, diff, _, record = _prepare_args(primals, tuple(range(len(primals))))
    with enable_grad():
        out = func(*new_args)
    aux = None
    if has_aux:
        out, aux = out
    out_leaves, _ = _flatten(out)
    flat = [x for _, fresh, _ in diff for x in fresh]
    record = record or any(_reaches_outer_graph(o, flat) for o in out_leaves
                           if isinstance(o, Tensor))

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        cot = _flatten(cotangents)[0]
        if len(cot) != len(out_leaves):
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as "
                               f"pytree structure of outputs to the function ({len(out_leaves)} "
                               f"tensors, got {len(cot)})")
        for c, o in zip(cot, out_leaves):
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output has a shape of "
                                   f"{tuple(c.shape)} and output has a shape of {tuple(o.shape)}")
        cg = record if create_graph is None else create_graph
        gs = autograd_grad(out_leaves, flat, grad_outputs=cot, retain_graph=True,
                           create_graph=cg or any(c.requires_grad for c in cot),
                           allow_unused=True)
        from .creation import zeros_like
        gs = [zeros_like(x) if g is None else g for x, g in zip(flat, gs)]
        res, i = [], 0
        for _, fresh, rebuild in diff:
            res.append(rebuild(gs[i:i + len(fresh)]))
            i += len(fresh)
        return tuple(res)

    shown = out if record else _detach_tree(out)
    return (shown, vjp_fn, aux) if has_aux else (shown, vjp_fn)


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """``torch.func.jvp(f, primals, tangents)``: (f(*primals), J t), the Jacobian-vector
    product computed by reverse mode twice: g(v) = v^T J is linear in v and recorded, so
    J t = d(g(v) . t)/dv (PyTorch uses forward mode; the numbers agree)."""
    from .autograd import enable_grad
    from .autograd.functional import jvp_by_double_backward
    from .creation import zeros_like
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise RuntimeError(f"jvp: Expected primals and tangents to have the same python "
                           f"structure ({len(primals)} and {len(tangents)} entries)")
    new_args, diff, _, record = _prepare_args(primals, tuple(range(len(primals))))
    with enable_grad():
        out = func(*new_args)
        aux = None
        if has_aux:
            out, aux = out
        out_leaves, out_rebuild = _flatten(out)
        flat = [x for _, fresh, _ in diff for x in fresh]
        record = record or any(_reaches_outer_graph(o, flat) for o in out_leaves)
        tan = [t for tt in tangents for t in _flatten(tt)[0]]
        for x, t in zip(flat, tan):
            if tuple(x.shape) != tuple(t.shape):
                raise RuntimeError(f"jvp: Expected primals and tangents to have the same shape, "
                                   f"got {tuple(x.shape)} and {tuple(t.shape)}")
        jv = jvp_by_double_backward(out_leaves, flat, tan, record)
    jv = [zeros_like(o) if j is None else j for o, j in zip(out_leaves, jv)]
    shown = out if record else _detach_tree(out)
    result = out_rebuild(jv if record else [j.detach() for j in jv])
    return (shown, result, aux) if has_aux else (shown, result)


def linearize(func, *primals):
    """``torch.func.linearize(f, *primals)``: (f(*primals), jvp_fn) with ``jvp_fn(*tangents)``
    the Jacobian-vector product at the primals (recomputed by ``jvp`` at each call)."""
    out = func(*primals)

    def jvp_fn(*tangents):
        return jvp(func, primals, tangents)[1]
    return _detach_tree(out), jvp_fn


def stack_module_state(models):
    """``torch.func.stack_module_state(models)``: (params, buffers), dicts of each name's
    tensors of the models stacked on a new leading dim (for ``vmap`` over an ensemble with
    ``functional_call``); the stacked parameters are new leaves that require grad."""
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or not any(m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/"
                           "eval mode.")
    from .ops import stack
    names = [n for n, _ in models[0].named_parameters()]
    params = {n: stack([dict(m.named_parameters())[n].detach() for m in models])
              .requires_grad_(True) for n in names}
    bnames = [n for n, _ in models[0].named_buffers()]
    buffers = {n: stack([dict(m.named_buffers())[n] for m in models]) for n in bnames}
    return params, buffers


def _detach_tree(tree):
    leaves, rebuild = _flatten(tree)
    return rebuild([x.detach() if isinstance(x, Tensor) else x for x in leaves])


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """``torch.func.jacrev(f, argnums=0, has_aux=False)``: the Jacobian of f at the inputs,
    of shape out.shape + in.shape (a tuple over argnums when argnums is a tuple; a structure
    over the outputs when f returns several), by one backward pass per output element."""
    def wrapped(*args):
        from .autograd import enable_grad
        from .graph import grad as autograd_grad
        from .creation import zeros_like
        from .ops import stack
        new_args, diff, single, record = _prepare_args(args, argnums)
        with enable_grad():
            out = func(*new_args)
        aux = None
        if has_aux:
            out, aux = out
        out_leaves, out_rebuild = _flatten(out)
        flat = [x for _, fresh, _ in diff for x in fresh]
        record = record or any(_reaches_outer_graph(o, flat) for o in out_leaves)
        per_out = []
        for o in out_leaves:
            rows = [[] for _ in flat]
            flat_o = o.reshape(-1)
            for e in range(flat_o.shape[0]):
                gs = autograd_grad([flat_o[e]], flat, retain_graph=True, create_graph=record,
                                   allow_unused=True)
                for r, x, g in zip(rows, flat, gs):
                    r.append(zeros_like(x) if g is None else g)
            jac = []
            for r, x in zip(rows, flat):
                j = stack(r, 0) if r else zeros_like(x).reshape((0,) + tuple(x.shape))
                jac.append(j.reshape(tuple(o.shape) + tuple(x.shape)))
            res, i = [], 0
            for _, fresh, rebuild in diff:
                res.append(rebuild(jac[i:i + len(fresh)]))
                i += len(fresh)
            per_out.append(res[0] if single else tuple(res))
        result = out_rebuild(per_out)
        return (result, aux) if has_aux else result
    wrapped.__name__ = f"jacrev({getattr(func, '__name__', 'f')})"
    return wrapped


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """``torch.func.jacfwd``: the same Jacobian as ``jacrev`` (computed by reverse mode here;
    PyTorch uses forward mode, the numbers agree)."""
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func, argnums=0):
    """``torch.func.hessian(f, argnums=0)``: jacfwd(jacrev(f))."""
    return jacfwd(jacrev(func, argnums), argnums)


# ----------------------------------------------------------------------------- functional_call
def _all_modules(m, prefix):
    """(name, submodule) for every path to every submodule (shared ones under each name)."""
    yield prefix, m
    for name, child in m._modules.items():
        if child is not None:
            yield from _all_modules(child, prefix + ("." if prefix else "") + name)


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """``torch.func.functional_call(module, params_and_buffers, args, kwargs=None, *,
    tie_weights=True, strict=False)``: ``module(*args, **kwargs)`` computed with the tensors
    of the dict(s) (keys as in ``named_parameters`` / ``named_buffers``) in place of the
    module's own, which are put back afterwards. With ``tie_weights`` a tensor given for one
    of several names that share a parameter replaces all of them; ``strict`` requires every
    parameter and buffer to be given."""
    if isinstance(parameter_and_buffer_dicts, dict):
        given = dict(parameter_and_buffer_dicts)
    else:
        given = {}
        for d in parameter_and_buffer_dicts:
            for k, v in d.items():
                if k in given:
                    raise ValueError(f"{k} appeared in multiple dictionaries; behavior of "
                                     f"functional call is ambiguous")
                given[k] = v
    slots = {}  # name -> (submodule, store name, attribute)
    for store in ("_parameters", "_buffers"):
        for prefix, m in _all_modules(module, ""):
            for attr, t in getattr(m, store).items():
                if t is None:
                    continue
                slots[(prefix + "." if prefix else "") + attr] = (m, store, attr, t)
    unknown = [k for k in given if k not in slots]
    if unknown:
        if strict:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}: "
                               f"Unexpected key(s): {', '.join(repr(k) for k in unknown)}.")
        # PyTorch sets unknown names as plain attributes; here they are refused with why
        raise RuntimeError(f"functional_call: {unknown} are not parameters or buffers of "
                           f"{type(module).__name__}")
    if strict:
        missing = [k for k in slots if k not in given]
        if missing:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}: "
                               f"Missing key(s): {', '.join(repr(k) for k in missing)}.")
    by_id = {}
    if tie_weights:
        for k, v in given.items():
            by_id[id(slots[k][3])] = v
    swaps = []
    for name, (m, store, attr, t) in slots.items():
        new = given.get(name, by_id.get(id(t)) if tie_weights else None)
        if new is None:
            continue
        swaps.append((m, store, attr, t))
        getattr(m, store)[attr] = new
    try:
        if args is None:
            args = ()
        elif not isinstance(args, tuple):
            args = (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for m, store, attr, t in swaps:
            getattr(m, store)[attr] = t


def functionalize(func, *, remove="mutations"):
    """``torch.func.functionalize(f)``: PyTorch rewrites f's in-place ops as out-of-place ones
    for its compilers; minigen runs f eagerly, so this is f itself (same results)."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(f"functionalize(f, remove='mutations'): received invalid argument for "
                           f"remove={remove}. Valid options are: 'mutations', "
                           f"'mutations_and_views'")
    return func


def debug_unwrap(tensor, *, recurse=True):
    """The tensor itself: minigen's transforms wrap nothing."""
    return tensor


def replace_all_batch_norm_modules_(root):
    """``torch.func.replace_all_batch_norm_modules_(module)``: every batch norm layer stops
    tracking running statistics (running_mean / running_var become None), so it normalises
    by the batch's own, in place; returns the module."""
    from .nn.modules.batchnorm import _BatchNorm
    for m in root.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean = None
            m.running_var = None
            m.num_batches_tracked = None
            m.track_running_stats = False
    return root
