"""Sweep: the raw backend array of a minigen Tensor moved from ``t.data`` to ``t.array``.

Issue 18, item 2: ``Tensor.data`` now has PyTorch's meaning (a detached Tensor on the same
memory), and the NumPy/CuPy array is ``Tensor.array``. This script rewrites ``X.data`` to
``X.array`` in Python files (and in the Python of Markdown code blocks) wherever ``X`` is a
minigen Tensor, and leaves every other ``.data`` alone:

* import statements (``from ..data import ...``, ``import minigen.utils.data``);
* receivers that are modules or non-tensors: ``minigen.data``, ``torch.utils.data``,
  ``args.data``, ``recipe.data``, ``entry.recipe.data``, ``buf.ctypes.data``, ``st.data()``
  (hypothesis), any name bound by an ``import`` in the file, anything called (``X.data(...)``);
* ``self.data`` inside a class other than Tensor / Parameter / autograd's ``_Out`` (a data set,
  a Recipe ...: printed as SKIP so a reader can check);
* plain strings (the PyTorch programs that tests run as source text mean PyTorch's ``.data``);
  the expressions inside f-strings and comments are rewritten.

A file that contains the words "sweep_data: skip" (e.g. in a comment) is left alone, and so is
a line that contains "sweep_data: keep": mark code that means PyTorch's ``.data`` on purpose.

It is idempotent: a file already swept has no ``Tensor.data`` left, so a second run changes
nothing. Run it on files added after the sweep:

    python tools/sweep_data.py                  # the default tree: minigen/ minigen_tests/
                                                # benchmarks/ docs/ (dry run: lists changes)
    python tools/sweep_data.py --write          # rewrite them in place
    python tools/sweep_data.py --write a.py b/  # only these files / folders

After merging the branch ``tensor-data`` into a main that moved on (run from the repository root):

    git merge tensor-data
    # a conflict in a file whose branch side is the sweep alone (all but the hand-edited ones:
    # minigen/tensor.py, minigen/autograd.py, minigen/nn/module.py, minigen/optim/optimizer.py,
    # minigen_tests/test_models_registry.py, minigen_tests/test_threads.py, docs/architecture.md,
    # docs/pytorch-compat.md): take main's side, then sweep it again
    git checkout --ours FILE && python tools/sweep_data.py --write --numpy FILE && git add FILE
    # then everything else main added or changed meanwhile (idempotent on swept files):
    python tools/sweep_data.py --numpy           # dry run: the list
    python tools/sweep_data.py --write --numpy   # rewrite; read `git diff`, run the suite

``--numpy`` also rewrites ``X.numpy()`` to ``X.cpu().numpy()`` (``.numpy()`` of a GPU tensor is
an error now, as in PyTorch): everywhere under minigen/, and in the tests / benchmarks that
mention a ``device`` or ``cuda`` (elsewhere only inside functions that do). Always read the diff and run the suite after it.
"""
from __future__ import annotations

import argparse
import ast
import io
import os
import re
import sys
import tokenize

NEW = "array"
DEFAULT_ROOTS = ("minigen", "minigen_tests", "benchmarks", "docs")

# receivers (the name just before ``.data``) that are never Tensors
MODULE_NAMES = {"minigen", "utils", "torch", "mg", "nn"}
NON_TENSOR = {"args", "recipe", "st", "ctypes", "host", "spec", "opts", "options", "cfg",
              "config", "entry", "run", "rundata", "run_data", "meta"}
# classes whose ``self.data`` is the Tensor's array
TENSOR_CLASSES = {"Tensor", "Parameter", "_Out", "UninitializedParameter", "Buffer"}
# receivers that are not Tensors in one file only (path suffix -> names): Recipes mostly
PER_FILE = {
    "minigen/cli.py": {"r"},
    "minigen/models/registry.py": {"default"},
    "minigen_tests/test_models_registry.py": {"d", "c"},
}

# a file holding this string is left alone; a line holding KEEP_LINE too
SKIP_FILE = "sweep_data: " + "skip"
KEEP_LINE = "sweep_data: " + "keep"

_RX_SIMPLE = re.compile(r"((?:[A-Za-z_][\w]*|\)|\])(?:\.[A-Za-z_]\w*)*)\.data\b(?!\s*\()")
_RX_NUMPY = re.compile(r"(?<!\.cpu\(\))\.numpy\(\)")


def _excluded_names(path):
    out = set()
    for suffix, names in PER_FILE.items():
        if path.replace(os.sep, "/").endswith(suffix):
            out |= names
    return out


def _simple_rewrite(text, skip):
    """Regex form for comments, f-string expressions and Markdown: ``a.b.data`` -> ``a.b.array``
    unless the last name before ``.data`` is a module / non-tensor."""
    def sub(m):
        chain = m.group(1)
        last = chain.split(".")[-1]
        if last in MODULE_NAMES or last in NON_TENSOR or last in skip:
            return m.group(0)
        if chain.split(".")[0] in MODULE_NAMES:
            return m.group(0)
        return chain + "." + NEW
    return _RX_SIMPLE.sub(sub, text)


def _class_spans(tree):
    """(first line, last line, class name) of every class, innermost last."""
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            spans.append((node.lineno, node.end_lineno, node.name,
                          [getattr(b, "id", getattr(b, "attr", "")) for b in node.bases]))
    return spans


def _func_spans(tree):
    """(first, last, mentions_device) of every function."""
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            src_names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            src_names |= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
            src_names |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
            dev = bool(src_names & {"device", "dev", "cuda", "DEVICES", "devices"})
            spans.append((node.lineno, node.end_lineno, dev))
    return spans


def _import_names(tree):
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                names.add(a.asname or a.name)
    return names


def _receiver(toks, i):
    """The chain before the ``.`` at toks[i]: a list of names, '()' and '[]' (last first)."""
    chain = []
    j = i - 1
    while j >= 0:
        t = toks[j]
        if t.type == tokenize.NAME:
            chain.append(t.string)
            if j > 0 and toks[j - 1].type == tokenize.OP and toks[j - 1].string == ".":
                j -= 2
                continue
            break
        if t.type == tokenize.OP and t.string in ")]":
            close, open_ = t.string, "(" if t.string == ")" else "["
            depth, k = 0, j
            while k >= 0:
                s = toks[k].string if toks[k].type == tokenize.OP else None
                if s in (")", "]", "}"):
                    depth += 1
                elif s in ("(", "[", "{"):
                    depth -= 1
                    if depth == 0:
                        break
                k -= 1
            chain.append(close == ")" and "()" or "[]")
            j = k - 1
            if j >= 0 and (toks[j].type == tokenize.NAME or
                           (toks[j].type == tokenize.OP and toks[j].string in ")]")):
                if toks[j].type == tokenize.NAME and toks[j].string in (
                        "in", "and", "or", "not", "is", "if", "else", "return", "yield",
                        "lambda", "await", "for", "assert", "del", "with", "as", "print"):
                    break
                continue
            break
        break
    return chain


def sweep_python(src, path, numpy_mode=False, log=print):
    """The rewritten source of one Python file (unchanged if it has no Tensor ``.data``)."""
    try:
        tree = ast.parse(src)
    except SyntaxError as e:
        log(f"{path}: not parsed ({e}); left as it is")
        return src
    classes = _class_spans(tree)
    funcs = _func_spans(tree)
    imports = _import_names(tree) - {"Tensor", "Parameter"}
    skip = _excluded_names(path)
    toks = [t for t in tokenize.generate_tokens(io.StringIO(src).readline)
            if t.type not in (tokenize.NL, tokenize.INDENT, tokenize.DEDENT)]
    lines = src.splitlines(keepends=True)
    edits = []  # (row, col_start, col_end, new text)
    stmt_first = None
    for i, t in enumerate(toks):
        if i == 0 or toks[i - 1].type == tokenize.NEWLINE:
            stmt_first = t.string
        if t.type == tokenize.COMMENT:
            new = _simple_rewrite(t.string, skip)
            if new != t.string:
                edits.append((t.start[0], t.start[1], t.end[1], new))
            continue
        if t.type == tokenize.STRING and t.start[0] == t.end[0]:
            prefix = re.match(r"[A-Za-z]*", t.string).group(0).lower()
            if "f" in prefix:
                new = re.sub(r"\{([^{}]*)\}", lambda m: "{" + _simple_rewrite(m.group(1), skip)
                             + "}", t.string)
                if new != t.string:
                    edits.append((t.start[0], t.start[1], t.end[1], new))
            continue
        if not (t.type == tokenize.NAME and t.string == "data" and i > 0
                and toks[i - 1].type == tokenize.OP and toks[i - 1].string == "."):
            continue
        if stmt_first in ("import", "from"):
            continue
        if i + 1 < len(toks) and toks[i + 1].string == "(":
            continue  # X.data(...) is a method: never the array
        chain = _receiver(toks, i - 1)
        if not chain:
            continue
        last, root = chain[0], chain[-1]
        names_only = all(c not in ("()", "[]") for c in chain)
        if last in MODULE_NAMES or last in NON_TENSOR or last in skip:
            continue
        if names_only and root in imports:
            continue
        if names_only and root in MODULE_NAMES:
            continue
        if last == "self" and len(chain) == 1:
            row = t.start[0]
            inside = [c for c in classes if c[0] <= row <= c[1]]
            if inside:
                name, bases = inside[-1][2], inside[-1][3]
                if name not in TENSOR_CLASSES and not (set(bases) & TENSOR_CLASSES):
                    log(f"SKIP {path}:{row}: self.data in class {name} (not a Tensor)")
                    continue
        edits.append((t.start[0], t.start[1], t.end[1], NEW))
    if numpy_mode:
        # library code: every .numpy(); tests and benchmarks: every .numpy() of a file that
        # puts anything on a device (helpers that snapshot a model do not name the device)
        is_lib = ("minigen_tests" not in path and "benchmarks" not in path) or bool(
            re.search(r"\bdevice\b|\bcuda\b", src))
        for i, t in enumerate(toks):
            if (t.type == tokenize.NAME and t.string == "numpy" and i > 1
                    and toks[i - 1].string == "." and i + 2 < len(toks)
                    and toks[i + 1].string == "(" and toks[i + 2].string == ")"):
                prev = toks[i - 2]
                if prev.string == ")" and i > 4 and toks[i - 4].string == "cpu" \
                        and toks[i - 3].string == "(":
                    continue  # already .cpu().numpy()
                if prev.type == tokenize.NAME and prev.string in imports:
                    continue  # a module's numpy(), not a tensor's
                row = t.start[0]
                dev = any(f[0] <= row <= f[1] and f[2] for f in funcs)
                if is_lib or dev:
                    edits.append((row, toks[i - 1].start[1], toks[i - 1].start[1],
                                  ".cpu()"))
    edits = [e for e in edits if KEEP_LINE not in lines[e[0] - 1]]
    if not edits:
        return src
    by_row = {}
    for e in edits:
        by_row.setdefault(e[0], []).append(e)
    for row, es in by_row.items():
        line = lines[row - 1]
        for _, a, b, new in sorted(es, key=lambda e: -e[1]):
            line = line[:a] + new + line[b:]
        lines[row - 1] = line
    return "".join(lines)


_FENCE = re.compile(r"^(\s*)(```|~~~)")


def sweep_markdown(src, path):
    """Python in fenced and indented code blocks, and inline code, through the regex form."""
    skip = _excluded_names(path)
    out = []
    for line in src.splitlines(keepends=True):
        if ".data" in line and KEEP_LINE not in line:
            # inline code spans and code lines alike: only chains, never prose words
            line = re.sub(r"`([^`]*)`", lambda m: "`" + _simple_rewrite(m.group(1), skip) + "`",
                          line)
            if line.startswith("    ") or line.startswith("\t"):
                line = _simple_rewrite(line, skip)
        out.append(line)
    text = "".join(out)
    # fenced blocks
    res, in_code = [], False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_code = not in_code
        elif in_code and ".data" in line and KEEP_LINE not in line:
            line = _simple_rewrite(line, skip)
        res.append(line)
    return "".join(res)


def _files(targets):
    for t in targets:
        if os.path.isfile(t):
            yield t
            continue
        for dirpath, dirnames, filenames in os.walk(t):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
            for f in sorted(filenames):
                if f.endswith((".py", ".md")):
                    yield os.path.join(dirpath, f)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", help="files or folders (default: minigen/ "
                    "minigen_tests/ benchmarks/ docs/ under the repository root)")
    ap.add_argument("--write", action="store_true", help="rewrite the files (else: dry run)")
    ap.add_argument("--numpy", action="store_true", help="also X.numpy() -> X.cpu().numpy()")
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    a = ap.parse_args(argv)
    targets = a.paths or [os.path.join(a.root, r) for r in DEFAULT_ROOTS]
    me = os.path.abspath(__file__)
    changed = 0
    for f in _files(targets):
        if os.path.abspath(f) == me:
            continue
        with open(f, encoding="utf-8") as fh:
            src = fh.read()
        if SKIP_FILE in src:
            continue  # a file that means PyTorch's .data on purpose (tests of it, its docs)
        if f.endswith(".md"):
            new = sweep_markdown(src, os.path.relpath(f, a.root))
        else:
            new = sweep_python(src, os.path.relpath(f, a.root), numpy_mode=a.numpy)
        if new != src:
            changed += 1
            n = sum(1 for x, y in zip(src.splitlines(), new.splitlines()) if x != y)
            print(f"{'rewrote' if a.write else 'would rewrite'} {f}: {n} line(s)")
            if a.write:
                with open(f, "w", encoding="utf-8") as fh:
                    fh.write(new)
    print(f"{changed} file(s) {'changed' if a.write else 'to change'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
