"""``minigen.nn.utils`` (``torch.nn.utils``): gradient clipping and parameter vectors
(``clip_grad.py``), parametrizations (``parametrize.py``), spectral and weight normalisation
(``spectral_norm.py``, ``weight_norm.py``, ``parametrizations.py``), padded and packed batches
of sequences (``rnn.py``), pruning masks (``prune.py``)."""
from . import clip_grad, parametrizations, parametrize, prune, rnn
from .clip_grad import clip_grad_norm_, clip_grad_norm, clip_grad_value_, parameters_to_vector, vector_to_parameters
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters",
           "spectral_norm", "remove_spectral_norm", "weight_norm", "remove_weight_norm",
           "parametrize", "parametrizations", "prune", "rnn"]
