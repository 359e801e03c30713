"""StyleGAN's mechanisms at MNIST scale, minigen beside PyTorch (issue #13: within 15% of the twin).

The protocol is in ``gan_protocol.py``. Run:

    python benchmarks/quality/stylegan_vs_torch.py [--report]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gan_protocol import main  # noqa: E402

if __name__ == "__main__":
    main(["stylegan"])
