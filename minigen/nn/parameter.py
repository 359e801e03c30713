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
