"""StyleGAN's mechanisms, the MLP GAN's collapse and CycleGAN, minigen beside PyTorch (issue #13).

The protocol is in ``gan_protocol.py``. Run:

    python benchmarks/quality/stylegan_vs_torch.py [--models stylegan mlp_gan cyclegan] [--report]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gan_protocol import main  # noqa: E402

if __name__ == "__main__":
    main(["stylegan", "mlp_gan", "cyclegan"])
