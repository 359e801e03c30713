"""Every test that takes the `device` fixture runs twice: on 'cpu' and on 'cuda'.

'cuda' is the real GPU when CuPy sees one; otherwise it is the simulated CUDA device
(minigen.testing.simulated_cuda), a CPU stand-in whose arrays refuse implicit conversion to
NumPy and refuse to mix with host arrays, as CuPy's do. So the CuPy code path is exercised
on every machine, and really run on machines with a GPU.
"""
import numpy as np
import pytest

import minigen
from minigen import backend

REAL_CUDA = backend.cuda_is_available()
if not REAL_CUDA:
    from minigen.testing import simulated_cuda
    simulated_cuda.install()

DEVICES = ["cpu", "cuda"]


def pytest_report_header(config):
    return f"minigen devices: cpu, cuda ({'real GPU' if REAL_CUDA else 'simulated on CPU'})"


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    minigen.manual_seed(0)
    np.random.seed(0)
    yield
