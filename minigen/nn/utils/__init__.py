"""``minigen.nn.utils`` (``torch.nn.utils``): gradient clipping and parameter vectors
(``clip_grad.py``), parametrizations (``parametrize.py``) and spectral normalisation
(``spectral_norm.py``, ``parametrizations.py``), padded batches of sequences (``rnn.py``)."""
from . import clip_grad, parametrizations, parametrize, rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters
from .spectral_norm import remove_spectral_norm, spectral_norm

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters",
           "spectral_norm", "remove_spectral_norm", "parametrize", "parametrizations", "rnn"]
