"""WGAN-GP beside PyTorch (issue #13: within 15% of the twin, at least 9 classes).

The protocol is in ``gan_protocol.py``. Run:

    python benchmarks/quality/wgan_gp_vs_torch.py              # 3 seeds x 2 libraries
    python benchmarks/quality/wgan_gp_vs_torch.py --report     # the table of the saved results
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gan_protocol import main  # noqa: E402

if __name__ == "__main__":
    main(['wgan_gp'])
