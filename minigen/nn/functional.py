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
