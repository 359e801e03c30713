"""``Optimizer``: parameter groups, per-parameter state, and state dicts in PyTorch's format.

An optimizer holds ``param_groups``, a list of dicts: each has ``'params'`` (a list of tensors)
and the hyperparameters for them (``'lr'``, ``'momentum'``, ...), filled from ``defaults``
where the group does not say. Per-parameter state (Adam's moving averages, SGD's momentum
buffer) lives in ``state[param]``, a dict created on the first ``step``.

``step()`` runs under ``no_grad`` and changes ``p.array`` in place with the array module of the
parameter's device (``xp``), so the same code steps on CPU and GPU, and anything that holds the
parameter (a Module, a tied weight) sees the new values.

``state_dict()`` has PyTorch's layout: parameters are replaced by their position in the groups::

    {'state': {0: {'step': 3, 'exp_avg': tensor, ...}, 1: {...}},
     'param_groups': [{'lr': 0.001, 'betas': (0.9, 0.999), ..., 'params': [0, 1]}]}

Two differences from PyTorch, both deliberate: ``'step'`` is a Python int (PyTorch keeps a 0-d
float tensor, which its CUDA-graph capture needs), and ``state_dict()`` returns a snapshot
(copies), where PyTorch returns the live state tensors, which keep changing as training goes on.
"""
from __future__ import annotations

import functools
from collections import OrderedDict, defaultdict

import numpy

from ..autograd import Tensor, _wrap, enable_grad


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class _Group(dict):
    """A parameter group. PyTorch accepts one-element Tensors as hyperparameters
    (``lr=torch.tensor(1e-3)``) and keeps them in the group; the update rules here compute with
    raw arrays, so reading such an entry gives its Python number (the Tensor itself stays in
    the group, and in ``state_dict()``)."""

    def __getitem__(self, key):
        v = dict.__getitem__(self, key)
        if isinstance(v, Tensor) and key != "params":
            return v.item()
        return v

    def get(self, key, default=None):
        return self[key] if key in self else default


class _RemovableHandle:
    """What the ``register_*_hook`` methods return: ``remove()`` unregisters the hook."""
    _next_id = 0

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = _RemovableHandle._next_id
        _RemovableHandle._next_id += 1

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


_global_step_pre_hooks = OrderedDict()
_global_step_post_hooks = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """``hook(optimizer, args, kwargs)`` before every optimizer's ``step``."""
    h = _RemovableHandle(_global_step_pre_hooks)
    _global_step_pre_hooks[h.id] = hook
    return h


def register_optimizer_step_post_hook(hook):
    """``hook(optimizer, args, kwargs)`` after every optimizer's ``step``."""
    h = _RemovableHandle(_global_step_post_hooks)
    _global_step_post_hooks[h.id] = hook
    return h


def _with_step_hooks(step):
    """``step`` wrapped so that the global and per-optimizer step hooks run around it, as
    PyTorch's: a pre hook may return (args, kwargs) to replace the arguments."""
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if self.__dict__.get("_in_step"):  # a subclass's step calling super().step(): once
            return step(self, *args, **kwargs)
        self.__dict__["_in_step"] = True
        try:
            return _hooked_step(step, self, args, kwargs)
        finally:
            self.__dict__["_in_step"] = False
    wrapper._hooked = True
    return wrapper


def _hooked_step(step, self, args, kwargs):
    """The pre hooks (a pre hook may return new (args, kwargs)), ``step``, the post hooks."""
    for hook in (*_global_step_pre_hooks.values(),
                 *getattr(self, "_optimizer_step_pre_hooks", {}).values()):
        result = hook(self, args, kwargs)
        if result is not None:
            if not (isinstance(result, tuple) and len(result) == 2):
                raise RuntimeError(f"{hook} must return None or a tuple of (new_args, "
                                   f"new_kwargs), but got {result}.")
            args, kwargs = result
    out = step(self, *args, **kwargs)
    for hook in (*getattr(self, "_optimizer_step_post_hooks", {}).values(),
                 *_global_step_post_hooks.values()):
        hook(self, args, kwargs)
    return out


class Optimizer:
    """Base class: subclasses set ``defaults`` and implement ``step``.

    ``params`` may be tensors, ``(name, tensor)`` pairs (``model.named_parameters()``: the
    names go into each group's ``'param_names'``, as PyTorch 2.13 keeps them), or dicts of
    either. Hooks as PyTorch's: ``register_step_pre_hook`` / ``register_step_post_hook``
    (``hook(optimizer, args, kwargs)``), ``register_state_dict_pre_hook`` (``hook(opt)``),
    ``register_state_dict_post_hook`` (``hook(opt, state_dict)``, may return a new one),
    ``register_load_state_dict_pre_hook`` (``hook(opt, state_dict)``, may return a new one),
    ``register_load_state_dict_post_hook`` (``hook(opt)``)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_hooked", False):
            cls.step = _with_step_hooks(step)

    def _hooks(self, name):
        d = self.__dict__.get(name)
        if d is None:
            d = self.__dict__[name] = OrderedDict()
        return d

    def _register(self, name, hook, prepend=False):
        hooks = self._hooks(name)
        h = _RemovableHandle(hooks)
        hooks[h.id] = hook
        if prepend:
            hooks.move_to_end(h.id, last=False)
        return h

    def register_step_pre_hook(self, hook):
        return self._register("_optimizer_step_pre_hooks", hook)

    def register_step_post_hook(self, hook):
        return self._register("_optimizer_step_post_hooks", hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        return self._register("_optimizer_state_dict_pre_hooks", hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        return self._register("_optimizer_state_dict_post_hooks", hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        return self._register("_optimizer_load_state_dict_pre_hooks", hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        return self._register("_optimizer_load_state_dict_post_hooks", hook, prepend)

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = defaultdict(dict)  # param (a Tensor, hashed by identity) -> its state
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
        params = list(params)
        if len(params) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines) + "\n)"

    # -- groups -------------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a dict ``{'params': [...], <hyperparameters>}``; missing hyperparameters come
        from ``defaults``. Checked completely before the group is added."""
        if not isinstance(param_group, dict):
            raise TypeError(f"add_param_group: param_group must be a dict, got "
                            f"{type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs; "
                            "please use a list instead")
        else:
            params = list(params)
        # (name, tensor) pairs: the names go into 'param_names'
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            params = [p[1] for p in params]
            group = {"params": params, "param_names": names,
                     **{k: v for k, v in group.items() if k not in ("params", "param_names")}}
        if self.param_groups and (("param_names" in group)
                                  != ("param_names" in self.param_groups[0])):
            which = "with names" if "param_names" in group else "without names"
            raise ValueError("all optimizer param groups should be with/without names. cannot "
                             f"add param group {which} to the optimizer")
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if p.creator is not None:
                raise ValueError("can't optimize a non-leaf Tensor")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("add_param_group: a parameter appears more than once in the group")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        group["params"] = params
        for k, v in group.items():
            if k != "params" and isinstance(v, Tensor) and v.numel() != 1:
                raise ValueError(f"Tensor {k} must be 1-element")
        self.param_groups.append(_Group(group))

    def zero_grad(self, set_to_none=True):
        """Forget the gradients: ``p.grad = None`` (the default), or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad.creator is not None:  # a grad recorded with create_graph
                    p.grad = _wrap(p.grad.xp.zeros_like(p.grad.array))
                else:
                    p.grad.array.fill(0)

    def step(self, closure=None):
        raise NotImplementedError

    def _closure(self, closure):
        """Call ``closure`` (which recomputes the loss, with gradients) if one was given."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _state_for(self, p, init):
        """``state[p]``, created by ``init(p)`` on the parameter's first step."""
        st = self.state.get(p)
        if not st:
            st = self.state[p] = init(p)
        return st

    # -- state dict ---------------------------------------------------------------------
    def state_dict(self):
        """A snapshot ``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``
        with parameters numbered in the order they appear across the groups."""
        for hook in self._hooks("_optimizer_state_dict_pre_hooks").values():
            hook(self)
        out = self._state_dict()
        for hook in self._hooks("_optimizer_state_dict_post_hooks").values():
            new = hook(self, out)
            if new is not None:
                out = new
        return out

    def _state_dict(self):
        index = {}
        groups = []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            out = {k: v for k, v in g.items() if k != "params"}
            out["params"] = ids
            groups.append(out)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if self.state.get(p):
                    state[index[id(p)]] = {k: _snapshot(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load a state dict from ``state_dict()`` (or from PyTorch's optimizer of the same
        kind). Everything is checked (group count, group sizes, indices, shapes) before any
        state changes; tensors are copied to each parameter's device and dtype."""
        for hook in self._hooks("_optimizer_load_state_dict_pre_hooks").values():
            new = hook(self, state_dict)
            if new is not None:
                state_dict = new
        self._load_state_dict(state_dict)
        for hook in self._hooks("_optimizer_load_state_dict_post_hooks").values():
            hook(self)

    def _load_state_dict(self, state_dict):
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict \
                or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'state' and "
                             "'param_groups'")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: loaded state dict has "
                             f"{len(saved_groups)} parameter groups, this optimizer has "
                             f"{len(self.param_groups)}")
        by_index = {}
        for gi, (mine, saved) in enumerate(zip(self.param_groups, saved_groups)):
            ids = list(saved.get("params", ()))
            if len(ids) != len(mine["params"]):
                raise ValueError(f"{name}.load_state_dict: loaded state dict contains a parameter "
                                 f"group {gi} of size {len(ids)} that doesn't match the size of "
                                 f"the optimizer's group ({len(mine['params'])})")
            for i, p in zip(ids, mine["params"]):
                by_index[int(i)] = p
        new_state = defaultdict(dict)
        for i, st in state_dict["state"].items():
            i = int(i)
            if i not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter index {i}, which "
                                 "no parameter group lists")
            p = by_index[i]
            new_state[p] = {k: _load_value(name, i, k, v, p) for k, v in st.items()}
        # checks passed: now change things
        self.state = new_state
        for mine, saved in zip(self.param_groups, saved_groups):
            params = mine["params"]
            mine.clear()
            mine.update({k: v for k, v in saved.items() if k != "params"})
            mine["params"] = params


def _snapshot(v):
    if isinstance(v, Tensor):
        return _wrap(v.array.copy())
    return v


def _load_value(name, i, key, v, p):
    """A state value made ready for parameter ``p`` (same device; floating values in p's dtype)."""
    if key == "step":
        return int(_to_host(v).reshape(()).item()) if not isinstance(v, (int, float)) else int(v)
    if v is None or isinstance(v, (int, float, bool, str)):
        return v
    arr = _to_host(v)
    if arr.ndim and tuple(arr.shape) != tuple(p.shape):
        raise ValueError(f"{name}.load_state_dict: state '{key}' of parameter {i} has shape "
                         f"{list(arr.shape)}, but the parameter has shape {list(p.shape)}")
    if arr.dtype.kind == "f":
        arr = arr.astype(p.dtype)
    from ..backend import get_backend
    return _wrap(get_backend(p.device).asarray(arr))


def _to_host(v):
    """A NumPy copy of a minigen Tensor, a NumPy array or a PyTorch tensor."""
    if isinstance(v, Tensor):
        return v.cpu().numpy()
    if isinstance(v, numpy.ndarray):
        return v.copy()
    if hasattr(v, "detach") and hasattr(v, "cpu"):  # a torch.Tensor
        return numpy.array(v.detach().cpu().numpy())
    raise TypeError(f"optimizer state value of type {type(v).__name__} is not a tensor or array")

