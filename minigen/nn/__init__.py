"""``minigen.nn``: Module, Parameter, layers and losses, with PyTorch's names and defaults."""
from .parameter import Parameter, Buffer, UninitializedParameter, UninitializedBuffer
from .module import Module
from .container import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .pixelshuffle import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .fold import *  # noqa: F401,F403
from .lazy import *  # noqa: F401,F403
from .adaptive import *  # noqa: F401,F403
from .quantize import Int8Linear, quantize_int8  # noqa: F401
from . import init, functional, utils  # noqa: F401
from . import grad  # noqa: F401,E402  (torch.nn.grad: conv input/weight gradients)
from .rope import RotaryEmbedding, apply_rotary  # noqa: F401,E402
from .lora import LoRALinear, add_lora, merge_lora, trainable_parameters  # noqa: F401,E402
from .moe import MoE  # noqa: F401,E402
from . import parallel  # noqa: F401,E402
from .parallel import DataParallel, DistributedDataParallel  # noqa: F401,E402
from . import modules  # noqa: F401,E402  (torch.nn.modules.*: PyTorch's file layout; keep last)
