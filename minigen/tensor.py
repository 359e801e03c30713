"""``Tensor``: an n-dimensional array that remembers how it was computed.

The backend array itself is ``array`` (NumPy on 'cpu', CuPy on 'cuda'); ``data`` is PyTorch's
``.data``: another Tensor over the same array, detached from the graph; ``creator`` is the Function node
that made it when gradients were being recorded (PyTorch calls it ``grad_fn``). The ops that
act on tensors live in minigen/ops/ and are installed as methods by minigen/ops/__init__.py;
recording lives in minigen/autograd.py, the backward walk in minigen/graph.py.
"""
from __future__ import annotations

import numpy

from . import autograd as _autograd  # grad mode (read at call time)
from . import backend as _backend
from . import threads as _threads
from .backend import _by_array_type

def _is_size(x):
    """A Python int (not bool), or a torch.Size-like tuple subclass of ints."""
    if type(x) is int:
        return True
    return type(x) is not tuple and isinstance(x, tuple) and all(type(s) is int for s in x)


class Tensor:
    """An n-dimensional array that remembers how it was computed.

    Create tensors with ``minigen.tensor``, ``zeros``, ``randn`` and friends. Attributes:
    ``array`` (the backend array, NumPy or CuPy), ``data`` (PyTorch's: a detached Tensor on the
    same memory; ``t.data = other`` replaces the array), ``grad`` (a Tensor, filled by ``backward``), ``requires_grad``,
    ``creator`` (the Function that made it; PyTorch calls it ``grad_fn``).
    """

    __slots__ = ("array", "grad", "requires_grad", "creator", "_idx", "_retain", "_hist",
                 "_view", "__weakref__")
    __array_priority__ = 1000  # numpy_scalar * tensor -> Tensor.__rmul__, not numpy

    def __init__(self, data=None, *sizes, requires_grad=False, dtype=None, device=None):
        from .creation import _to_array

        if sizes and not _is_size(data):  # the old positional form Tensor(data, requires_grad)
            requires_grad, dtype, device = (tuple(sizes) + (dtype, device))[:3]
            sizes = ()
        if data is None or _is_size(data):
            # PyTorch's legacy constructor: Tensor() / Tensor(2, 3) / Tensor(Size) is an
            # uninitialised tensor of that shape in the default dtype (here: zeros)
            shape = () if data is None else (tuple(data) if not isinstance(data, int) else (data,))
            shape = (0,) if data is None else shape + tuple(int(s) for s in sizes)
            data = numpy.zeros(shape, dtype=_backend.get_default_dtype() if dtype is None else dtype)
        elif isinstance(data, (list, tuple, numpy.ndarray)) and dtype is None:
            # Tensor([1, 2]) and Tensor(np.ones(2)) are in the default (floating) dtype, as
            # PyTorch's legacy constructor (torch.tensor keeps a NumPy array's dtype)
            dtype = _backend.get_default_dtype()
        self.array = _to_array(data, dtype, device)
        self.grad = None
        self.creator = None
        self._idx = 0
        self._retain = False
        self._hist = None
        self._view = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # -- basic attributes ----------------------------------------------------------------
    @property
    def data(self):
        """PyTorch's ``t.data``: a new Tensor over the very same array, off the graph
        (requires_grad False, no creator). In-place ops on it change ``t`` and are not recorded:
        ``p.data.add_(p.grad, alpha=-lr)``, ``m.weight.data.normal_(0, 0.02)``. The raw
        NumPy/CuPy array is ``t.array``."""
        return _wrap(self.array)

    @data.setter
    def data(self, value):
        """``t.data = other`` makes ``t`` use ``other``'s array (shape and dtype may change, as in
        PyTorch); ``t`` keeps its place in a Module and its requires_grad."""
        if not isinstance(value, Tensor):
            raise TypeError(f"data: assigned data must be a Tensor, got {type(value).__name__} "
                            "(the raw NumPy/CuPy array is set through .array)")
        if self.requires_grad and value.array.dtype.kind not in "fc":
            raise RuntimeError(f"data: a tensor that requires grad needs floating point data, "
                               f"got dtype {value.array.dtype}")
        self.array = value.array

    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self):
        return _backend.device(_by_array_type[type(self.array)].name)

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def is_leaf(self):
        return self.creator is None

    @property
    def grad_fn(self):
        return self.creator

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    # device and layout questions PyTorch programs ask, answered truthfully: minigen tensors
    # are dense (strided), live on 'cpu' or 'cuda', never on mps/xpu/meta, never quantized
    @property
    def is_cpu(self):
        return self.device.type == "cpu"

    is_mps = is_xpu = is_meta = is_sparse = is_quantized = is_mkldnn = is_nested = property(
        lambda self: False)
    layout = property(lambda self: "strided")

    def get_device(self):
        """-1 on the cpu, else the GPU's index (0), as PyTorch's."""
        return -1 if self.device.type == "cpu" else 0

    def is_contiguous(self, memory_format=None):
        """Row-major (or, with ``memory_format=torch.channels_last``, channels-last) strides."""
        if memory_format is None:
            return bool(self.array.flags["C_CONTIGUOUS"])
        from .ops.shape import is_contiguous_as
        return is_contiguous_as(self, memory_format)

    def is_floating_point(self):
        return self.array.dtype.kind == "f"

    def is_complex(self):
        return self.array.dtype.kind == "c"

    def pin_memory(self, device=None):
        """Page-locked host memory is a CUDA-copy optimisation minigen does not make: the
        tensor itself (PyTorch returns a pinned copy; the values are the same)."""
        return self

    def is_pinned(self, device=None):
        return False

    def to_dense(self, dtype=None, masked_grad=None):
        """minigen has no sparse layout, so every tensor is already dense: itself."""
        return self if dtype is None else self.to(dtype)

    def to_sparse(self, *args, **kwargs):
        """minigen has no sparse layout: a dense tensor with the same values (``x @ y`` and
        ``minigen.sparse.mm`` give the numbers a sparse matrix would, without the savings)."""
        return self

    def fill_diagonal_(self, fill_value, wrap=False):
        """In place: the main diagonal (all indices equal) set to ``fill_value``."""
        if self.ndim < 2 or (self.ndim > 2 and len(set(self.shape)) != 1):
            raise RuntimeError(f"fill_diagonal_: needs a 2-D tensor or all dims equal, got shape "
                               f"{list(self.shape)}")
        if self._check_inplace("fill_diagonal_"):  # on the graph: masked_fill on the diagonal
            with _autograd.no_grad():
                mask = self.detach().clone().zero_().fill_diagonal_(1, wrap).to("bool")
            from .ops import masked_fill
            return self._rebase(masked_fill(self, mask, fill_value), "fill_diagonal_")
        n = min(self.shape)
        idx = self.xp.arange(n)
        self.array[(idx,) * self.ndim] = fill_value
        if wrap and self.ndim == 2 and self.shape[0] > self.shape[1] + 1:
            flat = self.array.reshape(-1)
            flat[::self.shape[1] + 1] = fill_value
        return self

    def byte(self):
        return self.to("uint8")

    def char(self):
        return self.to("int8")

    def short(self):
        return self.to("int16")

    def scatter_add_(self, dim, index, src):
        """In place: self[index[i][j]][j] += src[i][j] (dim 0), off the graph."""
        from .ops.construct import scatter_add
        if self._check_inplace("scatter_add_", src):
            return self._rebase(scatter_add(self, dim, index, src), "scatter_add_")
        self.array[...] = scatter_add(self.detach(), dim, index, src.detach()).array
        return self

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        """In place: self[index[i][j]][j] = src[i][j] (dim 0), off the graph."""
        from .ops.construct import scatter
        if src is not None and not isinstance(src, Tensor):
            src, value = None, src
        extra = {} if reduce is None else {"reduce": reduce}
        if self._check_inplace("scatter_", src):
            return self._rebase(scatter(self, dim, index, src, value=value, **extra), "scatter_")
        out = scatter(self.detach(), dim, index, None if src is None else src.detach(), value=value,
                      **extra)
        self.array[...] = out.array
        return self

    @property
    def xp(self):
        return _by_array_type[type(self.array)].xp

    def dim(self):
        return self.array.ndim

    def numel(self):
        return int(self.array.size)

    def nelement(self):
        return int(self.array.size)

    def size(self, dim=None):
        """The shape as a ``Size`` (PyTorch's ``torch.Size``, so ``FloatTensor(x.size())`` reads
        it as a shape), or one dimension's length. (``x.shape`` stays a plain tuple: it is read
        on every op's hot path.)"""
        if dim is None:
            from .legacy import Size
            return Size(self.array.shape)
        return self.array.shape[_wrap_dim(dim, self.array.ndim, "size")]

    def element_size(self):
        return self.array.dtype.itemsize

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    def __hash__(self):
        return id(self)

    # -- conversions -------------------------------------------------------------------
    def numpy(self, *, force=False):
        """The values as a NumPy array. On the cpu it is the tensor's own memory, as in PyTorch
        (a write into either shows in the other; ``.copy()`` it to keep a snapshot); on a GPU it
        is an error (``t.cpu().numpy()`` copies to host memory first), or with ``force=True`` a
        host copy."""
        if type(self.array) is numpy.ndarray:
            return self.array
        if not force:
            dev = self.device
            if dev.type != "cpu":
                raise TypeError(
                    f"can't convert {dev.type}:{dev.index or 0} device type tensor to numpy. "
                    "Use Tensor.cpu() to copy the tensor to host memory first.")
        return _by_array_type[type(self.array)].to_numpy(self.array)

    def item(self):
        if self.array.size != 1:
            raise ValueError(
                f"item: a Tensor with {self.array.size} elements cannot be converted to a Python scalar")
        return self.array.reshape(()).item()

    def tolist(self):
        return self.cpu().numpy().tolist()

    def __format__(self, format_spec):
        """f"{loss:.4f}" works on a 0-d tensor (its value), as in PyTorch."""
        if self.array.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.array.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with {self.array.size} values is ambiguous")
        return bool(self.item())

    def __array__(self, dtype=None, copy=None):
        if self.device.type != "cpu":
            raise TypeError(
                f"can't convert {self.device.type}:0 device type tensor to numpy. "
                "Use Tensor.cpu() to copy the tensor to host memory first.")
        return self.array if dtype is None else self.array.astype(dtype)

    def detach(self):
        """A tensor sharing this one's data, cut off from the graph."""
        return _wrap(self.array)

    def detach_(self):
        self.creator = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.array.dtype.kind not in "fc":
            raise RuntimeError(
                f"requires_grad_: only floating point tensors can require gradients, "
                f"got dtype {self.array.dtype}")
        if not requires_grad and self.creator is not None:
            raise RuntimeError(
                "requires_grad_: you can only change requires_grad of leaf tensors; "
                "use detach() to cut a non-leaf tensor off the graph")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep theirs)."""
        if self.creator is not None:
            self._retain = True
            self.creator._retained = tuple(self.creator._retained) + (self,)
        return self

    # -- in-place ----------------------------------------------------------------------
    # An in-place op off the graph writes into the array itself, as PyTorch does. On the graph
    # (recording, and this tensor or a source requires grad) it is recorded as its out-of-place
    # twin, and the tensor takes on the result (``_rebase``): nodes recorded before the write
    # still read the old values and pass their gradients to the old history, later ones see the
    # new tensor. That is PyTorch's meaning of ``y.mul_(2)``, ``y[0] = v``, ``h += x`` inside a
    # forward, without its version-counter errors: a backward that needs the old values has them.
    def _check_inplace(self, op, *sources):
        """True when the in-place op ``op`` must be recorded (grad mode on and this tensor or
        one of ``sources`` requires grad); a leaf that requires grad is refused, as in PyTorch."""
        if not _autograd._state["grad"]:
            return False
        if self.requires_grad:
            if self.creator is None:
                raise RuntimeError(
                    f"{op}: a leaf Variable that requires grad is being used in an in-place "
                    "operation; wrap it in `with torch.no_grad():` (as optimizers do) or work on "
                    "a clone()")
            return True
        for t in sources:
            if isinstance(t, Tensor) and t.requires_grad:
                return True
        return False

    def _rebase(self, new, op, reshaping=False):
        """Make this tensor the recorded result ``new`` of in-place op ``op`` (same dtype and
        shape, except for the reshaping ops ``unsqueeze_``, ``t_``, ...). Its earlier state is kept
        in ``_hist``, tagged with the write count, for the nodes that read it before. A view
        (``_view``: made by an op whose output lies on its input's memory, as PyTorch's views)
        writes through to its base first, as in PyTorch: base' = base with the view's elements
        replaced (recorded as IndexPut at the view's positions), and the view is then re-read
        from base'."""
        if new.array.dtype != self.array.dtype:
            if self.array.dtype.kind not in "fc" and new.array.dtype.kind in "fc":
                raise RuntimeError(f"{op}: result type {new.array.dtype} can't be cast to the "
                                   f"desired output type {self.array.dtype}")
            new = new.to(self.array.dtype)
        if not reshaping and tuple(new.shape) != tuple(self.shape):
            raise RuntimeError(f"{op}: output with shape {list(self.shape)} doesn't match the "
                               f"broadcast shape {list(new.shape)}")
        link = self._view
        if reshaping:
            link = None
        elif link is not None and _shares_memory(link[0].array, self.array):
            base = link[0]
            if link[4]:
                raise RuntimeError(
                    f"{op}: output {link[3]} of {link[1].__name__} is a view and is being "
                    "modified in place; it is one of several views one function returned "
                    "(split, chunk, unbind), which may not be modified in place on the graph "
                    "(as in PyTorch): use an out-of-place op, or clone() it first")
            if base.requires_grad and base.creator is None:
                raise RuntimeError(
                    f"{op}: a view of a leaf Variable that requires grad is being used in an "
                    "in-place operation; wrap it in `with torch.no_grad():` or clone() first")
            from .ops.extras import IndexPut
            with _autograd.no_grad():  # where this view's elements sit in its base (flat)
                pos = _replay(link, _wrap(base.xp.arange(base.array.size).reshape(base.shape)))
            # base' = base with base'[pos] = new
            flat = IndexPut.apply(base.reshape(-1), new.reshape(-1), key=(pos.array.reshape(-1),))
            base._rebase(flat.reshape(base.shape), op)
            new = _replay(link, base)  # this view, read again from base'
            link = new._view
        else:
            link = None
        old = _wrap(self.array, self.creator, self._idx)
        old.requires_grad = self.requires_grad
        old._hist = self._hist
        _autograd._rebinds += 1
        self._hist = (_autograd._rebinds, old, self._hist)
        self.array = new.array
        self.creator = new.creator
        self._idx = new._idx
        self.requires_grad = new.requires_grad
        self._view = link
        return self

    def _write_back(self, new, op):
        """The end of an in-place op given its out-of-place result ``new``: recorded on the
        graph (``_rebase``), else written into this tensor's array."""
        if self._check_inplace(op, new):
            return self._rebase(new, op)
        if tuple(new.shape) != tuple(self.shape):
            raise RuntimeError(f"{op}: output with shape {list(self.shape)} doesn't match the "
                               f"broadcast shape {list(new.shape)}")
        mine, theirs = self.array.dtype.kind, new.array.dtype.kind
        if mine in "iub" and theirs in "fc" or mine == "b" and theirs != "b":
            raise RuntimeError(f"{op}: result type {new.array.dtype} can't be cast to the "
                               f"desired output type {self.array.dtype}")
        self.array[...] = new.array
        return self

    def fill_(self, value):
        if self._check_inplace("fill_", value):
            from .ops import expand, masked_fill
            if isinstance(value, Tensor):  # a 0-d tensor: its gradient is the sum over self
                new = expand(value.to(self.dtype).reshape(()), self.shape).clone()
            else:  # the gradient reaching the old values is zero everywhere
                new = masked_fill(self, _wrap(self.xp.ones(self.shape, dtype=bool)), value)
            return self._rebase(new, "fill_")
        self.array.fill(value.item() if isinstance(value, Tensor) else value)
        return self

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src, non_blocking=False):
        """Copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor."""
        if not isinstance(src, Tensor):
            from .creation import tensor as _tensor
            src = _tensor(src, dtype=self.dtype, device=self.device)
        if type(src.array) is not type(self.array):
            src = src.to(self.device)
        xp = self.xp
        try:
            b = xp.broadcast_to(src.array, self.array.shape)
        except ValueError:
            raise RuntimeError(
                f"copy_: source of shape {list(src.shape)} cannot be broadcast to "
                f"destination of shape {list(self.shape)}") from None
        if self._check_inplace("copy_", src):
            from .ops import expand
            # d(copy)/d(old self) = 0; d(copy)/d(src) = sum over the broadcast dims
            new = expand(src.to(self.dtype), self.shape)
            return self._rebase(new.clone() if new.array.base is not None else new, "copy_")
        self.array[...] = b
        return self

    def resize_(self, *sizes, memory_format=None):
        """PyTorch's ``t.resize_(*sizes)``: give ``t`` a new shape in place. Its elements, read in
        row-major order, stay at the front (a shrink keeps the first ones, as a view when the
        array allows it); the elements a growth adds are zeros here (PyTorch leaves them
        uninitialized). As PyTorch, a tensor that requires grad cannot be resized; old programs
        resize through ``.data`` instead (dcgan's ``input.data.resize_(real.size())``)."""
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        try:
            shape = tuple(int(n) for n in sizes)
        except (TypeError, ValueError):
            raise TypeError(f"resize_: sizes must be ints, got {sizes!r}") from None
        if any(n < 0 for n in shape):
            raise RuntimeError(f"resize_: sizes must be non-negative, got {list(shape)}")
        if self.requires_grad:
            raise RuntimeError("cannot resize variables that require grad")
        if shape == tuple(self.array.shape):
            return self
        n = 1
        for k in shape:
            n *= k
        flat = self.array.reshape(-1)  # a view when the array is contiguous
        if n <= flat.size:
            self.array = flat[:n].reshape(shape)
            return self
        # growing: like PyTorch's storage, a buffer this tensor was shrunk from is used again
        # (its elements come back) when it starts where this tensor starts and is long enough
        root = self.array
        while getattr(root, "base", None) is not None and hasattr(root.base, "reshape"):
            root = root.base
        if (root is not self.array and root.flags.c_contiguous
                and root.dtype == self.array.dtype and self.array.flags.c_contiguous
                and _data_ptr(root) == _data_ptr(self.array)):
            if root.size >= n:
                self.array = root.reshape(-1)[:n].reshape(shape)
                return self
            flat = root.reshape(-1)  # a new, larger buffer keeps all of the old one's elements
        new = self.xp.zeros(n, dtype=self.array.dtype)
        new[:flat.size] = flat
        self.array = new.reshape(shape)
        return self

    def resize_as_(self, tensor, memory_format=None):
        """``self.resize_(tensor.size())``."""
        return self.resize_(tuple(tensor.shape))

    # -- backward ------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` is the vector in the vector-Jacobian product; it may be omitted only for
        a tensor with one element. The graph's saved arrays are released afterwards unless
        ``retain_graph=True``. ``create_graph=True`` records the backward pass itself, for
        higher-order gradients.
        """
        # once a second at most: fewer BLAS threads while other programs hold the cores
        _threads.adapt_to_load()
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for scalar outputs; this "
                    f"tensor has shape {list(self.shape)}, pass `gradient=`")
            gradient = _wrap(self.xp.ones_like(self.array))
        elif not isinstance(gradient, Tensor):
            from .creation import tensor as _tensor
            gradient = _tensor(gradient, dtype=self.dtype, device=self.device)
        from .graph import run_backward  # (a late import: graph.py imports this module)
        run_backward([self], [gradient], retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook):
        """``hook(grad)`` runs when this tensor's gradient has been computed, before it moves on
        (into a leaf's ``.grad``, or to the op that made this tensor); a tensor it returns
        replaces the gradient. Returns a handle whose ``remove()`` takes the hook off."""
        from .graph import add_hook
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't "
                               "require gradient")
        return add_hook(self, hook)

    def __repr__(self):
        body = numpy.array2string(self.cpu().numpy(), separator=", ", precision=4,
                                  prefix="tensor(")
        extra = []
        if self.device.type != "cpu":
            extra.append(f"device='{self.device}'")
        if self.dtype not in (_backend._default_dtype, _backend.int64, _backend.bool_):
            extra.append(f"dtype=minigen.{self.dtype}")
        if self.creator is not None:
            extra.append(f"grad_fn=<{type(self.creator).__name__}Backward>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"


def _wrap(data, creator=None, idx=0):
    """The fast internal constructor: ``data`` must already be a device array."""
    t = Tensor.__new__(Tensor)
    t.array = data
    t.grad = None
    t.creator = creator
    t._idx = idx
    t._retain = False
    t._hist = None
    t._view = None
    t.requires_grad = creator is not None
    return t


def _replay(link, base):
    """The view ``link`` describes (its op and parameters), taken again from ``base``."""
    _, cls, params, i, _ = link
    out = cls.apply(base, **params)
    return out[i] if type(out) is tuple else out


def _shares_memory(a, b):
    """Whether two backend arrays may overlap in memory (a bounds check, as NumPy's)."""
    if a is b:
        return True
    try:
        return bool(_by_array_type[type(a)].xp.may_share_memory(a, b))
    except (AttributeError, TypeError):
        return False


def _wrap_dim(dim, ndim, op):
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def _data_ptr(a):
    """The address of an array's first element (NumPy or CuPy)."""
    if hasattr(a, "__array_interface__"):
        return a.__array_interface__["data"][0]
    return a.data.ptr
