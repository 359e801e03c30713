"""``Parameter``: a tensor that a Module registers as one of its learnable weights."""
from ..autograd import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad and that ``Module`` registers when assigned as an
    attribute (``self.weight = Parameter(...)``)."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            from ..creation import empty
            data = empty(0)
        src = data.array if isinstance(data, Tensor) else data
        Tensor.__init__(self, src)
        if isinstance(data, Tensor):
            self.array = data.array  # share storage, as torch.nn.Parameter does
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Buffer(Tensor):
    """PyTorch 2.5's way to declare a buffer by assignment: ``self.running = nn.Buffer(t)``
    registers ``running`` as a buffer of the module, as ``register_buffer`` does (and
    ``persistent=False`` keeps it out of the state dict). The tensor shares ``data``'s storage
    (a detached view, as PyTorch's) and keeps its requires_grad."""

    __slots__ = ("persistent",)

    def __init__(self, data=None, *, persistent=True):
        from ..creation import empty
        if data is None:
            data = empty(0)
        Tensor.__init__(self, data.array if isinstance(data, Tensor) else data)
        if isinstance(data, Tensor):
            self.array = data.array
            if data.requires_grad:
                self.requires_grad_(True)
        self.persistent = persistent


_UNINIT_SHAPE = ("Can't access the shape of an uninitialized parameter or buffer. This error "
                 "usually happens in `load_state_dict` when trying to load an uninitialized "
                 "parameter into an initialized one. Call `forward` to initialize the parameters "
                 "before accessing their attributes.")


class _Uninitialized:
    """What ``UninitializedParameter`` and ``UninitializedBuffer`` share: no data yet, only a
    dtype and a device (held by an empty array), until ``materialize(shape)`` gives them an
    (uninitialised) array of that shape and turns them into the ordinary class, the same
    object, so that optimizers and modules that hold it see the change."""

    __slots__ = ()
    cls_to_become = None

    @property
    def shape(self):
        raise RuntimeError(_UNINIT_SHAPE)

    def size(self, dim=None):
        raise RuntimeError(_UNINIT_SHAPE)

    def numel(self):
        raise ValueError(f"Attempted to use an uninitialized parameter in numel. This error "
                         f"happens when you are using a `LazyModule` or explicitly manipulating "
                         f"`torch.nn.parameter.{type(self).__name__}` objects. When using "
                         "LazyModules Call `forward` with a dummy batch to initialize the "
                         "parameters before calling torch functions")

    def materialize(self, shape, device=None, dtype=None):
        """Give the tensor an array of ``shape`` (its own dtype and device unless given) and
        make it a ``Parameter`` (or a plain ``Tensor`` for a buffer)."""
        from .. import backend as B
        from ..creation import empty
        dev = device if device is not None else self.array_device()
        dt = B.as_dtype(dtype) if dtype is not None else self.array.dtype
        if isinstance(shape, int):
            shape = (shape,)
        self.array = empty(tuple(shape), dtype=dt, device=dev).array
        self.__class__ = self.cls_to_become

    def array_device(self):
        return Tensor.device.fget(self)

    def __repr__(self):
        return f"<{type(self).__name__}>"


class UninitializedParameter(_Uninitialized, Parameter):
    """A parameter whose shape is not known yet (the weights of a ``Lazy*`` module): it is
    registered, listed by ``parameters()`` and moved by ``to()``, but has no data until the
    module's first forward calls ``materialize``, which makes it an ordinary ``Parameter``."""

    __slots__ = ()
    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        from ..creation import empty
        Parameter.__init__(self, empty(0, dtype=dtype, device=device), requires_grad)


class UninitializedBuffer(_Uninitialized, Tensor):
    """A buffer whose shape is not known yet (a ``LazyBatchNorm``'s running statistics);
    ``materialize`` makes it an ordinary ``Tensor``."""

    __slots__ = ()
    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None):
        from ..creation import empty
        Tensor.__init__(self, empty(0, dtype=dtype, device=device).array)
        if requires_grad:
            self.requires_grad_(True)
