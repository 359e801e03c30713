"""``torch.types``: the names PyTorch's type hints use (programs import them for their own
annotations)."""
import builtins
from typing import Sequence, Union

from .backend import device as Device  # noqa: F401

Number = Union[builtins.int, builtins.float, builtins.bool]
_int = builtins.int
_float = builtins.float
_bool = builtins.bool
_complex = builtins.complex
_size = Sequence[builtins.int]
_dtype = object
_device = Device
