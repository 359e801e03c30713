"""``Module``: the base class of every layer and model, with PyTorch's semantics.

Assigning a ``Parameter`` or a ``Module`` as an attribute registers it; ``register_buffer``
registers a tensor that is state but not learned (BatchNorm's running mean). State dict keys are
the dotted attribute paths, exactly as in PyTorch (``encoder.0.weight``), so state dicts can be
exchanged with PyTorch models by key.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import backend as B
from ..autograd import Tensor, _wrap, no_grad
from .parameter import Buffer, Parameter, _Uninitialized


class Module:
    """Base class for layers and models. Subclasses define ``forward``; call the module."""

    training: bool

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration ------------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(
                f"cannot assign '{name}' before Module.__init__() call (call super().__init__() "
                "first in your module's __init__)")
        params, mods, bufs = d["_parameters"], d["_modules"], d["_buffers"]
        if isinstance(value, (Parameter, Module)):
            target = params if isinstance(value, Parameter) else mods
            # leave the target store alone: re-assigning a name keeps its place (and so the
            # order of parameters() and of the state dict), as in PyTorch
            for store in (params, mods, bufs):
                if store is not target:
                    store.pop(name, None)
            d.pop(name, None)
            target[name] = value
        elif name in params or name in mods:
            if value is not None:
                kind = "parameter" if name in params else "child module"
                raise TypeError(f"cannot assign {type(value).__name__} as {kind} '{name}' "
                                f"({'Parameter' if name in params else 'Module'} or None expected)")
            (params if name in params else mods)[name] = None
        elif isinstance(value, Buffer):  # nn.Buffer(t, persistent=...): a buffer by assignment
            self.register_buffer(name, value, value.persistent)
        elif name in bufs:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' "
                                "(a Tensor or None is expected)")
            bufs[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        # a parametrized tensor (nn.utils.parametrize) is computed from its original on access
        mods = d.get("_modules")
        plist = mods.get("parametrizations") if mods else None
        if plist is not None and name in plist._modules:
            return plist._modules[name]()
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None, "
                            f"got {type(param).__name__}")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is part of the module's state (moved by ``to``, saved in the state dict
        unless ``persistent=False``) but not a parameter."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, "
                            f"got {type(tensor).__name__}")
        if "." in name or name == "":
            raise KeyError(f"register_buffer: buffer name can't contain '.' or be empty, got {name!r}")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"add_module: module name should be a string, got {type(name).__name__}")
        if "." in name or name == "":
            raise KeyError(f"add_module: module name can't contain '.' or be empty, got {name!r}")
        if name not in self._modules and hasattr(self, name):
            raise KeyError(f"add_module: attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    # -- calling -----------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required \"forward\" function")

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        pre, post = d.get("_forward_pre_hooks"), d.get("_forward_hooks")
        bpre, bpost = d.get("_backward_pre_hooks"), d.get("_backward_hooks")
        if not pre and not post and not bpre and not bpost:
            return self.forward(*args, **kwargs)
        # hook(module, args) may return new args; hook(module, args, output) a new output
        # (registered with_kwargs=True: hook(module, args, kwargs) -> (args, kwargs) and
        # hook(module, args, kwargs, output))
        kw = d.get("_hooks_with_kwargs", ())
        for key, hook in list((pre or {}).items()):
            if key in kw:
                r = hook(self, args, kwargs)
                if r is not None:
                    args, kwargs = r
            else:
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        backward_hooks = None
        if (bpre or bpost) and _grad_enabled():
            from .hooks import BackwardHooks
            backward_hooks = BackwardHooks(self, bpre, bpost)
            args = backward_hooks.wrap_inputs(args)
        out = self.forward(*args, **kwargs)
        if backward_hooks is not None:
            out = backward_hooks.wrap_outputs(out)
        for key, hook in list((post or {}).items()):
            r = hook(self, args, kwargs, out) if key in kw else hook(self, args, out)
            if r is not None:
                out = r
        return out

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args)`` before every forward; a non-None result replaces the
        positional arguments (``with_kwargs=True``: ``hook(module, args, kwargs)`` returning
        ``(args, kwargs)``). ``prepend=True`` runs it before the hooks already there. Returns a
        handle whose ``remove()`` unregisters it."""
        return _add_hook(self, "_forward_pre_hooks", hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """Call ``hook(module, args, output)`` after every forward; a non-None result replaces
        the output (``with_kwargs=True``: ``hook(module, args, kwargs, output)``). Returns a
        handle whose ``remove()`` unregisters it."""
        return _add_hook(self, "_forward_hooks", hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_input, grad_output)`` when the gradients with respect to
        this module's tensor inputs have been computed (tuples, one entry per positional tensor
        argument / output; None where none flows); a non-None result replaces grad_input.
        See minigen/nn/hooks.py."""
        return _add_hook(self, "_backward_hooks", hook, prepend)

    register_backward_hook = register_full_backward_hook  # (PyTorch's older name)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_output)`` when the gradients with respect to this module's
        outputs have been computed, before they flow into it; a non-None result replaces them."""
        return _add_hook(self, "_backward_pre_hooks", hook, prepend)

    def get_submodule(self, target):
        """The submodule at the dotted path ``target`` ('' is the module itself)."""
        m = self
        for part in target.split(".") if target else []:
            if part not in m._modules or m._modules[part] is None:
                raise AttributeError(f"{type(m).__name__} has no attribute `{part}` (looking up "
                                     f"{target!r})")
            m = m._modules[part]
        return m

    def get_parameter(self, target):
        """The parameter at the dotted path ``target``."""
        return self._get_tensor(target, "_parameters", "parameter")

    def get_buffer(self, target):
        """The buffer at the dotted path ``target``."""
        return self._get_tensor(target, "_buffers", "buffer")

    def _get_tensor(self, target, store, kind):
        mod, _, name = target.rpartition(".")
        m = self.get_submodule(mod)
        if name not in getattr(m, store):
            raise AttributeError(f"{type(m).__name__} has no {kind} `{name}`")
        return getattr(m, store)[name]

    # -- traversal -----------------------------------------------------------------------
    def named_modules(self, memo=None, prefix=""):
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, prefix + ("." if prefix else "") + name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named(self, store, prefix, recurse):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, t in getattr(m, store).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield mp + ("." if mp else "") + name, t

    def named_parameters(self, prefix="", recurse=True):
        yield from self._named("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        yield from self._named("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # -- modes, devices, dtypes --------------------------------------------------------
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("train: training mode is expected to be boolean")
        # recurse through the children's own train(), so a subclass that overrides it is obeyed
        object.__setattr__(self, "training", mode)
        for m in self.children():
            m.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn):
        """Call ``fn`` on every submodule (children first) and then on self, as PyTorch does."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply(self, convert):
        """Replace every parameter's and buffer's data by ``convert(tensor)`` (same objects)."""
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for k, t in store.items():
                    if t is None:
                        continue
                    new = convert(t)
                    if new is not t:
                        t.array = new.array
                    if t.grad is not None:
                        t.grad = convert(t.grad)
        return self

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)`` or both: moves/casts parameters and buffers in place.
        Only floating tensors change dtype (integer buffers such as num_batches_tracked stay).
        ``memory_format`` (``torch.channels_last``, ...) is checked and changes nothing: minigen
        keeps its own layout. ``to("meta")`` keeps the tensors as they are (no meta device here)."""
        fmt = kwargs.get("memory_format")
        if fmt is not None:
            from ..ops.shape import check_memory_format
            check_memory_format(None, fmt, "to")
        device, dtype = kwargs.get("device"), kwargs.get("dtype")
        for a in args:
            if isinstance(a, B.device) or (isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda", "meta")):
                device = a
            else:
                dtype = a
        if isinstance(device, str) and device.split(":")[0] == "meta":
            # PyTorch's meta tensors hold shapes without data (a stateless skeleton for
            # torch.func.functional_call, as in the model-ensembling tutorial); minigen has no
            # meta device, so the module keeps its tensors where they are
            device = None
        dtype = B.as_dtype(dtype)
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"Module.to: only floating dtypes are accepted, got {dtype}")
        if device is not None:
            B.get_backend(device)

        def convert(t):
            out = t.detach()
            if device is not None and t.device != device:
                out = out.to(device)
            if dtype is not None and t.dtype.kind == "f" and t.dtype != dtype:
                out = out.to(dtype)
            return out
        return self._apply(convert)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def double(self):
        return self.to(B.float64)

    def float(self):
        return self.to(B.float32)

    def half(self):
        """PyTorch casts to float16; minigen computes in float32 and float64 only."""
        raise TypeError(f"{type(self).__name__}.half(): minigen has no float16 arithmetic (its "
                        "ops run in float32 or float64 on NumPy/CuPy); keep float32, or .double()")

    def type(self, dst_type):
        """Cast floating parameters and buffers to ``dst_type`` (a dtype), as ``to(dtype)``."""
        return self.to(dst_type)

    def share_memory(self):
        """PyTorch moves the tensors to shared memory for worker processes (Hogwild training);
        minigen trains in one process, so the module is returned unchanged."""
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = _wrap(p.grad.xp.zeros_like(p.grad.array))

    # -- state dict ----------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An ordered dict of every parameter and persistent buffer, by dotted name.

        As in PyTorch, a module registered under two names (``Sequential(l, act, l)``) appears
        under both (``0.weight`` and ``2.weight``), unlike ``parameters()``, which dedups."""
        out = OrderedDict() if destination is None else destination
        for k, p in self._parameters.items():
            if p is not None:
                out[prefix + k] = p if keep_vars else p.detach()
        for k, b in self._buffers.items():
            if b is not None and k not in self._non_persistent:
                out[prefix + k] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=out, prefix=prefix + name + ".", keep_vars=keep_vars)
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Every key, shape and device is checked before anything changes, so a bad state dict
        leaves the module as it was. Returns (missing_keys, unexpected_keys).
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict:
            if missing:
                errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing))
            if unexpected:
                errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected))
        staged = []
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = _as_host_or_tensor(v, k)
            shape = tuple(arr.shape)
            if isinstance(t, _Uninitialized):  # a Lazy module's weight takes the loaded shape
                t.materialize(shape)
            if shape != tuple(t.shape):
                errors.append(f"size mismatch for {k}: copying a param with shape {list(shape)} "
                              f"from checkpoint, the shape in current model is {list(t.shape)}.")
                continue
            staged.append((t, arr))
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        with no_grad():
            for t, arr in staged:
                src = arr.to(t.device) if isinstance(arr, Tensor) else arr
                new = src.array.astype(t.dtype) if isinstance(src, Tensor) else \
                    B.get_backend(t.device).asarray(arr.astype(t.dtype))
                t.array = new.copy() if isinstance(src, Tensor) and new is src.array else new
        return _IncompatibleKeys(missing, unexpected)

    # -- printing -----------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            mod = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {mod}")
        main = type(self).__name__ + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __dir__(self):
        return sorted(set(list(super().__dir__()) + list(self._parameters) + list(self._modules)
                          + list(self._buffers)))


class RemovableHandle:
    """What ``register_*_hook`` returns: ``remove()`` takes the hook out again."""

    _next_id = 0

    def __init__(self, store):
        self._store, self.id = store, RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self._store.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _add_hook(module, store_name, hook, prepend=False, with_kwargs=False):
    if not callable(hook):
        raise TypeError(f"{store_name.strip('_')}: hook must be callable, got {type(hook).__name__}")
    store = module.__dict__.get(store_name)
    if store is None:  # a module made before these hooks existed (or unpickled)
        store = OrderedDict()
        object.__setattr__(module, store_name, store)
    handle = RemovableHandle(store)
    store[handle.id] = hook
    if prepend:
        store.move_to_end(handle.id, last=False)
    if with_kwargs:
        kw = module.__dict__.get("_hooks_with_kwargs")
        if kw is None:
            kw = set()
            object.__setattr__(module, "_hooks_with_kwargs", kw)
        kw.add(handle.id)
    return handle


def _grad_enabled():
    from ..autograd import is_grad_enabled
    return is_grad_enabled()


def _as_host_or_tensor(v, key):
    import numpy
    if isinstance(v, Tensor):
        return v
    if isinstance(v, numpy.ndarray) or isinstance(v, (int, float, list)):
        return numpy.asarray(v)
    try:  # a torch tensor, or anything with .numpy()/.detach()
        if hasattr(v, "detach"):
            v = v.detach()
        if hasattr(v, "cpu"):
            v = v.cpu()
        return numpy.asarray(v.numpy() if hasattr(v, "numpy") else v)  # (a host tensor: moved to the cpu above)
    except Exception:
        raise TypeError(f"load_state_dict: value for key '{key}' is a {type(v).__name__}, "
                        "not a tensor or array") from None


class _IncompatibleKeys(tuple):
    def __new__(cls, missing, unexpected):
        self = tuple.__new__(cls, (missing, unexpected))
        return self

    @property
    def missing_keys(self):
        return self[0]

    @property
    def unexpected_keys(self):
        return self[1]

    def __repr__(self):
        if not self[0] and not self[1]:
            return "<All keys matched successfully>"
        return f"_IncompatibleKeys(missing_keys={self[0]}, unexpected_keys={self[1]})"
