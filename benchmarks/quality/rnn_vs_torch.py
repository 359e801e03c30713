"""The char-RNN (tanh) on Shakespeare, minigen beside PyTorch (issue #12's bar: <= 1.80 nats/char).

The protocol (data, sizes, optimizer, steps, batches) is in ``lm_protocol.py``. Run:

    python benchmarks/quality/rnn_vs_torch.py              # 3 seeds x 2 libraries
    python benchmarks/quality/rnn_vs_torch.py --report     # the table of the saved results

Each run writes ``benchmarks/quality/results/MODEL-LIB-seedS.json`` (existing ones are kept
unless ``--force``); ``--libs``, ``--seeds``, ``--models`` choose a part, ``--steps N`` is a
smoke test that saves nothing.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lm_protocol import main  # noqa: E402

if __name__ == "__main__":
    main(["rnn"], bars={"rnn": "<= 1.80 (PyTorch 1.7647)"})
