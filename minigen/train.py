"""The training loop behind ``minigen train``, with checkpoints that resume exactly.

``fit`` is the loop itself::

    for each epoch, for each batch:
        training_step: loss = model.loss(*batch); loss.backward(); optimizer.step()
                       (or the model's own train_step(batch, optimizers): a GAN's turns)
        every log_every steps          -> a row in log.csv, the live loss on the progress bar
                                          (and a train_step's figures in stats.csv)
        at each epoch end              -> the test loss (model.loss over the test loader)
        every checkpoint_every steps   -> last.npz (and best.npz when the test loss improves)
        Ctrl-C / SIGTERM               -> finish this step, write last.npz, return

A checkpoint holds everything the rest of the run depends on: model, optimizer(s) and scheduler
state, the step, the epoch and the position within it, minigen's CPU random state, and the
state the DataLoader's shuffling generator had at the start of the current epoch. Resuming
restores them, redraws that epoch's order and skips the batches already done, so on CPU a run
stopped at step k and resumed ends with the same parameters, bit for bit, as a run that was
never stopped. (On a GPU the model's noise comes from CuPy's generator, whose state is not
saved: a resumed GPU run continues correctly but not bit for bit.)

``train_model`` is what the command line calls: it builds a registered model, its data (any
kind: ``minigen/models/datasets.py``) and its optimizer(s) from the recipe, calls ``fit``,
computes the final metrics and draws the pictures (or writes the text samples).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import sys
import threading
import time

import numpy

from . import backend as B
from . import io
from .io import CheckpointError

__all__ = ["fit", "evaluate_loss", "save_checkpoint", "load_checkpoint", "train_model",
           "training_step", "make_optimizers", "run_recipe",
           "CheckpointError", "LAST", "BEST", "LOG"]

LAST, BEST, LOG, STATS = "last.npz", "best.npz", "log.csv", "stats.csv"
LOG_FIELDS = ["step", "epoch", "split", "loss", "elapsed_s"]


# ----------------------------------------------------------------------------- checkpoints
def _optimizer_state(optimizer):
    """One optimizer's state, a dict of them by name (several players), or {} for none."""
    if optimizer is None:
        return {}
    if isinstance(optimizer, dict):
        return {k: o.state_dict() for k, o in optimizer.items()}
    return optimizer.state_dict()


def save_checkpoint(path, model, optimizer, scheduler=None, meta=None, **extra):
    """Write model, optimizer(s) and scheduler state plus ``extra`` entries atomically to
    ``path``. ``optimizer`` is one optimizer, a dict of them by name, or None."""
    state = {"model": model.state_dict(), "optimizer": _optimizer_state(optimizer),
             "scheduler": scheduler.state_dict() if scheduler is not None else None}
    state.update(extra)
    io.save(state, path, meta=meta)


def _model_device(model):
    for p in model.parameters():
        return p.device
    return "cpu"


def load_checkpoint(path, model, optimizer=None, scheduler=None, expect=None):
    """Load ``path`` into ``model`` (and ``optimizer``, ``scheduler``); return the whole dict.

    Raises ``CheckpointError`` (naming the file and the fault) for a truncated or damaged file,
    one holding pickled objects, one whose meta does not match ``expect`` (another model), or
    one whose tensors do not fit ``model``. Nothing is changed unless everything loads.
    """
    ckpt = io.load(path, map_location=_model_device(model), expect=expect)
    need = ["model"] + (["optimizer"] if optimizer is not None else [])
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in need):
        raise CheckpointError(f"{path}: not a training checkpoint (expected entries {need})")
    if scheduler is not None and ckpt.get("scheduler") is None:
        raise CheckpointError(f"{path}: holds no scheduler state, but this run uses a scheduler")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        model.load_state_dict(ckpt["model"])
        if isinstance(optimizer, dict):
            saved = ckpt["optimizer"]
            if not isinstance(saved, dict) or set(saved) != set(optimizer):
                raise KeyError(f"the checkpoint holds optimizers {sorted(saved) if isinstance(saved, dict) else '?'}, "
                               f"this run has {sorted(optimizer)}")
            for k, o in optimizer.items():
                o.load_state_dict(saved[k])
        elif optimizer is not None:
            optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as e:
        model.load_state_dict(before)
        raise CheckpointError(f"{path}: does not fit this model/optimizer: {e}") from None
    return ckpt


# ----------------------------------------------------------------------------- one step
def make_optimizers(model, recipe):
    """The optimizer(s) a recipe names: one ``Optimizer``, a dict of them, or None."""
    from . import optim

    if callable(recipe.optimizer):
        return recipe.optimizer(model, recipe)
    if recipe.optimizer is None:
        return None
    params = list(model.parameters())
    kinds = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD}
    if recipe.optimizer not in kinds:
        raise ValueError(f"recipe: unknown optimizer {recipe.optimizer!r}; choose from {sorted(kinds)}, "
                         "a callable, or None")
    if recipe.optimizer == "sgd":
        return optim.SGD(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    return kinds[recipe.optimizer](params, lr=recipe.lr, betas=tuple(recipe.betas),
                                   weight_decay=recipe.weight_decay)


def make_scheduler(optimizer, total_steps, warmup=0):
    """Cosine decay of the learning rate to 0 over ``total_steps`` steps; with ``warmup`` > 0,
    first a linear rise from lr / warmup to lr over ``warmup`` steps, then the cosine over the
    remaining ``total_steps - warmup`` (stepped after every optimizer step)."""
    from .optim import lr_scheduler

    if not isinstance(warmup, int) or warmup < 0 or (warmup and warmup >= total_steps):
        raise ValueError(f"recipe: warmup must be an integer in [0, {total_steps}) (the run's "
                         f"{total_steps} steps), got {warmup!r}")
    if warmup == 0:
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    # lr_t = lr (1/w + (1 - 1/w) t / w) for t < w, then lr (1 + cos(pi (t - w) / (T - w))) / 2
    rise = lr_scheduler.LinearLR(optimizer, start_factor=1.0 / warmup, end_factor=1.0,
                                 total_iters=warmup)
    decay = lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps - warmup)
    return lr_scheduler.SequentialLR(optimizer, [rise, decay], milestones=[warmup])


def training_step(model, optimizer, batch, grad_clip=None):
    """One step on ``batch`` (a tuple): the model's own ``train_step(batch, optimizer)`` when
    it has one (several players, or counting), else zero_grad, ``loss = model.loss(*batch)``,
    backward, clip (``grad_clip``), optimizer step, and the model's ``after_step()`` when it
    has one (a moving average of the weights). Returns the loss tensor (not read back, so
    no device sync) or the dict of floats ``train_step`` returned."""
    if hasattr(model, "train_step"):
        return model.train_step(batch, optimizer)
    optimizer.zero_grad()
    loss = model.loss(*batch)
    loss.backward()
    if grad_clip is not None:
        from .nn.utils import clip_grad_norm_
        clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    if hasattr(model, "after_step"):
        model.after_step()      # e.g. a diffusion model's moving average of its weights
    return loss


def read_figures(**figures):
    """A ``train_step``'s figures as Python floats: each value a number or a one-element
    tensor, the tensors read from the device together. On a GPU every read of a device value
    waits for all queued kernels (a host sync); a GAN step's six figures are one read, not six."""
    from . import stack
    from .autograd import Tensor

    names = [k for k, v in figures.items() if isinstance(v, Tensor)]
    if names:
        ts = [figures[k].detach().reshape(()) for k in names]
        if len({t.dtype for t in ts}) > 1:
            ts = [t.double() for t in ts]
        figures.update(zip(names, stack(ts).tolist()))
    return {k: float(v) for k, v in figures.items()}


def _loss_value(out):
    """The number to log for a step's output: the loss, or a ``train_step`` dict's ``'loss'``
    (or its first entry)."""
    if isinstance(out, dict):
        return float(out["loss"] if "loss" in out else next(iter(out.values())))
    return out.item()


# ----------------------------------------------------------------------------- evaluation
def evaluate_loss(model, loader):
    """The mean of ``model.loss`` over every example of ``loader`` (batches weighted by size)."""
    from .autograd import no_grad

    total, n = 0.0, 0
    was_training = model.training
    device = _model_device(model)
    model.eval()
    with no_grad():
        for batch in loader:
            batch = _on(batch, device)
            b = batch[0].shape[0]
            total += model.loss(*batch).item() * b
            n += b
    model.train(was_training)
    return total / max(n, 1)


def _on(batch, device):
    """A batch as a tuple of tensors on ``device`` (text batches are made on the host)."""
    batch = batch if isinstance(batch, (tuple, list)) else (batch,)
    return tuple(t if str(t.device) == str(device) else t.to(device) for t in batch)


# ----------------------------------------------------------------------------- Ctrl-C
class _StopRequest:
    """While active, the first Ctrl-C (or SIGTERM) only sets ``requested``; the loop finishes
    its step, checkpoints and stops. A second Ctrl-C interrupts at once."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __enter__(self):
        self.requested = None
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                sig = getattr(signal, name, None)
                if sig is not None:
                    self.previous[sig] = signal.signal(sig, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.requested is not None:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, prev in self.previous.items():
            signal.signal(sig, prev if prev is not None else signal.SIG_DFL)


# ----------------------------------------------------------------------------- log
def _append_log(path, rows, fields=LOG_FIELDS):
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(fields)
        w.writerows(rows)


def _stats_columns(path, figures):
    """The figure columns of ``stats.csv``: those of its header if it exists (a figure that
    appears later has no column), else the figures' names, sorted."""
    if os.path.exists(path):
        with open(path, newline="") as f:
            return next(csv.reader(f))[2:]
    return sorted(figures)


def _truncate_log(path, step):
    """Drop log rows written after ``step`` (by a run that died after its last checkpoint)."""
    if not os.path.exists(path):
        return
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f)]
    header, rows = rows[0], rows[1:]
    keep = [r for r in rows if r and int(r[0]) <= step]
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(keep)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- the loop
def _generator_state(loader):
    g = getattr(loader, "generator", None)
    return None if g is None else g.bit_generator.state


def fit(model, optimizer, train_loader, epochs, *, test_loader=None, out=None, scheduler=None,
        checkpoint_every=500, eval_every=None, log_every=10, resume=False, meta=None,
        max_steps=None, callback=None, progress=True, desc="train", grad_clip=None, epoch_end=None):
    """Train ``model`` for ``epochs`` epochs: each step is ``training_step`` (the model's
    ``loss(*batch)`` and one optimizer, or its own ``train_step(batch, optimizers)``).

    Args:
        optimizer: one ``Optimizer``, a dict of them by name (for ``train_step``), or None.
        train_loader: a ``DataLoader``. If it shuffles it must have its own ``generator``
            (an int seed), so that a resumed run can redraw the same order.
        test_loader: evaluated (mean ``model.loss``) at each epoch end and every ``eval_every``
            steps; the best test loss also writes ``best.npz``.
        out: the run folder for ``last.npz``, ``best.npz`` and ``log.csv`` (None: no files).
        scheduler: stepped once after every optimizer step; saved in the checkpoint.
        checkpoint_every: write ``last.npz`` every this many steps (and at the end, and on
            Ctrl-C / SIGTERM, after finishing the current step).
        resume: continue from ``out/last.npz``; the checkpoint's meta must match ``meta``.
        meta: a dict of JSON values saved with each checkpoint and checked on resume
            (e.g. ``{'model': 'vae', 'data': 'mnist'}``).
        max_steps: stop after this many steps in total (default: ``epochs`` full epochs).
        callback: ``callback(step, loss)`` after every step; raising ``KeyboardInterrupt``
            from it stops the run like Ctrl-C does.
        grad_clip: clip the gradients' total 2-norm to this before each optimizer step.
        epoch_end: ``epoch_end(epoch)`` after each epoch (and its checkpoint), e.g. to draw
            a sample grid; it must not draw from minigen's generator, or a resumed run would
            differ from an unbroken one.

    A model whose ``train_step`` returns a dict of figures (a GAN's D(x), D(G(z)), both
    losses, gradient norms) has each of them averaged over ``log_every`` steps and written
    to ``stats.csv``; its ``'loss'`` entry (or its first) is the loss of ``log.csv``.

    Returns:
        a dict: ``step``, ``epoch``, ``history`` (``{'train': [(step, loss)], 'test': [...]}``),
        ``interrupted`` (None, or what stopped the run), ``checkpoint`` (path of last.npz),
        ``seconds`` (training time, summed over resumed runs).
    """
    from tqdm.auto import tqdm

    gen = getattr(train_loader, "generator", None)
    if getattr(train_loader, "shuffle", False) and gen is None:
        raise ValueError("fit: a shuffling DataLoader needs its own generator= (an int seed) so that "
                         "a resumed run sees the same batches")
    if resume and out is None:
        raise ValueError("fit: resume=True needs the run folder out=")
    steps_per_epoch = len(train_loader)
    total = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
    last = os.path.join(out, LAST) if out else None
    log = os.path.join(out, LOG) if out else None
    stats_log = os.path.join(out, STATS) if out else None
    if out:
        os.makedirs(out, exist_ok=True)

    step = epoch = batch = 0
    running, n_running = 0.0, 0
    figures = {}              # a train_step dict's entries summed since the last log row
    history = {"train": [], "test": []}
    best, elapsed = float("inf"), 0.0
    # the shuffling generator's state at the start of the current epoch: redrawing the epoch's
    # order from it, then skipping `batch` batches, puts a resumed run where this one stopped
    loader_rng = _generator_state(train_loader)
    if resume:
        if not os.path.exists(last):
            raise FileNotFoundError(f"fit: nothing to resume: no checkpoint {last}")
        ckpt = load_checkpoint(last, model, optimizer, scheduler, expect=meta)
        step, epoch, batch = ckpt["step"], ckpt["epoch"], ckpt["batch"]
        history = {k: [tuple(r) for r in numpy.asarray(v).reshape(-1, 2).tolist()]
                   for k, v in ckpt["history"].items()}
        best, elapsed, loader_rng = ckpt["best"], ckpt["elapsed_s"], ckpt["loader_rng"]
        running, n_running = ckpt["running"]      # the loss summed since the last log row
        figures = {k: float(v) for k, v in (ckpt.get("figures") or {}).items()}
        if gen is not None:
            gen.bit_generator.state = loader_rng
        B.set_rng_state(ckpt["rng"])
        if log:
            _truncate_log(log, step)
            _truncate_log(stats_log, step)

    def checkpoint(path):
        if path is None:
            return
        save_checkpoint(
            path, model, optimizer, scheduler, meta=meta,
            step=step, epoch=epoch, batch=batch, rng=B.get_rng_state(), loader_rng=loader_rng,
            history={k: numpy.asarray(v, dtype=numpy.float64).reshape(-1, 2) for k, v in history.items()},
            best=best, elapsed_s=elapsed, running=[running, n_running], figures=dict(figures))

    device = _model_device(model)
    model.train()
    bar = tqdm(total=total, initial=step, desc=desc, unit="step", disable=not progress,
               dynamic_ncols=True, file=sys.stderr)
    interrupted, pending, t0 = None, [], time.perf_counter()
    consistent = True         # False while a step is half done (Ctrl-C then saves nothing)
    try:
        with _StopRequest() as stop:
            while step < total:
                epoch_rng = _generator_state(train_loader)
                batches = iter(train_loader)             # draws this epoch's order from epoch_rng
                for _ in range(batch):                   # resumed mid-epoch: skip what was done
                    next(batches)
                for data in batches:
                    consistent = False
                    stats = training_step(model, optimizer, _on(data, device), grad_clip)
                    if scheduler is not None:
                        scheduler.step()
                    step, batch = step + 1, batch + 1
                    if batch == steps_per_epoch:
                        epoch, batch = epoch + 1, 0

                    value = _loss_value(stats)
                    running, n_running = running + value, n_running + 1
                    if isinstance(stats, dict):
                        for k, v in stats.items():
                            figures[k] = figures.get(k, 0.0) + float(v)
                    bar.update(1)
                    if step % log_every == 0 or step == total:
                        history["train"].append((step, running / n_running))
                        pending.append([step, epoch, "train", f"{running / n_running:.6g}", ""])
                        bar.set_postfix(loss=f"{running / n_running:.4g}", refresh=False)
                        if figures and stats_log:
                            names = _stats_columns(stats_log, figures)
                            _append_log(stats_log, [[step, epoch] + [f"{figures[k] / n_running:.6g}" if k in figures
                                                                     else "" for k in names]],
                                        fields=["step", "epoch"] + names)
                        running, n_running, figures = 0.0, 0, {}
                    is_best = False
                    if test_loader is not None and (batch == 0 or (eval_every and step % eval_every == 0)):
                        test = evaluate_loss(model, test_loader)
                        history["test"].append((step, test))
                        pending.append([step, epoch, "test", f"{test:.6g}", ""])
                        bar.set_postfix(loss=f"{history['train'][-1][1] if history['train'] else value:.4g}",
                                        test=f"{test:.4g}", refresh=False)
                        is_best = test < best
                        best = min(best, test)
                    elapsed_now = elapsed + time.perf_counter() - t0
                    if pending and log:
                        for row in pending:
                            row[4] = f"{elapsed_now:.3f}"
                        _append_log(log, pending)
                    pending = []
                    # at an epoch's end the next order is not drawn yet: the generator is at its start
                    loader_rng = _generator_state(train_loader) if batch == 0 else epoch_rng
                    consistent = True
                    if callback is not None:
                        callback(step, value)
                    interrupted = stop.requested
                    if last and (is_best or interrupted or step == total or step % checkpoint_every == 0):
                        elapsed, t0 = elapsed_now, time.perf_counter()
                        if is_best:
                            checkpoint(os.path.join(out, BEST))
                        if interrupted or step == total or step % checkpoint_every == 0:
                            checkpoint(last)
                    if epoch_end is not None and batch == 0:
                        epoch_end(epoch)
                    if interrupted or step >= total:
                        break
                if interrupted:
                    break
    except KeyboardInterrupt:
        interrupted = "KeyboardInterrupt"
        if consistent:        # between steps: save; mid-step: keep the last checkpoint
            elapsed, t0 = elapsed + time.perf_counter() - t0, time.perf_counter()
            checkpoint(last)
        else:
            last = last if last and os.path.exists(last) else None
    finally:
        bar.close()
    return {"step": step, "epoch": epoch, "history": history, "interrupted": interrupted,
            "checkpoint": last, "seconds": elapsed + time.perf_counter() - t0,
            "best_test": best if best < float("inf") else None}


# ----------------------------------------------------------------------------- a whole run
def _run_meta(name, data, variant, model, options):
    config = model.config() if hasattr(model, "config") else {}
    return {"model": name, "data": data, "variant": variant, "config": config, "options": options}


def run_recipe(name, data=None, variant=None, quick=False):
    """The resolved recipe of the registered model ``name`` for ``data`` and ``variant``."""
    from minigen.models import registry

    entry = registry.get(name)
    if data is not None and data not in registry.DATASETS:
        raise ValueError(f"{name}: unknown --data {data!r}; choose from {', '.join(sorted(registry.DATASETS))}")
    variant = variant or entry.recipe.for_data(data or entry.recipe.data).variants[0]
    if variant not in entry.recipe.variants:
        raise ValueError(f"{name}: unknown --variant {variant!r}; choose from {', '.join(entry.recipe.variants)}")
    if data is not None and data not in registry.DATASETS:
        raise ValueError(f"{name}: unknown --data {data!r}; choose from {', '.join(sorted(registry.DATASETS))}")
    return entry, variant, entry.recipe.resolve(data, variant, quick=quick)


def train_model(name="vae", data=None, variant=None, epochs=None, batch_size=None, lr=None,
                device="cpu", seed=0, out=None, resume=False, max_steps=None, eval_k=100,
                checkpoint_every=500, progress=True, pictures=True, callback=None, log=print,
                quick=False, steps=None, overrides=()):
    """Train the registered model ``name`` with its recipe's defaults, as ``minigen train`` does.

    ``overrides``: on ``resume``, the settings changed from the run's own, as ``(name, old,
    new)`` triples (``minigen train --resume --override``); config.json records them.

    ``steps`` (or the recipe's) trains that many steps instead of ``epochs`` epochs;
    ``max_steps`` stops a run early (a quick try; the schedule is unchanged); ``quick`` applies
    the recipe's ``--quick`` overrides (tiny sizes, a few steps).

    Writes into ``out``: ``last.npz`` / ``best.npz`` (checkpoints), ``log.csv``, ``config.json``,
    ``results.json`` (final metrics) and the pictures and samples. Returns a dict with the final
    metrics, the ``fit`` result and the paths written.
    """
    import minigen
    from minigen.models import registry
    from minigen.models.datasets import RunData

    entry, variant, recipe = run_recipe(name, data, variant, quick)
    steps = recipe.steps if steps is None else steps
    batch_size = recipe.batch_size if batch_size is None else batch_size
    lr = recipe.lr if lr is None else lr
    recipe = dataclasses.replace(recipe, lr=lr, batch_size=batch_size)
    B.get_backend(device)   # a clear error now if the device is missing

    minigen.manual_seed(seed)
    options = dict(recipe.model_options)
    model = entry.build(recipe.data, variant, **options).to(device)
    optimizer = make_optimizers(model, recipe)
    spec = registry.DATASETS[recipe.data]
    train_loader, test_loader = spec.loaders(batch_size, seed=seed, device=device, **recipe.data_options)
    data = RunData(spec, train_loader, test_loader)
    if steps is not None:
        # train by steps: enough epochs to hold them, stopped at `steps`
        epochs = -(-steps // len(train_loader))
        max_steps = steps if max_steps is None else min(steps, max_steps)
    else:
        epochs = recipe.epochs if epochs is None else epochs
    data.epochs = epochs
    scheduler = None
    if recipe.schedule is not None:
        from .optim import Optimizer, lr_scheduler
        if recipe.schedule != "cosine" or not isinstance(optimizer, Optimizer):
            raise ValueError(f"{name}: recipe schedule must be None or 'cosine' (with one optimizer), "
                             f"got {recipe.schedule!r}")
        total = steps if steps is not None else epochs * len(train_loader)   # max_steps cuts a run short only
        scheduler = make_scheduler(optimizer, total, recipe.warmup)
    meta = _run_meta(name, recipe.data, variant, model, options)
    config = dict(meta, epochs=epochs, steps=steps, batch_size=batch_size, lr=lr,
                  optimizer=recipe.optimizer if isinstance(recipe.optimizer, (str, type(None))) else "custom",
                  device=str(device), seed=seed, max_steps=max_steps, quick=bool(quick))
    os.makedirs(out, exist_ok=True)
    config_path = os.path.join(out, "config.json")
    if resume and overrides and os.path.exists(config_path):
        # settings changed on resume (--override): config.json says so, and holds the new ones
        with open(config_path) as f:
            before = json.load(f)
        config["overrides"] = before.get("overrides", []) + [
            {k: {"was": old, "now": new} for k, old, new in overrides}]
    if not resume or overrides:
        from .io import atomic_write_bytes
        atomic_write_bytes(config_path, json.dumps(config, indent=2).encode())

    epoch_end = None
    if recipe.every_epoch is not None and pictures:
        def epoch_end(epoch):
            recipe.every_epoch(model, out, data, epoch)
    result = fit(model, optimizer, train_loader, epochs, scheduler=scheduler,
                 test_loader=test_loader if hasattr(model, "loss") else None, out=out,
                 resume=resume, meta=meta, max_steps=max_steps, checkpoint_every=checkpoint_every,
                 eval_every=recipe.eval_every, callback=callback, progress=progress,
                 desc=f"{name} {recipe.data}", grad_clip=recipe.grad_clip, epoch_end=epoch_end)
    report = {"fit": result, "model": model, "out": out, "metrics": {}, "pictures": [], "data": data}
    if result["interrupted"]:
        return report

    t = time.perf_counter()
    metrics = {"train_seconds": round(result["seconds"], 3), "steps": result["step"],
               "ms_per_step": round(1000 * result["seconds"] / max(result["step"], 1), 3)}
    model.eval()
    if recipe.evaluate is not None:
        log(f"evaluating on the {len(test_loader.dataset)} test examples ...")
        metrics.update(recipe.evaluate(model, data, k=eval_k))
    if pictures:
        from . import plots
        unit = "nats per character" if spec.kind == "text" else "nats per example"
        paths = [plots.save_loss_curves(result["history"], os.path.join(out, "loss.png"),
                                        ylabel=f"loss ({unit})", title=f"{name} on {recipe.data}")]
        if recipe.pictures is not None:
            paths += recipe.pictures(model, out, data)
        report["pictures"] = paths
    metrics["eval_seconds"] = round(time.perf_counter() - t, 3)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(dict(config=config, **metrics), f, indent=2)
    report["metrics"] = metrics
    return report
