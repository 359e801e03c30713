"""DCGAN on MNIST, minigen beside PyTorch (issue #13: within 15% of PyTorch's judge figure, >= 9 classes).

The protocol (data, split, nets, optimizers, steps, scoring) is in ``gan_protocol.py``. Run:

    python benchmarks/quality/dcgan_vs_torch.py              # 3 seeds x 2 libraries
    python benchmarks/quality/dcgan_vs_torch.py --report     # the table of the saved results

Each run writes ``benchmarks/quality/results/MODEL-LIB-seedS.json`` (kept unless ``--force``);
``--steps N`` is a smoke test that saves nothing.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gan_protocol import main  # noqa: E402

if __name__ == "__main__":
    main(["dcgan"])
