"""LoRA fine-tuning of a GPT pretrained on the nine plays to the sonnets (issue #14): the
sonnets' validation loss before, after LoRA (and merged), after full fine-tuning; minigen and
PyTorch, 3 seeds a side.

The protocol is ``gpt_mechanisms_protocol.py``'s. The pretrained models are those of the
``gpt_learned`` runs (read from ``~/.cache/minigen/gpt_mechanisms``, or trained again, the
same, when missing). Run:

    python benchmarks/quality/lora_vs_torch.py                       # what is missing
    python benchmarks/quality/lora_vs_torch.py --report --chart docs/images/lora_finetune.png
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gpt_mechanisms_protocol import main  # noqa: E402

if __name__ == "__main__":
    main(["gpt_lora"])
