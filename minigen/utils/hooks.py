"""``torch.utils.hooks``: ``RemovableHandle``, what the ``register_*_hook`` methods return."""
from ..nn.module import RemovableHandle  # noqa: F401
