"""The n-gram counts: the bigram (add-one) on names, the 4-gram (Witten-Bell) on Shakespeare.

The protocol is in ``lm_protocol.py``. Run:

    python benchmarks/quality/ngram_vs_torch.py              # 3 seeds x 2 libraries
    python benchmarks/quality/ngram_vs_torch.py --report     # the table of the saved results
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lm_protocol import main  # noqa: E402

if __name__ == "__main__":
    main(['bigram_names', 'fourgram'])
