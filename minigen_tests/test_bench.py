"""The benchmark harness's code path (minigen.bench), in quick mode, on 'cpu' and on the
(simulated, on machines without a GPU) 'cuda' device.

These tests check what the harness *does*: the JSON it writes follows its schema, a missing
layer or device is reported as unavailable and never crashes the run, the timer calls each step
the number of times it says, the profiler attributes ops and restores the engine, the memory
probe sees an allocation. They assert no speed figure: speed is measured by the benchmark
itself (``minigen bench``), never in a test.
"""
import json
import os

import numpy as np
import pytest

import minigen
from minigen.autograd import Function
from minigen.bench import cli, harness, report, scaling, workloads_models
from minigen.bench.harness import Case, Lib, Unavailable, Workload
from minigen.bench.profile import OpProfiler


def _quick(tmp_path, *extra):
    args = cli.parse_args(["--quick", "--out", str(tmp_path), *extra])
    return cli.run(args, log=lambda *a: None)


def _check_result_row(r):
    assert set(report.RESULT_KEYS) <= set(r), sorted(set(report.RESULT_KEYS) - set(r))
    assert r["status"] in ("ok", "unavailable", "error")
    assert r["lib"] in ("minigen", "torch", "numpy")
    if r["status"] == "ok":
        t = r["time_s"]
        assert t["min"] <= t["median"] <= t["max"]
        assert t["min"] > 0 and t["repeats"] >= 1 and t["number"] >= 1
        assert r["memory"]["method"]
    else:
        assert r["reason"] and r["time_s"] is None


def test_quick_run_writes_schema(device, tmp_path):
    doc, code = _quick(tmp_path, "--device", device, "--only", "gemm[n=64],tiny_op,elementwise",
                       "--no-scaling")
    assert code == 0
    with open(doc["json_path"]) as f:
        saved = json.load(f)
    assert saved["schema"] == report.SCHEMA
    for key in ("created", "command", "settings", "machine", "gemm_peak", "results", "scaling",
                "profiles", "charts", "notes"):
        assert key in saved
    assert saved["settings"]["quick"] is True
    assert saved["command"][:2] == ["minigen", "bench"]
    m = saved["machine"]
    assert m["cpu"] and m["numpy"] == np.__version__ and m["minigen"] == minigen.__version__
    assert [d["device"] for d in m["devices"]] == [device]
    assert saved["gemm_peak"][device]["gflops"] > 0
    names = {r["workload"] for r in saved["results"]}
    assert names == {"gemm[n=64]", "tiny_op[exp, float32[4]]", "elementwise[n=65536]"}
    for r in saved["results"]:
        _check_result_row(r)
        assert r["device"] == device
    by = {(r["workload"], r["lib"]): r for r in saved["results"]}
    gemm = by[("gemm[n=64]", "minigen")]
    assert gemm["status"] == "ok" and gemm["flops"] == 2 * 64 ** 3
    assert gemm["gflops"] == pytest.approx(gemm["flops"] / gemm["time_s"]["median"] / 1e9)
    assert gemm["ratio_to_numpy"] == pytest.approx(
        gemm["time_s"]["median"] / by[("gemm[n=64]", "numpy")]["time_s"]["median"])
    assert by[("elementwise[n=65536]", "numpy")]["status"] == "ok"
    assert os.path.exists(doc["markdown_path"])
    md = open(doc["markdown_path"]).read()
    assert "| gemm[n=64] | " + device in md and "## Machine" in md


def test_model_workload_and_profile(device, tmp_path):
    # the GPT-style step at quick size: timed, profiled (or unavailable while layers are missing)
    doc, code = _quick(tmp_path, "--device", device, "--only", "gpt_step", "--no-scaling")
    assert code == 0
    (row,) = [r for r in doc["results"] if r["lib"] == "minigen"]
    _check_result_row(row)
    if row["status"] == "ok":
        (prof,) = doc["profiles"]
        assert prof["device"] == device and prof["op_calls"] > 0
        b = prof["buckets_s"]
        assert set(b) == {"gemm", "other_ops", "engine", "outside_ops"}
        assert sum(b.values()) == pytest.approx(prof["profiled_step_s"], rel=1e-6)
        assert any(r["kind"] == "gemm" for r in prof["ops"])
        assert prof["tiny_replay_s"] > 0
    else:
        assert row["status"] == "unavailable" and "not implemented" in row["reason"]


def test_scaling_curve_json_and_chart(tmp_path):
    doc, code = _quick(tmp_path, "--device", "cpu", "--only", "scaling:attention-T")
    assert code == 0
    assert doc["results"] == []
    (s,) = doc["scaling"]
    assert s["curve"] == "attention-T" and s["x_name"] == "T" and s["lib"] == "minigen"
    if s["status"] == "ok":
        assert [p["x"] for p in s["points"]] == [16, 32, 64]
        assert all(p["time_s"] > 0 for p in s["points"])
        assert s["time_exponent"] is not None
        (chart,) = doc["charts"]
        with open(os.path.join(tmp_path, chart), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_unavailable_device_is_reported_not_estimated(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "cuda_status", lambda: (False, "no GPU on this machine"))
    doc, code = _quick(tmp_path, "--device", "cuda", "--only", "gemm[n=64]", "--no-scaling")
    assert code == 0
    assert doc["gemm_peak"] == {"cuda": {"status": "unavailable",
                                         "reason": "no GPU on this machine"}}
    assert doc["results"] and all(r["status"] == "unavailable" and r["time_s"] is None
                                  for r in doc["results"])
    assert "no GPU on this machine" in doc["results"][0]["reason"]


def test_missing_layer_and_failing_step_never_crash():
    calls = []

    def missing(lib):
        lib.need("nn.NoSuchLayer")

    def broken(lib):
        def step():
            calls.append(1)
            raise ValueError("boom")
        return Case(step)

    def fine(lib):
        return Case(lambda: calls.append(2), flops=10.0)
    timing = dict(warmup=1, repeats=2, min_time=0.0, max_case_time=1.0)
    for build, status, reason in ((missing, "unavailable", "minigen.nn.NoSuchLayer"),
                                  (broken, "error", "ValueError: boom")):
        w = Workload("w", "op", build, {}, libs=("minigen",))
        rows, prof = cli._run_workload(w, "cpu", ["minigen"], timing, 1, None, None, print)
        assert rows[0]["status"] == status and reason in rows[0]["reason"]
        assert prof is None
    w = Workload("w", "op", fine, {}, libs=("minigen", "numpy"))
    rows, _ = cli._run_workload(w, "cpu", ["minigen"], timing, 1, {"gflops": 1.0}, None, print)
    assert [r["lib"] for r in rows] == ["minigen"] and rows[0]["status"] == "ok"
    assert rows[0]["peak_fraction"] == pytest.approx(rows[0]["gflops"] / 1.0)


def test_time_cases_counts_calls_and_takes_turns_in_blocks():
    order = []
    lib = Lib("minigen", "cpu")
    a = Case(lambda: order.append("a"))
    b = Case(lambda: order.append("b"))
    out = harness.time_cases([(lib, a), (lib, b)], warmup=2, repeats=4, min_time=0.0)
    assert [o["number"] for o in out] == [1, 1] and [o["repeats"] for o in out] == [4, 4]
    # warm-up of a, warm-up of b, then 3 rounds of blocks (2, 1 and 1 timed repeats), each
    # block after one untimed step
    assert order == ["a", "a", "b", "b"] + ["a"] * 3 + ["b"] * 3 + ["a", "a", "b", "b"] * 2
    # fewer repeats than rounds: one block each in the first rounds only
    order.clear()
    out = harness.time_cases([(lib, a), (lib, b)], warmup=1, repeats=1, min_time=0.0)
    assert [o["repeats"] for o in out] == [1, 1] and order == ["a", "b", "a", "a", "b", "b"]
    err = harness.time_cases([(lib, Case(lambda: 1 / 0))])[0]
    assert err["error"].startswith("ZeroDivisionError")


def test_profiler_attributes_ops_and_restores_engine():
    from minigen.ops.linalg import MatMul
    apply_before = Function.__dict__["apply"]
    forward_before = MatMul.__dict__["forward"]
    x = minigen.randn(8, 16, requires_grad=True)
    w = minigen.randn(16, 4, requires_grad=True)
    with OpProfiler() as prof:
        (x @ w).exp().sum().backward()
    assert Function.__dict__["apply"] is apply_before
    assert MatMul.__dict__["forward"] is forward_before
    buckets, table = prof.summary(total=1.0)
    ops = {r["op"]: r for r in table}
    assert ops["MatMul"]["kind"] == "gemm" and ops["MatMul"]["calls"] >= 1
    assert ops["graph walk"]["kind"] == "graph" and ops["graph walk"]["engine_s"] > 0
    assert ops["MatMul"]["backward_s"] > 0  # MatMul's backward ran (its products count as MatMul)
    assert buckets["gemm"] > 0 and buckets["engine"] > 0
    # after the block the engine is the plain one again: no frames are recorded
    n = len(prof.stats)
    (x * 2).sum().backward()
    assert len(prof.stats) == n


def test_peak_memory_sees_a_40mb_step():
    lib = Lib("numpy", "cpu")
    big = Case(lambda: np.ones(10_000_000, dtype=np.float32).sum())
    got = harness.peak_memory(big, lib, trials=1)
    assert got["peak_bytes"] >= 30e6, got
    small = harness.peak_memory(Case(lambda: np.ones(10).sum()), lib, trials=1)
    assert small["peak_bytes"] < 10e6


def test_fit_exponent():
    xs = [1, 2, 4, 8, 16]
    assert scaling.fit_exponent(xs, [3 * x ** 2 for x in xs]) == pytest.approx(2.0)
    assert scaling.fit_exponent(xs, [5.0] * 5) == pytest.approx(0.0)
    assert scaling.fit_exponent([4], [1.0]) is None


def test_registry_hook(monkeypatch):
    seen = {}

    class Entry:
        def bench_step(self, device="cpu", batch_size=None):
            seen["args"] = (device, batch_size)
            return lambda: None

    class FakeRegistry:
        @staticmethod
        def names():
            return ["toy"]

        @staticmethod
        def get(name):
            return Entry()
    monkeypatch.setattr(workloads_models, "_registry", lambda: FakeRegistry)
    (w,) = workloads_models.registered_workloads(quick=True)
    assert w.name == "model:toy" and w.group == "model"
    case = w.make(Lib("minigen", "cpu"))
    assert isinstance(case, Case) and seen["args"] == ("cpu", workloads_models.QUICK_BATCH)
    with pytest.raises(Unavailable, match="no torch twin"):
        w.build(type("L", (), {"name": "torch", "device": "cpu"})())


def test_threads_are_recorded_while_pinned(tmp_path):
    pytest.importorskip("threadpoolctl")
    doc, code = _quick(tmp_path, "--device", "cpu", "--threads", "1", "--only", "tiny_op",
                       "--no-scaling")
    assert code == 0 and doc["settings"]["threads"] == 1
    blas = [b for b in doc["machine"]["blas"] if b.get("user_api") == "blas"]
    assert blas and all(b["num_threads"] == 1 for b in blas)


def test_main_returns_exit_code(tmp_path):
    assert cli.main(["--quick", "--device", "cpu", "--only", "tiny_op", "--no-scaling",
                     "--out", str(tmp_path)]) == 0
    assert any(f.endswith("-quick.json") for f in os.listdir(tmp_path))


def test_cpu_clock_is_recorded_and_gpu_is_not_timed_under_it(tmp_path):
    doc, code = _quick(tmp_path, "--device", "all", "--clock", "cpu", "--only", "tiny_op",
                       "--no-scaling")
    assert code == 0 and doc["settings"]["clock"] == "cpu"
    assert any("CPU seconds" in n for n in doc["notes"])
    by_dev = {(r["device"], r["lib"]): r for r in doc["results"]}
    assert by_dev[("cpu", "minigen")]["status"] == "ok"
    assert by_dev[("cuda", "minigen")]["status"] == "unavailable"


# ----------------------------------------------------------------------------- parts of a step
@pytest.mark.parametrize("name, part", [
    ("Linear", "linear"), ("MatMul", "linear"), ("aten::addmm", "linear"), ("aten::mm", "linear"),
    ("ScaledDotProductAttention", "attention"),
    ("aten::_scaled_dot_product_flash_attention_for_cpu_backward", "attention"),
    ("Gelu", "activation"), ("GeluBackward", "activation"), ("aten::gelu_backward", "activation"),
    ("LeakyRelu", "activation"), ("LayerNorm", "normalisation"),
    ("aten::native_layer_norm_backward", "normalisation"), ("BatchNorm", "normalisation"),
    ("Conv2d", "convolution"), ("aten::convolution_backward", "convolution"),
    ("SoftmaxCrossEntropy", "loss"), ("aten::nll_loss_forward", "loss"),
    ("EmbeddingScatter", "embedding"), ("aten::embedding_dense_backward", "embedding"),
    ("Optimizer.step#AdamW.step", "optimizer"), ("aten::_foreach_mul_", "optimizer"),
    ("graph walk", "engine"), ("autograd::engine::evaluate_function: AddmmBackward0", "engine"),
    ("AddmmBackward0", "engine"), ("Add", "other"), ("Cat", "other"), ("aten::copy_", "other"),
])
def test_part_of_sorts_both_libraries_names(name, part):
    from minigen.bench.profile import part_of
    assert part_of(name) == part


def test_profiler_parts_add_up_and_time_the_optimizer():
    from minigen.bench.profile import OUTSIDE
    lin = minigen.nn.Linear(16, 4)
    opt = minigen.optim.AdamW(lin.parameters(), lr=1e-3)
    x = minigen.randn(8, 16)
    with OpProfiler() as prof:
        opt.zero_grad()
        F = minigen.nn.functional
        F.gelu(lin(x)).sum().backward()
        opt.step()
    assert minigen.optim.Adam.__dict__["step"].__name__ == "step"  # restored, not the wrapper
    parts = prof.parts(total=10.0)
    assert parts["linear"] > 0 and parts["activation"] > 0 and parts["engine"] > 0
    assert parts["optimizer"] > 0
    assert sum(parts.values()) == pytest.approx(10.0)
    assert parts[OUTSIDE] == pytest.approx(10.0 - sum(v for k, v in parts.items() if k != OUTSIDE))
    # the optimizer is a part of its own, but stays in the "outside_ops" bucket
    buckets, table = prof.summary(total=10.0)
    assert "AdamW" not in {r["op"] for r in table}
    assert buckets["outside_ops"] >= parts["optimizer"]


class _Event:
    def __init__(self, name, parent=None, self_us=0.0):
        self.name, self.cpu_parent, self.self_cpu_time_total = name, parent, self_us


def test_torch_events_without_a_part_take_their_enclosing_ops():
    from minigen.bench.profile import _torch_part
    addmm = _Event("aten::addmm")
    node = _Event("autograd::engine::evaluate_function: AddmmBackward0")
    step = _Event("Optimizer.step#AdamW.step")
    assert _torch_part(_Event("aten::copy_", addmm)) == "linear"  # the bias copy in addmm
    assert _torch_part(_Event("aten::lerp_", _Event("aten::something", step))) == "optimizer"
    assert _torch_part(_Event("aten::sum", _Event("AddmmBackward0", node))) == "other"
    assert _torch_part(_Event("aten::mm", node)) == "linear"
    assert _torch_part(_Event("aten::add")) == "other"


def test_parts_table_beside_torch(tmp_path):
    pytest.importorskip("torch")
    doc, code = _quick(tmp_path, "--device", "cpu", "--only", "gpt_step", "--no-scaling",
                       "--vs-torch")
    assert code == 0
    (prof,) = doc["profiles"]
    tp = prof["torch_profile"]
    assert tp["status"] == "ok", tp
    assert tp["parts_s"]["linear"] > 0 and tp["parts_s"]["attention"] > 0
    assert sum(tp["parts_s"].values()) == pytest.approx(tp["profiled_step_s"])
    mine = prof["parts_s"]
    assert mine["linear"] > 0 and mine["optimizer"] > 0
    assert sum(mine.values()) == pytest.approx(prof["profiled_step_s"])
    rows = report.parts_rows(prof)
    assert rows[-1][0] == "outside the ops" and all(b is not None for _, _, b in rows)
    md = open(doc["markdown_path"]).read()
    assert "| part | minigen | PyTorch | ratio |" in md and "| linear | " in md


def test_profiler_chatter_is_dropped_and_the_rest_passed_on(capfd):
    import os
    from minigen.bench.profile import _without_profiler_chatter
    with _without_profiler_chatter():
        os.write(2, b"USDT:2026 SyncActivityProfilerHandler.cpp:52] profiler_start\n")
        os.write(2, b"a warning worth reading\n")
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "USDT" not in err
    assert "a warning worth reading\n" in err and err.index("a warning") < err.index("after")
