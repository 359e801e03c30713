"""A top-2 mixture of 4 experts against the dense GPT with the same active MLP weights
(issue #14), minigen and PyTorch, 3 seeds a side, and the expert utilisation over training.

The protocol is ``gpt_mechanisms_protocol.py``'s (the nine plays; 4 layers, d 64, 800 steps).
Run:

    python benchmarks/quality/moe_vs_torch.py                        # what is missing
    python benchmarks/quality/moe_vs_torch.py --report --chart docs/images/moe_utilisation.png
    # the ablation: no load-balancing loss (aux_coef 0), seed 0
    python benchmarks/quality/moe_vs_torch.py --models gpt_moe_noaux --seeds 0 \
        --chart docs/images/moe_utilisation_noaux.png
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gpt_mechanisms_protocol import main  # noqa: E402

if __name__ == "__main__":
    import gpt_mechanisms_protocol as P
    P.runner.main(["gpt_learned", "gpt_moe", "gpt_moe_noaux"], P.run, P.table, P.describe, __doc__,
                  sys.argv[1:] if "--models" in sys.argv else sys.argv[1:] + ["--models", "gpt_learned", "gpt_moe"],
                  chart=P.chart)
