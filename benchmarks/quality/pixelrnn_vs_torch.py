"""pixelrnn beside its PyTorch twin: the protocol (and its bars) is in ``autoregressive_protocol.py``. Run:

    python benchmarks/quality/pixelrnn_vs_torch.py              # 3 seeds x 2 libraries
    python benchmarks/quality/pixelrnn_vs_torch.py --report     # the table of the saved results
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from autoregressive_protocol import main  # noqa: E402

if __name__ == "__main__":
    main(['pixelrnn_digits'])
