"""Helpers for testing minigen (the simulated CUDA device lives in ``simulated_cuda``)."""
