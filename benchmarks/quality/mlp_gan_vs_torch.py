"""The MLP GAN beside PyTorch: the exact networks' collapse, and the stabilised discriminator.

The protocol is in ``gan_protocol.py``. Run:

    python benchmarks/quality/mlp_gan_vs_torch.py              # 3 seeds x 2 libraries
    python benchmarks/quality/mlp_gan_vs_torch.py --report     # the table of the saved results
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gan_protocol import main  # noqa: E402

if __name__ == "__main__":
    main(['mlp_gan', 'mlp_gan_stable'])
