"""score beside its PyTorch twin: the protocol (and its bars) is in ``diffusion_protocol.py``. Run:

    python benchmarks/quality/score_vs_torch.py              # 3 seeds x 2 libraries
    python benchmarks/quality/score_vs_torch.py --report     # the table of the saved results
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from diffusion_protocol import main  # noqa: E402

if __name__ == "__main__":
    main(['score_moons'])
