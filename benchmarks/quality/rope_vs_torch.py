"""RoPE against learned positions on the GPT (issue #14), minigen and PyTorch, 3 seeds a side.

The protocol is ``gpt_mechanisms_protocol.py``'s (the nine plays; 4 layers, d 64, 800 steps).
Run:

    python benchmarks/quality/rope_vs_torch.py                       # what is missing
    python benchmarks/quality/rope_vs_torch.py --report --chart docs/images/rope_training.png
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gpt_mechanisms_protocol import main  # noqa: E402

if __name__ == "__main__":
    main(["gpt_learned", "gpt_rope"])
