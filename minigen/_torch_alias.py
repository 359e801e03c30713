"""``torch.X.Y`` -> ``minigen.X.Y`` while ``sys.modules["torch"] is minigen``.

A program written for PyTorch runs on minigen after one line, before it is imported:

    import sys, minigen
    sys.modules["torch"] = minigen          # from here on, `import torch` gives minigen
    import torch.nn.functional as F         # minigen.nn.functional itself, not a second copy

Python resolves ``import torch.nn.functional`` one dotted step at a time, and each step it has
not seen before (``torch.nn``, then ``torch.nn.functional``) goes to the finders on
``sys.meta_path``. The finder below answers those steps by importing ``minigen.nn`` (and so on)
and handing Python that very module object, so ``torch.nn.Module is minigen.nn.Module`` and
state lives in one place. It answers only while ``sys.modules["torch"]`` is minigen; with the
real PyTorch imported it says nothing, and PyTorch's own import runs untouched.

Names PyTorch has that minigen has not (``torch._dynamo``, ...) are not invented: importing
them raises ModuleNotFoundError naming the minigen module that is missing, as a missing module
would. (``torch.distributed`` is minigen/distributed.py: one process, never a process group.)
"""
import importlib
import importlib.abc
import importlib.machinery
import sys

_PREFIX = "torch."


class _ExistingModuleLoader(importlib.abc.Loader):
    """Hands Python a module that is already imported, and leaves its own identity alone."""

    def __init__(self, module):
        self.module = module
        self.spec = getattr(module, "__spec__", None)

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        # Python has stamped the alias spec on the module; give it back its own, so that
        # importlib.reload(minigen.nn) and pickling still see the minigen names.
        if self.spec is not None:
            module.__spec__ = self.spec


class TorchAliasFinder(importlib.abc.MetaPathFinder):
    """Meta-path finder mapping ``torch.<rest>`` to ``minigen.<rest>`` (see the module doc)."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(_PREFIX):
            return None
        package = sys.modules.get("torch")
        minigen = sys.modules.get(__package__)
        if package is None or package is not minigen:
            return None  # the real PyTorch (or nothing) is `torch`: not ours to answer
        target_name = __package__ + "." + fullname[len(_PREFIX):]
        module = sys.modules.get(target_name)
        if module is None:
            try:
                module = importlib.import_module(target_name)
            except ModuleNotFoundError as err:
                missing = err.name or ""
                if not (target_name == missing or target_name.startswith(missing + ".")):
                    raise  # a real missing dependency inside minigen: let it show
                # a module that minigen exposes under another file's name (minigen.linalg is
                # minigen/ops/linalg.py): the attribute of the parent package
                parent_name, _, child = target_name.rpartition(".")
                found = getattr(sys.modules.get(parent_name), child, None)
                if isinstance(found, type(sys)):
                    module = found
                else:
                    module = None
            if module is None:
                raise ModuleNotFoundError(
                    f"No module named {fullname!r}: `torch` is minigen here, and minigen has no "
                    f"{target_name!r}", name=fullname)
        is_package = hasattr(module, "__path__")
        return importlib.machinery.ModuleSpec(
            fullname, _ExistingModuleLoader(module), origin=None, is_package=is_package)


_FINDER = TorchAliasFinder()


def install():
    """Put the finder first on ``sys.meta_path`` (once). Called by ``minigen/__init__.py``."""
    if not any(isinstance(f, TorchAliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _FINDER)


def uninstall():
    """Take the finder off ``sys.meta_path`` (the ``torch.*`` entries already made stay)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, TorchAliasFinder)]
