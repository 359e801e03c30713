"""Results: the JSON document, the markdown table and the one-line console summaries.

JSON schema ``minigen-bench/1`` (every time in seconds, every memory figure in bytes)::

    {"schema": "minigen-bench/1", "created": ISO time, "command": [...],
     "settings": {"quick", "threads", "devices", "vs_torch", "only", "warmup", "repeats",
                  "min_time", "max_case_time", "clock": "wall" | "cpu"},
     "machine": {... describe_machine() ...},
     "gemm_peak": {device: {"gflops", "n", "library"} | {"status": "unavailable", "reason"}},
     "results": [{"workload", "group", "description", "params", "device", "lib",
                  "status": "ok" | "unavailable" | "error", "reason",
                  "time_s": {"median", "min", "max", "repeats", "number"} | null,
                  "flops", "gflops", "peak_fraction", "memory": {"peak_bytes", "method"} | null,
                  "ratio_to_torch", "ratio_to_torch_min", "ratio_to_numpy",
                  "ratio_to_numpy_min", "us_per_op"}],
     (ratio_to_X: ratio of medians; ratio_to_X_min: ratio of the fastest repeats)
     "scaling": [{"curve", "x_name", "device", "lib", "status", "reason", "points": [{"x",
                  "time_s", "time_min_s", "time_max_s", "peak_bytes", "gflops"}],
                  "time_exponent", "time_tail_exponent", "memory_exponent"}],
     "profiles": [{"workload", "device", ... profile_step() ...}],
     "charts": [file names], "notes": [...]}
"""
from __future__ import annotations

import json
import os

from .profile import OUTSIDE

__all__ = ["SCHEMA", "RESULT_KEYS", "write_json", "write_markdown", "fmt_time", "console_line",
           "parts_rows", "parts_line"]

SCHEMA = "minigen-bench/1"
RESULT_KEYS = ("workload", "group", "description", "params", "device", "lib", "status",
               "reason", "time_s", "flops", "gflops", "peak_fraction", "memory",
               "ratio_to_torch", "ratio_to_torch_min", "ratio_to_numpy", "ratio_to_numpy_min",
               "us_per_op")


def fmt_time(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def parts_rows(prof):
    """[(part, minigen seconds, torch seconds or None)] for a profile, the biggest parts first
    and "outside the ops" last: the two libraries' times for each part of one step."""
    mine = prof.get("parts_s") or {}
    tp = prof.get("torch_profile") or {}
    theirs = (tp.get("parts_s") or {}) if tp.get("status") == "ok" else {}
    names = sorted((set(mine) | set(theirs)) - {OUTSIDE},
                   key=lambda k: -max(mine.get(k, 0.0), theirs.get(k, 0.0))) + [OUTSIDE]
    return [(k, mine.get(k, 0.0), theirs.get(k, 0.0) if theirs else None) for k in names]


def parts_line(prof, top=5):
    """The biggest parts as one console line: "linear 57.0/60.1 ms, ..."."""
    return ", ".join(f"{k} {1e3 * a:.1f}/{1e3 * b:.1f} ms"
                     for k, a, b in parts_rows(prof)[:top] if b is not None)


def _mib(b):
    return "-" if b is None else f"{b / 2 ** 20:.1f}"


def console_line(rows):
    """One line per library for one workload on one device."""
    lines = []
    for r in rows:
        head = f"  {r['lib']:8s}"
        if r["status"] != "ok":
            lines.append(f"{head} {r['status']} ({r['reason']})")
            continue
        t = r["time_s"]
        bits = [f"{fmt_time(t['median']):>10s} (min {fmt_time(t['min'])}, max "
                f"{fmt_time(t['max'])}, {t['repeats']}x{t['number']})"]
        if r.get("us_per_op") is not None:
            bits.append(f"{r['us_per_op']:.1f} µs/op")
        if r.get("gflops") is not None:
            bits.append(f"{r['gflops']:.1f} GFLOP/s")
        if r.get("peak_fraction") is not None:
            bits.append(f"{100 * r['peak_fraction']:.0f}% of GEMM peak")
        mem = r.get("memory") or {}
        if mem.get("peak_bytes") is not None:
            bits.append(f"mem {_mib(mem['peak_bytes'])} MiB")
        for peer in ("torch", "numpy"):
            if r.get(f"ratio_to_{peer}") is not None:
                bits.append(f"{r[f'ratio_to_{peer}']:.2f}x {peer} "
                            f"(min {r[f'ratio_to_{peer}_min']:.2f}x)")
        lines.append(head + " " + "  ".join(bits))
    return "\n".join(lines)


def write_json(doc, path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, default=str)
    os.replace(tmp, path)
    return path


def _machine_md(m):
    blas = "; ".join(
        f"{b.get('internal_api')} {b.get('version')} (kernel {b.get('architecture')}, "
        f"{b.get('num_threads')} threads)" for b in m.get("blas", []) if b.get("user_api") in
        (None, "blas"))
    devs = ", ".join(f"{d['device']}: {d['status']}" + (f" ({d['reason']})" if d.get("reason")
                                                         else "")
                     for d in m.get("devices", []))
    lines = [
        f"- CPU: {m.get('cpu')} ({m.get('cpus_usable')} usable of {m.get('cpu_count')} cores)",
        f"- BLAS: {blas or 'unknown'}",
        f"- Python {m.get('python')}, NumPy {m.get('numpy')}, minigen {m.get('minigen')}"
        + (f" (git {m['minigen_git']})" if m.get("minigen_git") else "") + ", "
        f"PyTorch {m.get('torch')}" + (f" ({m['torch_threads']} threads)"
                                        if m.get("torch_threads") else ""),
        f"- Devices: {devs}",
        f"- Platform: {m.get('platform')}",
        f"- Host allocator: {m.get('host_allocator', 'unknown')}",
        f"- Host threads: {m.get('host_threads', 'unknown')}",
    ]
    if m.get("env"):
        lines.append("- Environment: " + ", ".join(f"{k}={v}" for k, v in m["env"].items()))
    if m.get("cupy"):
        lines.append(f"- CuPy {m['cupy']}, CUDA runtime {m.get('cuda_runtime')}")
    return "\n".join(lines)


def _cell(r):
    if r is None:
        return "-"
    if r["status"] != "ok":
        return r["status"]
    t = r["time_s"]
    return f"{fmt_time(t['median'])} ({fmt_time(t['min'])}–{fmt_time(t['max'])})"


def write_markdown(doc, path):
    """The results table (one row per workload and device) and the machine description."""
    s = doc["settings"]
    out = [f"# minigen bench: {doc['created']}", "",
           f"Command: `{' '.join(doc['command'])}`  ",
           f"Settings: quick={s['quick']}, threads={s['threads']}, vs_torch={s['vs_torch']}, "
           f"clock={s.get('clock', 'wall')}, warm-up {s['warmup']}, repeats {s['repeats']}. "
           "All figures measured in this run; times are medians (min–max) of repeats taken "
           "in turns by the libraries.", "", "## Machine", "",
           _machine_md(doc["machine"]), "", "## GEMM peak (bare array library, float32)", ""]
    for dev, p in doc["gemm_peak"].items():
        if "gflops" in p:
            out.append(f"- {dev}: {p['gflops']:.1f} GFLOP/s ({p['library']}, n={p['n']})")
        else:
            out.append(f"- {dev}: {p.get('status')} ({p.get('reason')})")
    out += ["", "## Workloads", "",
            "| workload | device | minigen | torch | minigen / torch (of min) | numpy "
            "| minigen / numpy (of min) "
            "| GFLOP/s minigen (torch) | % of GEMM peak | peak MiB minigen (torch) | note |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    groups = {}
    for r in doc["results"]:
        groups.setdefault((r["workload"], r["device"]), {})[r["lib"]] = r
    for (name, dev), by in groups.items():
        mg, th, npy = by.get("minigen"), by.get("torch"), by.get("numpy")
        note = []
        for r in (mg, th, npy):
            if r is not None and r["status"] != "ok":
                note.append(f"{r['lib']}: {r['reason']}")
        if mg and mg.get("us_per_op") is not None:
            note.insert(0, f"{mg['us_per_op']:.1f} µs/op minigen" + (
                f", {th['us_per_op']:.1f} torch" if th and th.get("us_per_op") else ""))
        gf = "-"
        if mg and mg.get("gflops") is not None:
            gf = f"{mg['gflops']:.1f}" + (f" ({th['gflops']:.1f})" if th and th.get("gflops")
                                          else "")
        frac = f"{100 * mg['peak_fraction']:.0f}%" if mg and mg.get("peak_fraction") else "-"
        mem = "-"
        if mg and (mg.get("memory") or {}).get("peak_bytes") is not None:
            mem = _mib(mg["memory"]["peak_bytes"])
            if th and (th.get("memory") or {}).get("peak_bytes") is not None:
                mem += f" ({_mib(th['memory']['peak_bytes'])})"
        rt = f"{mg['ratio_to_torch']:.2f}x ({mg['ratio_to_torch_min']:.2f}x)" \
            if mg and mg.get("ratio_to_torch") else "-"
        rn = f"{mg['ratio_to_numpy']:.2f}x ({mg['ratio_to_numpy_min']:.2f}x)" \
            if mg and mg.get("ratio_to_numpy") else "-"
        out.append(f"| {name} | {dev} | {_cell(mg)} | {_cell(th)} | {rt} | {_cell(npy)} | {rn} "
                   f"| {gf} | {frac} | {mem} | {'; '.join(note)} |")
    if doc.get("scaling"):
        out += ["", "## Scaling (fitted exponent p of time ~ x^p; tail = last 3 points)", "",
                "| curve | device | lib | x | time p (tail) | memory p | points (x: time) |",
                "|---|---|---|---|---|---|---|"]
        for c in doc["scaling"]:
            e, et, em = c.get("time_exponent"), c.get("time_tail_exponent"), \
                c.get("memory_exponent")
            pts = ", ".join(f"{p['x']}: {fmt_time(p['time_s'])}" for p in c["points"])
            out.append(f"| {c['curve']} | {c['device']} | {c['lib']} | {c['x_name']} | "
                       + (f"{e:.2f} ({et:.2f})" if e is not None and et is not None else
                          c["status"] if c["status"] != "ok" else "-")
                       + f" | {'-' if em is None else f'{em:.2f}'} | {pts or c.get('reason')} |")
    for p in doc.get("profiles", []):
        b, fr = p["buckets_s"], p["buckets_fraction"]
        out += ["", f"## Profile: {p['workload']} ({p['device']}, minigen)", "",
                f"Unprofiled step {fmt_time(p.get('unprofiled_step_s'))}, profiled "
                f"{fmt_time(p['profiled_step_s'])}, {p['op_calls']} op calls; "
                + (f"same graph on tiny tensors: {fmt_time(p['tiny_replay_s'])}. "
                   if p.get("tiny_replay_s") else "")
                + ("torch: " + fmt_time(p["torch_step_s"]) + "." if p.get("torch_step_s")
                   else ""), "",
                "| bucket | time | share |", "|---|---|---|"]
        for k in ("gemm", "other_ops", "engine", "outside_ops"):
            out.append(f"| {k} | {fmt_time(b[k])} | {100 * fr.get(k, 0):.0f}% |")
        if p.get("parts_s"):
            tp = p.get("torch_profile") or {}
            ok = tp.get("status") == "ok"
            out += ["", "Where the step's time goes, part by part"
                    + (f" (PyTorch's profile of the same step: torch.profiler, self times; "
                       f"profiled steps: minigen {fmt_time(p['profiled_step_s'])}, PyTorch "
                       f"{fmt_time(tp['profiled_step_s'])}):" if ok else
                       f" (PyTorch: {tp['reason']}):" if tp.get("reason") else ":"), "",
                    "| part | minigen | PyTorch | ratio |", "|---|---|---|---|"]
            for k, a, b in parts_rows(p):
                ratio = f"{a / b:.2f}x" if b else "-"
                out.append(f"| {k} | {fmt_time(a)} | {fmt_time(b)} | {ratio} |")
        out += ["", "| op | calls | forward | backward | engine | kind |",
                "|---|---|---|---|---|---|"]
        for r in p["ops"]:
            out.append(f"| {r['op']} | {r['calls']} | {fmt_time(r['forward_s'])} | "
                       f"{fmt_time(r['backward_s'])} | {fmt_time(r['engine_s'])} | {r['kind']} |")
    if doc.get("charts"):
        out += ["", "## Charts", ""] + [f"- ![{c}]({c})" for c in doc["charts"]]
    if doc.get("notes"):
        out += ["", "## Notes", ""] + [f"- {n}" for n in doc["notes"]]
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return path
