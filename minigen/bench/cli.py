"""``minigen bench``: time every workload on every device minigen can use, beside PyTorch.

    minigen bench [--device cpu|cuda|all] [--threads N] [--quick] [--only NAME]
                  [--vs-torch] [--out DIR]

Writes ``bench-<time>[-quick].json`` and ``.md`` (and the scaling charts as PNG) to ``--out``
(default ``runs/bench``, a run folder beside the training runs, outside the source tree's
committed ``benchmarks/results``) and prints each workload as it finishes. When the repeats
spread widely or the machine was loaded, it says so: the figures then mean little. Returns 0, or 1 if a
workload raised an error (a missing layer or device is "unavailable", which is not an error).
"""
from __future__ import annotations

import argparse
import datetime
import gc
import os
import sys
import time

from .harness import Lib, Unavailable, cuda_status, describe_error, lib_available, peak_memory, \
    time_cases
from .machine import describe_machine, gemm_peak, pin_threads
from .profile import profile_step, torch_parts
from .report import SCHEMA, console_line, parts_line, write_json, write_markdown
from .scaling import draw_curve, run_curve, scaling_curves
from .workloads_models import model_workloads
from .workloads_ops import op_workloads

__all__ = ["main", "run", "parse_args", "settings_for"]


def parse_args(argv):
    argv = list(argv)
    p = argparse.ArgumentParser(
        prog="minigen bench",
        description="Time minigen's ops and model training steps on each device (and PyTorch "
                    "beside it with --vs-torch); write JSON, a markdown table and charts.")
    p.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                   help="device(s) to time; 'all' = cpu and, when CuPy sees a GPU, cuda")
    p.add_argument("--threads", type=int, default=None,
                   help="pin NumPy's BLAS (threadpoolctl), minigen's own host threads and "
                        "torch to N threads")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes, few repeats: under a minute (what CI runs)")
    p.add_argument("--only", action="append", default=None, metavar="NAME",
                   help="run only workloads / scaling curves whose name contains NAME "
                        "(repeatable, or comma-separated)")
    p.add_argument("--vs-torch", action="store_true",
                   help="also time the same workloads in PyTorch on the same device")
    p.add_argument("--out", default=os.path.join("runs", "bench"),
                   help="directory for results (default: runs/bench; the project's committed "
                        "figures live in benchmarks/results)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="'wall' (default) or 'cpu': the process's CPU time, which other "
                        "processes' load does not inflate (CPU device, --threads 1 only)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per workload")
    p.add_argument("--no-scaling", action="store_true", help="skip the scaling curves")
    p.add_argument("--no-profile", action="store_true", help="skip the per-op profiles")
    args = p.parse_args(argv)
    args._argv = argv
    return args


def settings_for(quick, repeats=None):
    """Timing settings: (time_cases kwargs, memory trials, GEMM-peak sizes, profile steps)."""
    if quick:
        timing = dict(warmup=2, repeats=3, min_time=0.002, max_case_time=1.0)
        return timing, 1, (256,), 1
    timing = dict(warmup=3, repeats=9, min_time=0.05, max_case_time=20.0)
    if repeats:
        timing["repeats"] = repeats
    return timing, 3, (1024, 2048), 3


def _selected(name, only):
    return not only or any(tok.lower() in name.lower() for tok in only)


def _missing_layer(e):
    """An AttributeError that says a minigen module lacks a name (a layer still being written)."""
    msg = str(e)
    return msg.startswith("module 'minigen") and "has no attribute" in msg


def _row(w, device, lib_name, status, reason=None):
    return {"workload": w.name, "group": w.group, "description": w.description,
            "params": w.params, "device": device, "lib": lib_name, "status": status,
            "reason": reason, "time_s": None, "flops": None, "gflops": None,
            "peak_fraction": None, "memory": None, "ratio_to_torch": None,
            "ratio_to_torch_min": None, "ratio_to_numpy": None, "ratio_to_numpy_min": None,
            "us_per_op": None}


def _run_workload(w, device, libs, timing, mem_trials, peak, profile, log):
    rows, cases = {}, []
    for lib_name in w.libs:
        if lib_name not in libs:
            continue
        ok, why = lib_available(lib_name, device)
        if not ok:
            rows[lib_name] = _row(w, device, lib_name, "unavailable", why)
            continue
        try:
            lib = Lib(lib_name, device)
            cases.append((lib_name, lib, w.make(lib)))
            rows[lib_name] = _row(w, device, lib_name, "ok")
        except (Unavailable, NotImplementedError) as e:
            rows[lib_name] = _row(w, device, lib_name, "unavailable", str(e) or type(e).__name__)
        except AttributeError as e:
            if _missing_layer(e):  # e.g. a registered model built from a layer not written yet
                rows[lib_name] = _row(w, device, lib_name, "unavailable",
                                      f"{e} (not implemented yet)")
            else:
                msg, tb = describe_error(e)
                rows[lib_name] = dict(_row(w, device, lib_name, "error", msg), traceback=tb)
        except Exception as e:
            msg, tb = describe_error(e)
            rows[lib_name] = dict(_row(w, device, lib_name, "error", msg), traceback=tb)
    # one workload, one FLOP count: a twin that does not count its own shares minigen's
    shared = next((c.flops for _, _, c in cases if c.flops), None)
    for _, _, c in cases:
        c.flops = c.flops or shared
    times = time_cases([(lib, c) for _, lib, c in cases], **timing)
    for (lib_name, lib, case), t in zip(cases, times):
        r = rows[lib_name]
        if "error" in t:
            r.update(status="error", reason=t["error"], traceback=t["traceback"])
            continue
        r["time_s"] = t
        r["flops"] = case.flops
        if case.flops:
            r["gflops"] = case.flops / t["median"] / 1e9
            if peak and peak.get("gflops"):
                r["peak_fraction"] = r["gflops"] / peak["gflops"]
        if "n_ops" in w.params:
            r["us_per_op"] = t["median"] / w.params["n_ops"] * 1e6
        r["memory"] = peak_memory(case, lib, trials=mem_trials)
    med = {k: r["time_s"]["median"] for k, r in rows.items() if r["status"] == "ok"}
    best = {k: r["time_s"]["min"] for k, r in rows.items() if r["status"] == "ok"}
    for k, r in rows.items():
        for peer in ("torch", "numpy"):
            if k in med and k != peer and peer in med:
                # ratio of medians; the ratio of minima (the least disturbed repeats) beside it
                r[f"ratio_to_{peer}"] = med[k] / med[peer]
                r[f"ratio_to_{peer}_min"] = best[k] / best[peer]
    prof = None
    mg = rows.get("minigen")
    if profile and mg is not None and mg["status"] == "ok" and (
            w.group == "model" or (mg["ratio_to_torch"] or 0) > profile):
        lib, case = next((lib, c) for n, lib, c in cases if n == "minigen")
        tiny = None
        try:
            if w.tiny_params:
                tiny = w.make(lib, w.tiny_params)
            prof = profile_step(case, lib, steps=profile_steps(timing), tiny_case=tiny,
                                unprofiled_s=mg["time_s"]["median"], clock=timing["clock"])
            prof["workload"], prof["device"] = w.name, device
            if "torch" in med:
                prof["torch_step_s"] = med["torch"]
                prof["torch_profile"] = _torch_profile(cases, device, timing)
        except Exception as e:
            prof = None
            log(f"  profile failed: {describe_error(e)[0]}")
    del cases
    return list(rows.values()), prof


def _torch_profile(cases, device, timing):
    """PyTorch's parts of the same step (``torch_parts``) on the CPU; on another device, the
    reason there are none."""
    if device != "cpu":
        return {"status": "unavailable",
                "reason": "torch.profiler's CPU times do not show GPU kernels' time"}
    case = next(c for n, _, c in cases if n == "torch")
    try:
        return dict(torch_parts(case, steps=profile_steps(timing)), status="ok")
    except Exception as e:
        return {"status": "error", "reason": describe_error(e)[0]}


def _load_average():
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None


SPREAD_LIMIT = 0.25  # (slowest - fastest) / median of a workload's repeats


def busy_note(results, load_start=None):
    """A sentence when the figures are unreliable: the repeats of some workloads spread by more
    than ``SPREAD_LIMIT`` of their median, or the load average exceeded the CPU count (other
    programs were competing for the cores). None when the run looks clean."""
    spreads = [((r["time_s"]["max"] - r["time_s"]["min"]) / r["time_s"]["median"], r["workload"])
               for r in results if r.get("status") == "ok" and r.get("time_s")
               and r["time_s"]["median"] > 0]
    wide = [s for s in spreads if s[0] > SPREAD_LIMIT]
    loads = [x for x in (load_start, _load_average()) if x is not None]
    cpus = os.cpu_count() or 1
    busy = loads and max(loads) > cpus
    if not wide and not busy:
        return None
    parts = []
    if busy:
        parts.append(f"load average {max(loads):.1f} on {cpus} CPUs")
    if wide:
        worst = max(wide)
        parts.append(f"{len(wide)} of {len(spreads)} workloads' repeats spread by more than "
                     f"{100 * SPREAD_LIMIT:.0f}% of their median (worst {100 * worst[0]:.0f}%: "
                     f"{worst[1]})")
    return ("the machine was busy (" + "; ".join(parts) + "): these times mean little; rerun "
            "on an idle machine, or use --threads 1 --clock cpu")


def profile_steps(timing):
    return 1 if timing["repeats"] <= 3 else 3


def run(args, log=print):
    """Run the benchmark described by parsed ``args``; returns (document, exit code)."""
    only = [t for o in (args.only or []) for t in o.split(",") if t.strip()] or None
    timing, mem_trials, gemm_sizes, _ = settings_for(args.quick, args.repeats)
    timing["clock"] = args.clock
    libs = ["minigen", "numpy"] + (["torch"] if args.vs_torch else [])
    notes = []
    if args.clock == "cpu":
        notes.append("times are the process's CPU seconds (--clock cpu), not wall-clock "
                     "seconds" + ("" if args.threads == 1 else "; without --threads 1 they sum "
                                  "the CPU time of every BLAS/torch thread"))
        if args.device != "cpu":
            notes.append("--clock cpu does not see GPU work: cuda is not timed under it")
    if args.vs_torch:
        ok, why = lib_available("torch", "cpu")
        if not ok:
            notes.append(f"--vs-torch: {why}; PyTorch columns are empty")
    load_start = _load_average()
    pins = pin_threads(args.threads, with_torch=args.vs_torch and "torch" in sys.modules)
    notes += pins.notes
    devices, dev_status = [], []
    for dev in (("cpu", "cuda") if args.device == "all" else (args.device,)):
        if dev == "cpu":
            devices.append(dev)
            dev_status.append({"device": "cpu", "status": "ok", "reason": None})
            continue
        ok, why = cuda_status()
        if ok and args.clock == "cpu":
            ok, why = False, "not timed under --clock cpu (a GPU's work is not CPU time)"
        dev_status.append({"device": dev, "status": "ok" if ok else "unavailable",
                           "reason": why})
        if ok:
            devices.append(dev)
        else:
            log(f"== cuda: unavailable ({why}); nothing is timed or estimated for it")
    workloads = [w for w in op_workloads(args.quick) + model_workloads(args.quick)
                 if _selected(w.name, only)]
    doc = {"schema": SCHEMA, "created": datetime.datetime.now().isoformat(timespec="seconds"),
           "command": ["minigen", "bench"] + list(getattr(args, "_argv", [])),
           "settings": {"quick": args.quick, "threads": args.threads, "devices": args.device,
                        "vs_torch": args.vs_torch, "only": only, **timing},
           "machine": None, "gemm_peak": {}, "results": [], "scaling": [], "profiles": [],
           "charts": [], "notes": notes}
    profile = None if args.no_profile else 1.0
    t_start = time.perf_counter()
    try:
        for st in dev_status:
            if st["status"] != "ok":
                doc["gemm_peak"][st["device"]] = {"status": "unavailable", "reason": st["reason"]}
                for w in workloads:
                    for lib_name in w.libs:
                        if lib_name in libs:
                            doc["results"].append(_row(w, st["device"], lib_name, "unavailable",
                                                       f"device unavailable: {st['reason']}"))
        for dev in devices:
            peak = gemm_peak(dev, sizes=gemm_sizes, min_time=0.02 if args.quick else 0.3,
                             clock=args.clock)
            doc["gemm_peak"][dev] = peak
            log(f"== {dev}: GEMM peak {peak['gflops']:.1f} GFLOP/s ({peak['library']}, "
                f"n={peak['n']})")
            for w in workloads:
                log(f"{w.name} [{dev}]")
                rows, prof = _run_workload(w, dev, libs, timing, mem_trials, peak, profile, log)
                log(console_line(rows))
                doc["results"] += rows
                if prof is not None:
                    doc["profiles"].append(prof)
                    b = prof["buckets_fraction"]
                    log("  profile: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in b.items()))
                    if prof.get("torch_profile", {}).get("status") == "ok":
                        log("  parts, minigen / torch: " + parts_line(prof))
                gc.collect()
            again = gemm_peak(dev, sizes=gemm_sizes, min_time=0.02 if args.quick else 0.3,
                              clock=args.clock)
            peak["after_workloads_gflops"] = again["gflops"]
            if again["gflops"] > peak["gflops"]:
                # a busy moment at the start lowered the yardstick: re-read the fractions
                peak.update(gflops=again["gflops"], gflops_median=again["gflops_median"],
                            n=again["n"])
                for r in doc["results"]:
                    if r["device"] == dev and r.get("gflops"):
                        r["peak_fraction"] = r["gflops"] / peak["gflops"]
            if args.no_scaling:
                continue
            for name, x_name, xs, build in scaling_curves(args.quick):
                if only and not _selected("scaling:" + name, only):
                    continue
                doc["scaling"] += run_curve(name, x_name, xs, build, dev,
                                            [n for n in libs if n != "numpy"], timing,
                                            mem_trials=1, log=log)
                gc.collect()
        # described while the thread limits are still in force, so the BLAS line shows them
        doc["machine"] = describe_machine(dev_status, torch_loaded=args.vs_torch)
    finally:
        pins.release()
    doc["wall_s"] = time.perf_counter() - t_start
    os.makedirs(args.out, exist_ok=True)
    base = "bench-" + time.strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    for name in dict.fromkeys(s["curve"] for s in doc["scaling"]):
        chart = f"{base}-scaling-{name}.png"
        try:
            if draw_curve([s for s in doc["scaling"] if s["curve"] == name],
                          os.path.join(args.out, chart)):
                doc["charts"].append(chart)
        except Exception as e:
            notes.append(f"chart {chart} not drawn: {describe_error(e)[0]}")
    doc["json_path"] = write_json(doc, os.path.join(args.out, base + ".json"))
    doc["markdown_path"] = write_markdown(doc, os.path.join(args.out, base + ".md"))
    write_json(doc, doc["json_path"])
    errors = [r for r in doc["results"] if r["status"] == "error"]
    busy = busy_note(doc["results"], load_start)
    if busy:
        notes.append(busy)
        write_json(doc, doc["json_path"])
        write_markdown(doc, doc["markdown_path"])
        log("note: " + busy)
    log(f"wrote {doc['json_path']} and {doc['markdown_path']} ({doc['wall_s']:.1f} s)")
    for r in errors:
        log(f"ERROR {r['workload']} [{r['device']}, {r['lib']}]: {r['reason']}")
    return doc, (1 if errors else 0)


def main(argv=None):
    """Entry point of ``minigen bench``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.vs_torch:
        try:
            import torch  # noqa: F401  (before pinning threads, so threadpoolctl sees it)
        except ImportError:
            pass
    _, code = run(args)
    return code
