"""A top-2 mixture of 4 experts against the dense GPT with the same active MLP weights
(issue #14), minigen and PyTorch, 3 seeds a side, and the expert utilisation over training.

The protocol is ``gpt_mechanisms_protocol.py``'s (the nine plays; 4 layers, d 64, 800 steps).
Run:

    python benchmarks/quality/moe_vs_torch.py                        # what is missing
    python benchmarks/quality/moe_vs_torch.py --report --chart docs/images/moe_utilisation.png
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gpt_mechanisms_protocol import main  # noqa: E402

if __name__ == "__main__":
    main(["gpt_learned", "gpt_moe"])
