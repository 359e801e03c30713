"""``minigen.onnx``: minigen does not export ONNX graphs; ``export`` raises, saying so."""


def export(*args, **kwargs):
    raise RuntimeError("onnx.export: minigen does not export ONNX; save the weights with "
                       "minigen.save(model.state_dict(), path) and export from PyTorch")
