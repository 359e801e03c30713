"""``minigen.utils.tensorboard``: a ``SummaryWriter`` without TensorBoard.

Scalars (``add_scalar``, ``add_scalars``) and text are appended as JSON lines to
``<log_dir>/scalars.jsonl`` ({"tag", "value", "step", "time"}), readable with any JSON tool;
images, histograms, graphs and embeddings are accepted and not recorded (minigen has no
TensorBoard event-file writer).
"""
import json
import os
import time
from datetime import datetime

__all__ = ["SummaryWriter"]


def _value(v):
    return float(v.item()) if hasattr(v, "item") else float(v)


class SummaryWriter:
    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120,
                 filename_suffix=""):
        if log_dir is None:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}{comment}")
        self.log_dir = str(log_dir)
        try:
            os.makedirs(self.log_dir, exist_ok=True)
        except OSError as e:
            raise OSError(f"SummaryWriter: cannot create log_dir {self.log_dir!r}: {e.strerror}") from None
        self._file = open(os.path.join(self.log_dir, "scalars.jsonl"), "a")

    def get_logdir(self):
        return self.log_dir

    def _write(self, record):
        self._file.write(json.dumps(record) + "\n")

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        self._write({"tag": tag, "value": _value(scalar_value), "step": global_step,
                     "time": walltime if walltime is not None else time.time()})

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        for k, v in tag_scalar_dict.items():
            self.add_scalar(f"{main_tag}/{k}", v, global_step, walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        self._write({"tag": tag, "text": str(text_string), "step": global_step,
                     "time": walltime if walltime is not None else time.time()})

    def add_hparams(self, hparam_dict, metric_dict, *args, **kwargs):
        self._write({"hparams": {k: v if isinstance(v, (int, float, str, bool)) else str(v)
                                 for k, v in hparam_dict.items()},
                     "metrics": {k: _value(v) for k, v in metric_dict.items()}})

    def add_image(self, *args, **kwargs):
        pass

    def add_images(self, *args, **kwargs):
        pass

    def add_histogram(self, *args, **kwargs):
        pass

    def add_graph(self, *args, **kwargs):
        pass

    def add_embedding(self, *args, **kwargs):
        pass

    def add_figure(self, *args, **kwargs):
        pass

    def flush(self):
        self._file.flush()

    def close(self):
        if not self._file.closed:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
