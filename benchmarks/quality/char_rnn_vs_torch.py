"""The char RNN, GRU and LSTM on Shakespeare (issue #12: LSTM <= 1.725, RNN <= 1.80; GRU within 2%).

The protocol is in ``lm_protocol.py``. Run:

    python benchmarks/quality/char_rnn_vs_torch.py              # 3 seeds x 2 libraries
    python benchmarks/quality/char_rnn_vs_torch.py --report     # the table of the saved results
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lm_protocol import main  # noqa: E402

if __name__ == "__main__":
    main(['lstm', 'rnn', 'gru'], bars={'lstm': '<= 1.725 (PyTorch 1.6916)', 'rnn': '<= 1.80 (PyTorch 1.7647)',
                                      'gru': 'within 2%'})
