"""The conditional DCGAN (labels fed to both players) beside PyTorch (issue #13: within 15%).

The protocol (data, split, nets, optimizers, steps, scoring) is in ``gan_protocol.py``. Run:

    python benchmarks/quality/cgan_vs_torch.py              # 3 seeds x 2 libraries
    python benchmarks/quality/cgan_vs_torch.py --report     # the table of the saved results

Each run writes ``benchmarks/quality/results/MODEL-LIB-seedS.json`` (kept unless ``--force``);
``--steps N`` is a smoke test that saves nothing.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gan_protocol import main  # noqa: E402

if __name__ == "__main__":
    main(["cgan"])
