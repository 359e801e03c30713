"""The ``minigen`` command.

    minigen train NAME [--data D] [--variant V] [--quick] [--epochs N | --steps N] [--batch-size B]
                       [--lr LR] [--device cpu|cuda] [--seed S] [--out runs/NAME] [--resume]
    minigen sample NAME --checkpoint RUN/last.npz [--n N] [--out FILE.png|.npy|.txt]
                        [--prompt TEXT --max-new-tokens N --temperature T --top-k K --top-p P ...]
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
    t.add_argument("--data", choices=_data_names(),
                   help="data set: 'mnist' (the 5,000-image MNIST subset shipped with minigen: "
                        "4,000 train / 1,000 test), 'digits' (8x8 digits), 'names' (US first "
                        "names) or 'shakespeare' (ten works); default: the recipe's")
    t.add_argument("--variant", help="architecture variant (vae: mlp or conv); default: the first")
    t.add_argument("--quick", action="store_true",
                   help="tiny sizes and a few steps: a smoke test in seconds (CI runs it)")
    t.add_argument("--epochs", type=_positive_int, help="epochs (default: the recipe's)")
    t.add_argument("--steps", type=_positive_int,
                   help="train this many steps instead of epochs (default: the recipe's)")
    t.add_argument("--batch-size", type=_positive_int, help="batch size (default: the recipe's)")
    t.add_argument("--lr", type=_positive_float, help="learning rate (default: the recipe's)")
    t.add_argument("--device", choices=["cpu", "cuda"],
                   help="where to train: cpu (NumPy) or cuda (CuPy on an NVIDIA GPU); default cpu")
    t.add_argument("--seed", type=int, help="random seed (default 0)")
    t.add_argument("--out", help="run folder (default runs/MODEL-DATA[-VARIANT], numbered -2, -3, ... "
                                 "if it already holds a run)")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last.npz (default folder: the newest "
                        "default one) with the run's own settings (config.json); a setting given "
                        "on the command line that differs from the run's is refused")
    t.add_argument("--override", action="store_true",
                   help="with --resume: continue with the settings given on the command line "
                        "where they differ from the run's (recorded in config.json)")
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

    s = sub.add_parser("sample", help="draw samples from a trained checkpoint",
                       description="Load a checkpoint written by `minigen train` and write new "
                                   "samples, by the extension of --out: images to a .png grid "
                                   "or a .npy array ([N, C, H, W] floats in [0, 1]); text to a "
                                   ".txt file (and the terminal).")
    s.add_argument("model", choices=names, help="the model the checkpoint holds")
    s.add_argument("--checkpoint", help="path of a checkpoint (last.npz or best.npz); default: the "
                                        "trained weights that ship with the model, if any (dalle)")
    s.add_argument("--n", type=_positive_int, default=None,
                   help="number of samples (default: 64 images, 20 names, 1 text)")
    s.add_argument("--out", help="file to write: .png, .npy (images) or .txt (text); default: "
                                 "samples-N.png or samples.txt beside the checkpoint")
    s.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="default cpu")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--labels", help="conditional image models: the digits to draw, comma-separated "
                                    "(e.g. 0,1,2,7); --n defaults to their number")
    s.add_argument("--psi", type=float, help="StyleGAN: the truncation psi in [0, 1] (default 1: none)")
    a = s.add_argument_group("audio models (see docs/models/wavenet.md)")
    a.add_argument("--digit", type=int, help="WaveNet: the spoken digit 0..9 to generate (default 0)")
    a.add_argument("--seconds", type=float, help="WaveNet: the length of each clip in seconds (default 1)")
    d = s.add_argument_group("diffusion models (see docs/models/ddpm.md)")
    d.add_argument("--sampler", choices=["ddpm", "ddim"],
                   help="ddpm: ancestral, all T steps (default); ddim: deterministic, --steps of them")
    d.add_argument("--steps", type=_positive_int, help="DDIM steps (default 50; at most the model's T)")
    d.add_argument("--guidance", type=float,
                   help="classifier-free guidance scale w >= 0 with --labels (1: plain conditional; default 1)")
    d.add_argument("--eta", type=float, help="DDIM's noise: 0 deterministic (default), 1 DDPM-like")
    s.add_argument("--audio", help="dalle: a spoken digit (8 kHz mono 16-bit .wav) as the prompt, heard "
                                   "by the audio encoder (docs/models/dalle.md)")
    s.add_argument("--candidates", type=_positive_int,
                   help="dalle: draw this many candidates, rank them by CLIP and write the --n best "
                        "(default 8 x --n, as DALL-E kept its best of many; --candidates equal to "
                        "--n writes them all, ranked)")
    g = s.add_argument_group("text models (the keywords of generate(); see docs/models/generation.md)")
    g.add_argument("--prompt", help="text to continue (default: a line break for Shakespeare, "
                                    "nothing for names: a prompt there is the start of a name)")
    g.add_argument("--max-new-tokens", type=_nonnegative_int,
                   help="characters to generate (default 500; 30 for names, which stop at their end)")
    g.add_argument("--temperature", type=float, default=1.0, help="> 0; below 1 sharpens (default 1)")
    g.add_argument("--top-k", type=_positive_int, help="sample among the k most probable characters")
    g.add_argument("--top-p", type=float, help="nucleus sampling: the smallest set reaching this "
                                               "probability, in (0, 1]")
    g.add_argument("--repetition-penalty", type=float, default=1.0,
                   help="divide the scores of characters already present (> 1 discourages them)")
    g.add_argument("--no-repeat-ngram-size", type=_nonnegative_int, default=0,
                   help="never repeat an n-gram of this size (0: off)")
    g.add_argument("--greedy", action="store_true", help="take the most probable character each step")
    g.add_argument("--num-beams", type=_positive_int, default=1, help="beam search width (implies --greedy)")
    g.add_argument("--no-cache", action="store_true",
                   help="re-read the whole context at every step instead of using the cache "
                        "(same text, slower)")

    e = sub.add_parser("eval", help="score generated digits (Frechet distance on minigen's digit "
                                    "classifier, class coverage, precision/recall, memorisation)",
                       description="Score an array of generated digit images against the 1,000 "
                                   "MNIST-5k test images with minigen.metrics. SAMPLES.npy: floats "
                                   "in [0, 1], shaped [N, 1, 28, 28] or [N, 1, 32, 32] "
                                   "(centre-cropped), as `minigen sample NAME --out x.npy` writes.")
    e.add_argument("samples", help="a .npy file of images")
    e.add_argument("--json", help="also write the scores to this JSON file")

    for name in ("list", "models"):
        sub.add_parser(name, help="every model with its description, data sets and variants"
                       if name == "list" else "the same as `minigen list`",
                       description="List every registered model: its one-line description, the "
                                   "data sets it trains on (the default first) and its variants.")

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


def _int_at_least(low, words):
    """An argparse type: an integer >= ``low`` (``words`` names it in the error)."""
    def parse(s):
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {words}, got {s!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"expected {words}, got {s!r}")
        return v
    return parse


_positive_int = _int_at_least(1, "a positive integer")
_nonnegative_int = _int_at_least(0, "an integer >= 0")


def _data_names():
    from .models.datasets import DATASETS
    return sorted(DATASETS)


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


# the settings a resumed run takes from its config.json unless the command line gives them
_RESUMED = ("data", "variant", "quick", "epochs", "steps", "batch_size", "lr", "seed", "device")


def _resume_settings(args, out):
    """On --resume: fill the settings the command line leaves out from the run's config.json,
    and refuse those it gives differently (unless --override). Returns the differences."""
    import json
    path = os.path.join(out, "config.json")
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise CommandError(f"--resume: can't read the run's settings from {path} ({e})") from None
    if config.get("model") not in (None, args.model):
        raise CommandError(f"--resume: {out} holds a {config['model']} run, not a {args.model} one")
    given = {k: getattr(args, k) for k in _RESUMED}
    given["quick"] = args.quick or None            # a store_true flag is "given" only when set
    if given["epochs"] is not None and config.get("steps") is not None:
        given["steps"] = None                      # asking for epochs replaces the run's steps
    differ = [(k, config.get(k), v) for k, v in given.items()
              if v is not None and k in config and config[k] != v
              and not (k == "epochs" and config.get("steps") is not None and args.steps is None)]
    if differ and not args.override:
        said = ", ".join(f"--{k.replace('_', '-')} {v} (the run has {old})" for k, old, v in differ)
        raise CommandError(f"--resume: {said}; a resumed run keeps its settings. Pass --override "
                           "to continue with the new ones, or leave them out")
    for k in _RESUMED:
        if getattr(args, k, None) is None and k in config:
            setattr(args, k, config[k])
    if not args.quick and config.get("quick"):
        args.quick = True
    return differ


def cmd_train(args):
    from .train import LAST, run_recipe, train_model

    if args.override and not args.resume:
        raise CommandError("--override only applies with --resume")
    if args.epochs is not None and args.steps is not None:
        raise CommandError("train: give --epochs or --steps, not both")
    try:
        entry, variant, recipe = run_recipe(args.model, args.data, args.variant, args.quick)
    except ValueError as e:
        raise CommandError(f"{e}") from None
    out = args.out or _default_out(args.model, recipe.data, variant, entry.recipe.for_data(recipe.data).variants[0], args.resume)
    last = os.path.join(out, LAST)
    if args.resume and not os.path.exists(last):
        raise CommandError(f"--resume: {out} holds no checkpoint ({LAST}); nothing to resume")
    if not args.resume and os.path.exists(last):
        raise CommandError(f"{out} already holds a run ({last}); pass --resume to continue it, "
                           "or choose another --out")
    overrides = []
    if args.resume:
        overrides = _resume_settings(args, out)
        try:
            entry, variant, recipe = run_recipe(args.model, args.data, args.variant, args.quick)
        except ValueError as e:
            raise CommandError(f"{e}") from None
    args.device = args.device or "cpu"
    args.seed = 0 if args.seed is None else args.seed
    _check_device(args.device)

    threads_note = _set_blas_threads(args.threads)
    steps = args.steps if args.steps is not None else (recipe.steps if args.epochs is None else None)
    epochs = args.epochs if args.epochs is not None else recipe.epochs
    bs = args.batch_size if args.batch_size is not None else recipe.batch_size
    lr = args.lr if args.lr is not None else recipe.lr
    length = f"steps={steps}" if steps is not None else f"epochs={epochs}"
    print(f"minigen train {args.model}: data={recipe.data} variant={variant} {length} "
          f"batch_size={bs} lr={lr:g} device={args.device} seed={args.seed}"
          + (" quick" if args.quick else "") + f" -> {out}" + ("  (resuming)" if args.resume else ""))
    if threads_note:
        print(threads_note)
    t0 = time.perf_counter()
    try:
        report = train_model(args.model, data=recipe.data, variant=variant, epochs=epochs, steps=steps,
                             batch_size=bs, lr=lr, device=args.device, seed=args.seed, out=out,
                             resume=args.resume, max_steps=args.max_steps, eval_k=args.eval_k,
                             checkpoint_every=args.checkpoint_every, progress=not args.no_progress,
                             pictures=not args.no_pictures, quick=args.quick, overrides=overrides)
    except ValueError as e:
        raise CommandError(str(e)) from None
    fit = report["fit"]
    if fit["interrupted"]:
        where = f"checkpoint saved to {fit['checkpoint']}" if fit["checkpoint"] else "no checkpoint written"
        print(f"\nstopped ({fit['interrupted']}) at step {fit['step']}; {where}")
        if fit["checkpoint"]:
            print(f"resume with: minigen train {args.model} --out {out} --resume")
        return EXIT_INTERRUPTED
    m = report["metrics"]
    _print_metrics(m, args.eval_k)
    print(f"{'training':>24}: {fit['step']} steps in {m['train_seconds']:.1f} s "
          f"({m['ms_per_step']:.1f} ms/step); evaluation and pictures {m['eval_seconds']:.1f} s; "
          f"total {time.perf_counter() - t0:.1f} s")
    files = sorted(os.listdir(out))
    print(f"{'wrote':>24}: {out}/  " + "  ".join(f for f in files if not f.startswith(".")))
    samples = os.path.join(out, "samples.txt")
    if os.path.exists(samples):
        with open(samples, encoding="utf-8") as f:
            text = f.read()
        print(f"{'samples':>24}:\n" + text[:600] + ("..." if len(text) > 600 else ""))
    return EXIT_OK


_LABELS = {"test_neg_elbo": ("test -ELBO", "nats per image"),
           "frechet_distance_digit_classifier": ("Frechet distance", "(digit classifier's features; not FID)"),
           "classes_covered": ("classes >= 5%", "of 10"),
           "kl_from_uniform": ("KL(classes || uniform)", "nats"),
           "agreement": ("asked digit drawn", "(share of samples)"),
           "memorisation_ratio": ("memorisation ratio", "(nearest-train distance, samples / test)"),
           "test_nats_per_char": ("test loss", "nats per character"),
           "test_bits_per_char": ("test", "bits per character"),
           "test_perplexity": ("test perplexity", "")}


def _print_metrics(m, eval_k):
    skip = {"train_seconds", "steps", "ms_per_step", "eval_seconds", "test_tokens", "n_samples", "n_real",
            "nn_train_distance_samples", "nn_train_distance_test"}
    for key, value in m.items():
        if key in skip or not isinstance(value, (int, float)):
            continue
        label, unit = _LABELS.get(key, (key.replace("_", " "), ""))
        if key == f"test_iwae_nll_k{eval_k}":
            label, unit = f"test IWAE NLL (k={eval_k})", "nats per image"
        print(f"{label:>24}: {value:.4f} {unit}".rstrip())


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
    from . import threads
    # minigen's own host threads (minigen/threads.py); BLAS's are pinned just below
    _limits.append(_Restore(threads.pin_host_threads(n)))
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
def _load_for_sampling(args):
    """The model of ``args.checkpoint``, rebuilt from its meta and loaded, in eval mode."""
    from . import io
    from .models import registry
    from .train import load_checkpoint

    _check_device(args.device)
    if args.checkpoint is None:
        from .models.weights import shipped
        try:
            args.checkpoint = shipped(args.model)
        except ValueError as e:
            raise CommandError(str(e)) from None
    meta = io.load_meta(args.checkpoint)       # validates the whole file
    if meta.get("model") != args.model:
        raise CommandError(f"{args.checkpoint} holds a {meta.get('model') or 'non-model'!s} checkpoint, "
                           f"not a {args.model} one")
    entry = registry.get(args.model)
    options = meta.get("options") or {}
    try:
        model = entry.build(meta.get("data"), meta.get("variant"), **options).to(args.device)
    except (ValueError, KeyError, TypeError) as e:
        raise CommandError(f"{args.checkpoint}: can't rebuild the model from its meta {meta}: {e}") from None
    load_checkpoint(args.checkpoint, model, expect={"model": args.model, "config": meta.get("config")})
    if hasattr(model, "config") and model.config() != meta.get("config"):
        raise CommandError(f"{args.checkpoint}: saved for {meta.get('config')}, which this minigen "
                           f"builds as {model.config()}")
    model.eval()
    return model, registry.DATASETS[meta.get("data")]


def cmd_sample(args):
    import minigen

    from .models import registry

    model, spec = _load_for_sampling(args)
    minigen.manual_seed(args.seed)
    hook = registry.get(args.model).recipe.sample
    if hook is not None:
        # the model's own way to answer `minigen sample` (Recipe.sample)
        try:
            return hook(model, spec, args)
        except ValueError as e:
            raise CommandError(str(e)) from None
    if spec.kind == "text":
        return _sample_text(args, model, spec)
    if spec.kind == "audio":
        return _sample_audio(args, model)
    for flag in ("digit", "seconds"):
        if getattr(args, flag) is not None:
            raise CommandError(f"--{flag} is for audio models; {args.model} does not make sound")
    text_flags = [f for f in ("prompt", "max_new_tokens", "top_k", "top_p") if getattr(args, f) is not None]
    if text_flags:
        raise CommandError(f"--{text_flags[0].replace('_', '-')} is for text models; {args.model} "
                           f"draws images")
    if not hasattr(model, "sample"):
        raise CommandError(f"model {args.model} has no sample()")
    kwargs = {}
    if args.labels is not None:
        if not getattr(model, "conditional", False):
            raise CommandError(f"--labels: {args.model} is not a conditional model; it takes no labels")
        try:
            labels = [int(v) for v in args.labels.split(",") if v.strip() != ""]
        except ValueError:
            raise CommandError(f"--labels: expected digits 0..9 separated by commas, got {args.labels!r}") from None
        bad = [v for v in labels if not 0 <= v <= 9]
        if bad or not labels:
            raise CommandError(f"--labels: digits must lie in 0..9, got {args.labels!r}")
        if args.n is not None and args.n != len(labels):
            raise CommandError(f"--n {args.n} does not match the {len(labels)} --labels given")
        kwargs["labels"] = labels
        args.n = len(labels)
    if args.psi is not None:
        if not hasattr(model, "truncation_psi"):
            raise CommandError(f"--psi: {args.model} has no truncation trick (StyleGAN has)")
        kwargs["psi"] = args.psi
    kwargs.update(_sampler_flags(args, model))
    points = spec.kind == "points"
    n = args.n or (2000 if points else 64)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), f"samples-{n}.png")
    ext = os.path.splitext(out)[1].lower()
    if ext not in (".png", ".npy"):
        kind = "points are written as .png (a scatter plot)" if points else "images are written as .png (a grid)"
        raise CommandError(f"--out: {kind} or .npy (an array), got {out!r}")
    try:
        x = model.sample(n, **kwargs)
    except ValueError as e:
        raise CommandError(str(e)) from None
    if ext == ".npy":
        import numpy
        from .io import atomic_write
        arr = x.cpu().numpy().astype(numpy.float32)
        arr = arr if points else numpy.clip(arr, 0.0, 1.0)
        atomic_write(out, lambda f: numpy.save(f, arr))
        what = "standardised 2-D points" if points else "float32 in [0, 1]"
        print(f"wrote {n} samples {list(arr.shape)} ({what}) to {out}")
        return EXIT_OK
    if points:
        from . import plots
        from .data import moons_split
        plots.save_point_strip([x], out, [f"{n} samples"], data=moons_split()["train"])
        print(f"wrote {n} samples to {out} (grey: the training points)")
        return EXIT_OK
    import math
    from . import plots
    plots.save_image_grid(x, out, nrow=10 if "labels" in kwargs and n >= 10 else max(1, math.isqrt(n)),
                          title=f"{n} samples from {os.path.basename(args.checkpoint)}")
    print(f"wrote {n} samples to {out}")
    return EXIT_OK


def _sample_audio(args, model):
    """WaveNet: ``--n`` clips of ``--seconds`` of the spoken ``--digit``, as .wav (one file per
    clip, numbered when there are several) or one .npy array [n, samples] in [-1, 1]."""
    digit = 0 if args.digit is None else args.digit
    if not 0 <= digit <= 9:
        raise CommandError(f"--digit: the spoken digits are 0..9, got {digit}")
    seconds = 1.0 if args.seconds is None else args.seconds
    if not 0 < seconds <= 10:
        raise CommandError(f"--seconds must lie in (0, 10], got {seconds}")
    n = args.n or 1
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), f"digit-{digit}.wav")
    ext = os.path.splitext(out)[1].lower()
    if ext not in (".wav", ".npy"):
        raise CommandError(f"--out: audio is written as .wav or .npy, got {out!r}")
    x = model.sample(n, labels=[digit] * n, seconds=seconds).cpu().numpy()
    if ext == ".npy":
        import numpy
        from .io import atomic_write
        atomic_write(out, lambda f: numpy.save(f, x.astype(numpy.float32)))
        print(f"wrote {n} clips {list(x.shape)} (8 kHz, floats in [-1, 1]) to {out}")
        return EXIT_OK
    from .data import write_wav
    stem = os.path.splitext(out)[0]
    paths = [out] if n == 1 else [f"{stem}-{k}.wav" for k in range(n)]
    for p, w in zip(paths, x):
        write_wav(p, w)
    print(f"wrote {n} clip(s) of {seconds} s of the digit {digit} (8 kHz mono 16-bit): {', '.join(paths)}")
    return EXIT_OK


def _sampler_flags(args, model):
    """The diffusion flags as ``sample()`` keywords; a flag the model's ``sample`` does not take
    is an error that names it."""
    import inspect
    flags = {"sampler": args.sampler, "steps": args.steps, "guidance": args.guidance, "eta": args.eta}
    given = {k: v for k, v in flags.items() if v is not None}
    accepted = inspect.signature(model.sample).parameters
    for k in given:
        if k not in accepted:
            raise CommandError(f"--{k}: {args.model} has no such sampling option (the diffusion "
                               "models have: --sampler, --steps, --guidance, --eta)")
    if "steps" in given and given.get("sampler", "ddpm") == "ddpm":
        raise CommandError("--steps: ancestral (ddpm) sampling runs all T steps; add --sampler ddim")
    if "eta" in given and given.get("sampler") != "ddim":
        raise CommandError("--eta is DDIM's noise; add --sampler ddim")
    if "guidance" in given and args.labels is None:
        raise CommandError("--guidance needs --labels (the digits to draw)")
    return given


def _sample_text(args, model, spec):
    from .models.lm import sample_text

    names = spec.end_token is not None
    n = args.n or (20 if names else 1)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "samples.txt")
    if os.path.splitext(out)[1].lower() != ".txt":
        raise CommandError(f"--out: text is written to a .txt file, got {out!r}")
    greedy = args.greedy or args.num_beams > 1
    gen = dict(do_sample=not greedy, repetition_penalty=args.repetition_penalty,
               no_repeat_ngram_size=args.no_repeat_ngram_size, use_cache=not args.no_cache,
               num_beams=args.num_beams)
    if not greedy:
        gen.update(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p)
    elif n > 1 and args.num_beams == 1:
        n = 1      # greedy decoding has one answer per prompt
    try:
        texts = sample_text(model, spec, n=n, prompt=args.prompt, max_new_tokens=args.max_new_tokens, **gen)
    except (ValueError, RuntimeError) as e:
        raise CommandError(str(e)) from None
    sep = "\n" if names else "\n\n" + "-" * 40 + "\n"
    text = sep.join(texts) + "\n"
    from .io import atomic_write_bytes
    atomic_write_bytes(out, text.encode("utf-8"))
    print(text, end="")
    print(f"(wrote {len(texts)} sample{'s' if len(texts) > 1 else ''} to {out})", file=sys.stderr)
    return EXIT_OK


# ----------------------------------------------------------------------------- eval
def cmd_eval(args):
    import json

    import numpy

    from .metrics import format_scores, score_images
    try:
        x = numpy.load(args.samples, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise CommandError(f"{args.samples}: not a readable .npy array ({e})") from None
    try:
        scores = score_images(x)
    except ValueError as e:
        raise CommandError(f"{args.samples}: {e}") from None
    print(format_scores(scores))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(scores, f, indent=1)
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
    # importing minigen imported every @fused function: the list of twins is complete here
    print(f"fused CUDA kernels: {len(B.FUSED_KERNELS)}, "
          + ("on" if B._fused_enabled else "off (MINIGEN_FUSED=0)")
          + " (used where a device runs them: a GPU, the simulated device)")
    extras = []
    for d in ("matplotlib", "tqdm", "threadpoolctl", "torch", "pytest"):
        v = _dist_version(d)
        extras.append(f"{d} {v}" if v else f"{d} (not installed)")
    print("packages: " + ", ".join(extras))
    print("models: " + ", ".join(_model_names()))
    return EXIT_OK


def cmd_list(args):
    """Each registered model: description, data sets (the default first), variants."""
    from .models import registry
    for name in registry.names():
        r = registry.get(name).recipe
        data = [r.data] + [d for d in r.per_data if d != r.data]
        print(f"{name:<12} {r.description or '(no description)'}")
        line = f"{'':<12} data: {', '.join(data)}"
        if len(r.variants) > 1:
            line += f";  variants: {', '.join(r.variants)}"
        print(line)
    print("\ntrain one with `minigen train NAME [--data D] [--variant V]`; see docs/models/NAME.md")
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
def _os_error_line(e):
    """'cannot write PATH: REASON' for an OSError from creating or writing an output."""
    where = e.filename if e.filename is not None else ""
    reason = e.strerror or str(e)
    if isinstance(e, (PermissionError, NotADirectoryError, IsADirectoryError, FileExistsError)):
        return f"cannot write {where}: {reason} (choose another --out)"
    return f"{where + ': ' if where else ''}{reason}"


def _quiet_broken_pipe():
    """The reader of our output went away (``minigen gradcheck | head``): stop without a
    traceback, and keep Python from complaining when it flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_OK


def main(argv=None):
    """Run the ``minigen`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":          # the harness parses its own arguments
        try:
            return cmd_bench(argv[1:])
        except BrokenPipeError:
            return _quiet_broken_pipe()
        except OSError as e:
            print(f"minigen bench: error: {_os_error_line(e)}", file=sys.stderr)
            return EXIT_ERROR
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:                  # --help, --version, or a usage error
        return int(e.code) if isinstance(e.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from .io import CheckpointError
    commands = {"train": cmd_train, "sample": cmd_sample, "eval": cmd_eval, "info": cmd_info,
                "gradcheck": cmd_gradcheck, "list": cmd_list, "models": cmd_list}
    try:
        return commands[args.command](args)
    except (CommandError, CheckpointError, FileNotFoundError) as e:
        print(f"minigen {args.command}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except OSError as e:
        # a folder that cannot be created or written: one line, not a traceback
        print(f"minigen {args.command}: error: {_os_error_line(e)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"\nminigen {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        while _limits:
            _limits.pop().restore_original_limits()


if __name__ == "__main__":
    sys.exit(main())
