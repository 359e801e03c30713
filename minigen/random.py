"""``torch.random``: the random-number state, and ``fork_rng`` to borrow it for a block."""
import contextlib

from .backend import get_rng_state, set_rng_state  # noqa: F401
from .creation import manual_seed, seed  # noqa: F401

__all__ = ["manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state", "fork_rng"]


def initial_seed():
    from . import initial_seed as _initial_seed
    return _initial_seed()


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices",
             device_type="cuda"):
    """Inside the block, draw as you like; afterwards the random state is what it was."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
