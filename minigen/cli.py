"""The ``minigen`` command.

    minigen train vae [--data mnist|digits] [--variant mlp|conv] [--epochs N] [--batch-size B]
                      [--lr LR] [--device cpu|cuda] [--seed S] [--out runs/NAME] [--resume]
    minigen sample vae --checkpoint runs/vae-mnist/last.npz --n 64 [--out FILE]
    minigen info
    minigen gradcheck [--device cpu|cuda|all] [--simulated-cuda]
    minigen bench ...              (see `minigen bench --help`)

Exit codes: 0 done; 1 an error (the message says what and where); 2 a bad command line;
130 stopped by Ctrl-C (after writing a checkpoint that ``--resume`` continues from).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CommandError(Exception):
    """An error to print as one line, without a traceback."""


def _model_names():
    from .models import registry
    return registry.names()


# ----------------------------------------------------------------------------- parser
def build_parser():
    from . import __version__

    names = _model_names()
    p = argparse.ArgumentParser(
        prog="minigen",
        description="minigen: a from-scratch teaching engine for generative models "
                    "(autograd on NumPy / CuPy). Train a model on embedded data, sample from it, "
                    "check gradients, benchmark devices.",
        epilog="Start with:  minigen train vae   (MNIST subset, a few minutes on a laptop CPU; "
               "pictures land in runs/vae-mnist/)")
    p.add_argument("--version", action="version", version=f"minigen {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "train", help="train a registered model on embedded data",
        description="Train a model with its default recipe (override any part of it). Writes "
                    "checkpoints (last.npz, best.npz), log.csv, results.json and PNG pictures into "
                    "the run folder. Ctrl-C finishes the current step, saves, and exits; --resume "
                    "continues exactly where it stopped.")
    t.add_argument("model", choices=names, help="the model to train")
    t.add_argument("--data", choices=["mnist", "digits"],
                   help="data set: 'mnist' (the 5,000-image MNIST subset shipped with minigen: "
                        "4,000 train / 1,000 test) or 'digits' (8x8 digits); default: the recipe's")
    t.add_argument("--variant", help="architecture variant (vae: mlp or conv); default: the first")
    t.add_argument("--epochs", type=_positive_int, help="epochs (default: the recipe's)")
    t.add_argument("--batch-size", type=_positive_int, help="batch size (default: the recipe's)")
    t.add_argument("--lr", type=_positive_float, help="Adam learning rate (default: the recipe's)")
    t.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="where to train: cpu (NumPy) or cuda (CuPy on an NVIDIA GPU); default cpu")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--out", help="run folder (default runs/MODEL-DATA[-VARIANT], numbered -2, -3, ... "
                                 "if it already holds a run)")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last.npz (default folder: the newest "
                        "default one)")
    t.add_argument("--max-steps", type=_positive_int,
                   help="stop after this many steps in total (a quick try; default: all epochs)")
    t.add_argument("--checkpoint-every", type=_positive_int, default=500,
                   help="write last.npz every N steps (default 500; also at the end and on Ctrl-C)")
    t.add_argument("--eval-k", type=_positive_int, default=100,
                   help="importance samples for the final IWAE NLL (default 100)")
    t.add_argument("--threads", default="auto",
                   help="BLAS threads for NumPy: a number, or 'auto' (default): leave them as they "
                        "are, but use 1 when the machine is already busy (1-minute load average "
                        ">= CPUs - 0.5), because BLAS threads that share busy cores wait for each "
                        "other and can run 10x slower. Needs threadpoolctl")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--no-pictures", action="store_true", help="don't draw the PNG pictures")

    s = sub.add_parser("sample", help="draw samples from a trained checkpoint into a PNG grid",
                       description="Load a checkpoint written by `minigen train` and save a grid "
                                   "of new samples.")
    s.add_argument("model", choices=names, help="the model the checkpoint holds")
    s.add_argument("--checkpoint", required=True, help="path of a checkpoint (last.npz or best.npz)")
    s.add_argument("--n", type=_positive_int, default=64, help="number of samples (default 64)")
    s.add_argument("--out", help="PNG to write (default: samples-N.png beside the checkpoint)")
    s.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="default cpu")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")

    sub.add_parser("info", help="versions, devices, BLAS and CuPy status",
                   description="Print minigen's version, the devices it can use (and why cuda "
                               "is not available, if it is not), NumPy and its BLAS, and CuPy.")

    g = sub.add_parser("gradcheck", help="gradient-check every op and print a table",
                       description="Run minigen.gradcheck over every op on the chosen devices.")
    g.add_argument("--device", default="all", choices=["cpu", "cuda", "all"],
                   help="cpu, cuda, or all available devices (default all)")
    g.add_argument("--only", help="only these ops: names or glob patterns, comma-separated (e.g. 'conv*,exp')")
    g.add_argument("--no-second-order", action="store_true", help="skip gradgradcheck")
    g.add_argument("--simulated-cuda", action="store_true",
                   help="run 'cuda' on the test suite's CPU stand-in for CuPy (no GPU needed; "
                        "it checks the CuPy code path, not GPU numerics)")

    sub.add_parser("bench", help="benchmarks: CPU vs GPU, minigen vs PyTorch (minigen bench --help)",
                   add_help=False)
    return p


def _positive_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return v


def _positive_float(s):
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {s!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {s!r}")
    return v


# ----------------------------------------------------------------------------- train
def _default_out(model, data, variant, default_variant, resume):
    base = os.path.join("runs", f"{model}-{data}" + ("" if variant == default_variant else f"-{variant}"))
    candidates = [base] + [f"{base}-{i}" for i in range(2, 1000)]
    used = [c for c in candidates if os.path.exists(os.path.join(c, "last.npz"))]
    if resume:
        if not used:
            raise CommandError(f"--resume: no run to resume in {base} (give the run folder with --out)")
        return used[-1]
    return next(c for c in candidates if not os.path.exists(os.path.join(c, "last.npz")))


def cmd_train(args):
    from .models import registry
    from .train import LAST, train_model

    entry = registry.get(args.model)
    variant = args.variant or entry.recipe.variants[0]
    if variant not in entry.recipe.variants:
        raise CommandError(f"train {args.model}: unknown --variant {variant!r}; choose from "
                           f"{', '.join(entry.recipe.variants)}")
    recipe = entry.recipe.resolve(args.data, variant)
    _check_device(args.device)
    out = args.out or _default_out(args.model, recipe.data, variant, entry.recipe.variants[0], args.resume)
    last = os.path.join(out, LAST)
    if args.resume and not os.path.exists(last):
        raise CommandError(f"--resume: {out} holds no checkpoint ({LAST}); nothing to resume")
    if not args.resume and os.path.exists(last):
        raise CommandError(f"{out} already holds a run ({last}); pass --resume to continue it, "
                           "or choose another --out")

    threads_note = _set_blas_threads(args.threads)
    epochs = args.epochs if args.epochs is not None else recipe.epochs
    bs = args.batch_size if args.batch_size is not None else recipe.batch_size
    lr = args.lr if args.lr is not None else recipe.lr
    print(f"minigen train {args.model}: data={recipe.data} variant={variant} epochs={epochs} "
          f"batch_size={bs} lr={lr:g} device={args.device} seed={args.seed} -> {out}"
          + ("  (resuming)" if args.resume else ""))
    if threads_note:
        print(threads_note)
    t0 = time.perf_counter()
    report = train_model(args.model, data=recipe.data, variant=variant, epochs=epochs,
                         batch_size=bs, lr=lr, device=args.device, seed=args.seed, out=out,
                         resume=args.resume, max_steps=args.max_steps, eval_k=args.eval_k,
                         checkpoint_every=args.checkpoint_every, progress=not args.no_progress,
                         pictures=not args.no_pictures)
    fit = report["fit"]
    if fit["interrupted"]:
        where = f"checkpoint saved to {fit['checkpoint']}" if fit["checkpoint"] else "no checkpoint written"
        print(f"\nstopped ({fit['interrupted']}) at step {fit['step']}; {where}")
        if fit["checkpoint"]:
            print(f"resume with: minigen train {args.model} --out {out} --resume")
        return EXIT_INTERRUPTED
    m = report["metrics"]
    for key, label in (("test_neg_elbo", "test -ELBO"), (f"test_iwae_nll_k{args.eval_k}",
                                                           f"test IWAE NLL (k={args.eval_k})")):
        if key in m:
            print(f"{label:>24}: {m[key]:.2f} nats per image")
    print(f"{'training':>24}: {fit['step']} steps in {m['train_seconds']:.1f} s "
          f"({m['ms_per_step']:.1f} ms/step); evaluation and pictures {m['eval_seconds']:.1f} s; "
          f"total {time.perf_counter() - t0:.1f} s")
    files = sorted(os.listdir(out))
    print(f"{'wrote':>24}: {out}/  " + "  ".join(f for f in files if not f.startswith(".")))
    return EXIT_OK


_limits = []     # thread limits set by this command, undone when it returns


class _Restore:
    """A limit that ``restore_original_limits()`` undoes (as threadpoolctl's do)."""

    def __init__(self, undo):
        self.restore_original_limits = undo


def _set_blas_threads(spec):
    """Limit NumPy's BLAS threads and minigen's own for the rest of the process; returns a note
    to print (or None).

    'auto' leaves them alone on an idle machine and uses 1 on a busy one: OpenBLAS threads
    spin-wait for each other, and when other work shares the cores a step can take 10-20x longer
    with 2 threads than with 1 (measured on a 2-core machine with a load average of 5).
    """
    if spec == "auto":
        try:
            load, cpus = os.getloadavg()[0], os.cpu_count() or 1
        except (OSError, AttributeError):
            return None
        if load < cpus - 0.5:
            return None
        n, why = 1, f" (auto: the machine is busy, load average {load:.1f} on {cpus} CPUs)"
    else:
        try:
            n, why = int(spec), ""
        except ValueError:
            raise CommandError(f"--threads: expected a number or 'auto', got {spec!r}") from None
        if n < 1:
            raise CommandError(f"--threads: expected a positive number, got {n}")
    import minigen
    before = minigen.get_num_threads()
    minigen.set_num_threads(n)  # minigen's own host threads (minigen/threads.py)
    _limits.append(_Restore(lambda: minigen.set_num_threads(before)))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return (f"note: minigen threads: {n}; BLAS threads left as they are (pip install "
                f"threadpoolctl to let --threads set them to {n})")
    _limits.append(threadpool_limits(limits=n, user_api="blas"))
    return f"BLAS and minigen threads: {n}{why}"


def _check_device(device):
    from . import backend as B
    try:
        B.get_backend(device)
    except RuntimeError as e:
        raise CommandError(str(e)) from None


# ----------------------------------------------------------------------------- sample
def cmd_sample(args):
    import minigen
    from . import io, plots
    from .models import registry
    from .train import load_checkpoint

    _check_device(args.device)
    meta = io.load_meta(args.checkpoint)       # validates the whole file
    if meta.get("model") != args.model:
        raise CommandError(f"{args.checkpoint} holds a {meta.get('model') or 'non-model'!s} checkpoint, "
                           f"not a {args.model} one")
    entry = registry.get(args.model)
    try:
        model = entry.build(meta.get("data"), meta.get("variant")).to(args.device)
    except (ValueError, KeyError) as e:
        raise CommandError(f"{args.checkpoint}: can't rebuild the model from its meta {meta}: {e}") from None
    load_checkpoint(args.checkpoint, model, expect={"model": args.model, "config": meta.get("config")})
    if hasattr(model, "config") and model.config() != meta.get("config"):
        raise CommandError(f"{args.checkpoint}: saved for {meta.get('config')}, which this minigen "
                           f"builds as {model.config()}")
    if not hasattr(model, "sample"):
        raise CommandError(f"model {args.model} has no sample()")
    minigen.manual_seed(args.seed)
    model.eval()
    x = model.sample(args.n)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), f"samples-{args.n}.png")
    import math
    plots.save_image_grid(x, out, nrow=max(1, math.isqrt(args.n)),
                          title=f"{args.n} samples from {os.path.basename(args.checkpoint)}")
    print(f"wrote {args.n} samples to {out}")
    return EXIT_OK


# ----------------------------------------------------------------------------- info
def _dist_version(name):
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _blas_lines():
    import numpy  # noqa: F401  (loads the BLAS so threadpoolctl can see it)
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
    if threadpoolctl is not None:
        libs = [d for d in threadpoolctl.threadpool_info() if d.get("user_api") == "blas"]
        if libs:
            return [f"{d.get('internal_api')} {d.get('version')} ({d.get('num_threads')} threads"
                    + (f", {d['architecture']}" if d.get("architecture") else "") + ")" for d in libs]
    try:
        cfg = numpy.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return [f"{blas.get('name')} {blas.get('version')} (from numpy.show_config; "
                "pip install threadpoolctl for thread counts)"]
    except Exception:  # older NumPy: no dict mode
        return ["unknown (pip install threadpoolctl to see it)"]


def cmd_info(args):
    import numpy

    import minigen
    from . import backend as B

    print(f"minigen {minigen.__version__}  ({os.path.dirname(os.path.abspath(minigen.__file__))})")
    print(f"Python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"NumPy {numpy.__version__}; BLAS: " + "; ".join(_blas_lines()))
    print(f"host threads: {minigen.threads.host_threads()}")
    cupy_versions = [f"{d} {v}" for d in ("cupy", "cupy-cuda12x", "cupy-cuda13x", "cupy-cuda11x")
                     if (v := _dist_version(d))]
    cuda_ok = B.cuda_is_available()
    print("devices:")
    print("  cpu   available (NumPy)")
    if cuda_ok:
        kind = type(B._backends["cuda"]).__name__
        what = "SIMULATED on the CPU (test suite stand-in)" if "Simulated" in kind else "CuPy on a GPU"
        print(f"  cuda  available ({what})")
    else:
        print(f"  cuda  not available: {B._cuda_error}")
    print(f"CuPy: {', '.join(cupy_versions) if cupy_versions else 'not installed'}"
          + ("" if cupy_versions else " (pip install minigen[cuda12] on a machine with an NVIDIA GPU)"))
    extras = []
    for d in ("matplotlib", "tqdm", "threadpoolctl", "torch", "pytest"):
        v = _dist_version(d)
        extras.append(f"{d} {v}" if v else f"{d} (not installed)")
    print("packages: " + ", ".join(extras))
    print("models: " + ", ".join(_model_names()))
    return EXIT_OK


# ----------------------------------------------------------------------------- gradcheck / bench
def cmd_gradcheck(args):
    from . import backend as B
    try:
        from .testing import gradcheck_table
    except ImportError as e:
        raise CommandError(f"gradcheck: minigen.testing.gradcheck_table is not available in this "
                           f"installation ({e})") from None
    if args.simulated_cuda and not B.cuda_is_available():
        from .testing import simulated_cuda
        simulated_cuda.install()
    if args.device == "all":
        devices = ["cpu"] + (["cuda"] if B.cuda_is_available() else [])
    else:
        _check_device(args.device)
        devices = [args.device]
    result = gradcheck_table.run(devices, only=args.only, second_order=not args.no_second_order)
    if isinstance(result, bool):
        return EXIT_OK if result else EXIT_ERROR
    if isinstance(result, int):
        return result
    return EXIT_OK


def cmd_bench(argv):
    try:
        from . import bench
        bench_main = bench.main
    except (ImportError, AttributeError) as e:
        print(f"minigen: error: the benchmark harness (minigen.bench) is not available in this "
              f"installation ({e})", file=sys.stderr)
        return EXIT_ERROR
    rc = bench_main(list(argv))
    return EXIT_OK if rc is None else int(rc)


# ----------------------------------------------------------------------------- main
def main(argv=None):
    """Run the ``minigen`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":          # the harness parses its own arguments
        return cmd_bench(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:                  # --help, --version, or a usage error
        return int(e.code) if isinstance(e.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from .io import CheckpointError
    commands = {"train": cmd_train, "sample": cmd_sample, "info": cmd_info, "gradcheck": cmd_gradcheck}
    try:
        return commands[args.command](args)
    except (CommandError, CheckpointError, FileNotFoundError) as e:
        print(f"minigen {args.command}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"\nminigen {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        while _limits:
            _limits.pop().restore_original_limits()


if __name__ == "__main__":
    sys.exit(main())
