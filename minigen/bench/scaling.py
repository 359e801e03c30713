"""Scaling curves: time and peak memory of a workload as one size grows, with the fitted
growth exponent, written to JSON and drawn as PNG charts.

If time grows as ``t = c x^p``, then ``log t = log c + p log x``: the exponent ``p`` is the slope
of a least-squares line through the points on log-log axes. ``exponent`` fits every point;
``tail_exponent`` fits the last three, which is what the curve tends to once fixed per-call
costs stop dominating. Reading them: a GEMM-bound step grows linearly in batch (p = 1) and
quadratically in width (p = 2); attention's score matrix makes it quadratic in sequence length;
a step dominated by Python overhead grows slower than its FLOPs (p well below the FLOP exponent)
because the per-op cost does not depend on the size.

Curves: ``mlp-batch`` and ``mlp-width`` (Linear(d, 4d), ReLU, Linear(4d, d), fwd+bwd),
``attention-T`` (causal scaled_dot_product_attention fwd+bwd) and ``gpt-batch`` (the GPT-style
training step of workloads_models against batch size).
"""
from __future__ import annotations

import math

from .harness import Case, Lib, Unavailable, lib_available, peak_memory, time_cases
from .workloads_models import GPT_FULL, GPT_QUICK, build_gpt
from .workloads_ops import build_attention

__all__ = ["scaling_curves", "run_curve", "fit_exponent", "draw_curve"]


def build_mlp(lib, batch, d):
    """y = Linear(4d -> d)(relu(Linear(d -> 4d)(x))) on [batch, d], fwd+bwd."""
    if lib.name == "numpy":
        raise Unavailable("no bare version")
    lib.need("nn.Linear")
    lib.seed(0)
    fc1 = lib.to_device(lib.nn.Linear(d, 4 * d))
    fc2 = lib.to_device(lib.nn.Linear(4 * d, d))
    params = list(fc1.parameters()) + list(fc2.parameters())
    x = lib.randn(batch, d, requires_grad=True)
    g = lib.randn(batch, d)
    relu = lib.F.relu

    def step():
        x.grad = None
        for p in params:
            p.grad = None
        fc2(relu(fc1(x))).backward(g)
    # two products of 2*B*d*4d each, forward; fwd+bwd = 3x
    return Case(step, flops=3 * 2 * 2.0 * batch * d * 4 * d)


def scaling_curves(quick=False):
    """(name, x_name, [x values], build(lib, x) -> Case) for each curve."""
    gpt = dict(GPT_QUICK if quick else GPT_FULL)

    def gpt_at(lib, b):
        return build_gpt(lib, **dict(gpt, batch=b))
    att = dict(batch=2, heads=2, d=16) if quick else dict(batch=8, heads=4, d=32)
    return [
        ("mlp-batch", "batch", [8, 32] if quick else [16, 64, 256, 1024],
         lambda lib, b: build_mlp(lib, batch=b, d=32 if quick else 256)),
        ("mlp-width", "d", [16, 64] if quick else [64, 128, 256, 512, 1024],
         lambda lib, d: build_mlp(lib, batch=8 if quick else 64, d=d)),
        ("attention-T", "T", [16, 32, 64] if quick else [64, 128, 256, 512, 1024],
         lambda lib, T: build_attention(lib, T=T, **att)),
        ("gpt-batch", "batch", [1, 2] if quick else [1, 2, 4, 8, 16, 32], gpt_at),
    ]


def fit_exponent(xs, ys):
    """Slope of log y against log x (least squares); None with fewer than two usable points."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x and y and y > 0]
    if len(pts) < 2:
        return None
    n = len(pts)
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def run_curve(name, x_name, xs, build, device, libs, timing, mem_trials=1, log=print):
    """Measure one curve on one device for each library; returns a list of series dicts."""
    series = {}
    for lib_name in libs:
        ok, why = lib_available(lib_name, device)
        series[lib_name] = {"curve": name, "x_name": x_name, "device": device,
                            "lib": lib_name, "points": [],
                            "status": "ok" if ok else "unavailable", "reason": why or None}
    for x in xs:
        cases = []
        for lib_name in libs:
            s = series[lib_name]
            if s["status"] != "ok":
                continue
            lib = Lib(lib_name, device)
            try:
                cases.append((lib_name, lib, build(lib, x)))
            except Unavailable as e:
                s["status"], s["reason"] = "unavailable", str(e)
            except Exception as e:
                s["status"], s["reason"] = "error", f"{type(e).__name__}: {e}"
        times = time_cases([(lib, c) for _, lib, c in cases], **timing)
        for (lib_name, lib, case), t in zip(cases, times):
            s = series[lib_name]
            if "error" in t:
                s["status"], s["reason"] = "error", t["error"]
                continue
            mem = peak_memory(case, lib, trials=mem_trials)
            s["points"].append({"x": x, "time_s": t["median"], "time_min_s": t["min"],
                                "time_max_s": t["max"], "peak_bytes": mem["peak_bytes"],
                                "gflops": case.flops / t["median"] / 1e9 if case.flops else None})
            s["memory_method"] = mem["method"]
        del cases
    out = []
    for s in series.values():
        pts = s["points"]
        xs_ok = [p["x"] for p in pts]
        s["time_exponent"] = fit_exponent(xs_ok, [p["time_s"] for p in pts])
        s["time_tail_exponent"] = fit_exponent(xs_ok[-3:], [p["time_s"] for p in pts[-3:]])
        mems = [p["peak_bytes"] for p in pts]
        s["memory_exponent"] = (fit_exponent(xs_ok, mems)
                                if all(m is not None for m in mems) else None)
        if pts or s["status"] != "ok":
            e = s["time_exponent"]
            log(f"  scaling {name:12s} {device:4s} {s['lib']:8s} "
                + (f"time ~ {x_name}^{e:.2f}" if e is not None else s["status"])
                + (f"  ({s['reason']})" if s.get("reason") else ""))
        out.append(s)
    return out


def draw_curve(series_list, path):
    """One PNG: time (left) and peak memory (right) against x, log-log, one line per series."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    drawn = [s for s in series_list if s["points"]]
    if not drawn:
        return None
    fig = Figure(figsize=(10, 4))
    FigureCanvasAgg(fig)
    ax_t, ax_m = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for s in drawn:
        xs = [p["x"] for p in s["points"]]
        e = s["time_exponent"]
        label = f"{s['lib']} ({s['device']})" + (f", p={e:.2f}" if e is not None else "")
        ax_t.plot(xs, [p["time_s"] * 1e3 for p in s["points"]], marker="o", label=label)
        mem = [p["peak_bytes"] for p in s["points"]]
        if all(m is not None and m > 0 for m in mem):
            em = s["memory_exponent"]
            ax_m.plot(xs, [m / 2 ** 20 for m in mem], marker="o",
                      label=f"{s['lib']} ({s['device']})" + (f", p={em:.2f}" if em else ""))
    name, x_name = drawn[0]["curve"], drawn[0]["x_name"]
    from matplotlib.ticker import FuncFormatter, ScalarFormatter
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    # label the minor ticks at 2 and 5 only (2, 5, 20, 50, ...), so the axis stays readable
    sparse = FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}".lstrip("0.")[:1] in ("2", "5")
                           else "")
    for ax, ylabel in ((ax_t, "median step time (ms)"), (ax_m, "peak memory of a step (MiB)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(sparse)
        ax.tick_params(axis="y", which="minor", labelsize=7)
        ax.set_xlabel(x_name)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(f"scaling: {name} (measured; p = fitted growth exponent)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
