"""``minigen.nn.functional`` (``import minigen.nn.functional as F``): the functional forms of
every layer, with PyTorch's names, argument names and defaults.

This file only gathers names. Each function lives beside its math: the hand-derived ones
(convolution, norms, softmax cross-entropy, attention, recurrent cells) in ``minigen/ops/``,
each a single Function whose docstring derives its backward.
"""
from ..ops import relu, sigmoid, tanh, softmax, log_softmax, pad  # noqa: F401
from ..ops.activation import *  # noqa: F401,F403
from ..ops.loss import *  # noqa: F401,F403
from ..ops.conv import *  # noqa: F401,F403
from ..ops.pool import *  # noqa: F401,F403
from ..ops.norm import *  # noqa: F401,F403
from ..ops.batch_norm import *  # noqa: F401,F403
from ..ops.attention import *  # noqa: F401,F403
from ..ops.flash_attention import *  # noqa: F401,F403
from ..ops.rnn import *  # noqa: F401,F403
from ..ops.extras import *  # noqa: F401,F403,E402
from ..ops.extras_more import *  # noqa: F401,F403,E402
from ..ops.conv3d import *  # noqa: F401,F403,E402
from ..ops.pool_more import *  # noqa: F401,F403,E402
from ..ops.extras_nn import *  # noqa: F401,F403,E402
from . import grad  # noqa: F401,E402  (F.grad is torch.nn.grad, as in PyTorch)
from .attention import multi_head_attention_forward  # noqa: F401,E402
from ..ops.extras import functional_inplace as _fi  # noqa: E402

# F.relu_(x) and friends: the activation written into x, in place
relu_ = _fi(relu, "relu_")
elu_ = _fi(elu, "elu_")  # noqa: F405
leaky_relu_ = _fi(leaky_relu, "leaky_relu_")  # noqa: F405
hardtanh_ = _fi(hardtanh, "hardtanh_")  # noqa: F405
threshold_ = _fi(threshold, "threshold_")  # noqa: F405
celu_ = _fi(celu, "celu_")  # noqa: F405
selu_ = _fi(selu, "selu_")  # noqa: F405
rrelu_ = _fi(rrelu, "rrelu_")  # noqa: F405
