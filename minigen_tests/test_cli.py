"""The ``minigen`` command: train / sample / info / gradcheck / bench, exit codes, messages."""
import json
import os
import subprocess
import sys

import pytest

import minigen
from minigen import cli, io

TINY = ["--data", "digits", "--max-steps", "4", "--eval-k", "4", "--no-progress"]
PICTURES = ["samples.png", "reconstructions.png", "interpolation.png", "loss.png"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny end-to-end run: `minigen train vae` on the digits for 4 steps."""
    out = tmp_path_factory.mktemp("cli") / "run"
    rc = cli.main(["train", "vae", *TINY, "--out", str(out)])
    return rc, out


def test_train_end_to_end(tiny_run, capsys):
    rc, out = tiny_run
    assert rc == 0
    for f in PICTURES + ["last.npz", "log.csv", "results.json", "config.json"]:
        assert (out / f).exists(), f
    results = json.loads((out / "results.json").read_text())
    assert results["steps"] == 4 and results["config"]["data"] == "digits"
    assert results["test_iwae_nll_k4"] > 0 and results["test_neg_elbo"] > 0
    meta = io.load_meta(out / "last.npz")
    assert meta["model"] == "vae" and meta["data"] == "digits" and meta["variant"] == "mlp"


def test_train_refuses_to_overwrite_and_resumes(tiny_run, capsys):
    rc, out = tiny_run
    assert cli.main(["train", "vae", *TINY, "--out", str(out)]) == 1
    assert "already holds a run" in capsys.readouterr().err
    args = ["train", "vae", "--data", "digits", "--max-steps", "6", "--eval-k", "2", "--no-progress",
            "--no-pictures", "--out", str(out), "--resume"]
    assert cli.main(args) == 0
    assert io.load(out / "last.npz")["step"] == 6
    assert "test IWAE NLL (k=2)" in capsys.readouterr().out


def test_resume_without_a_run(tmp_path, capsys):
    assert cli.main(["train", "vae", *TINY, "--out", str(tmp_path / "none"), "--resume"]) == 1
    assert "nothing to resume" in capsys.readouterr().err


def test_sample(tiny_run, tmp_path, capsys):
    _, out = tiny_run
    png = tmp_path / "s.png"
    assert cli.main(["sample", "vae", "--checkpoint", str(out / "last.npz"), "--n", "9", "--out", str(png)]) == 0
    assert png.exists() and "wrote 9 samples" in capsys.readouterr().out


def test_sample_refuses_bad_checkpoints(tiny_run, tmp_path, capsys):
    _, out = tiny_run
    good = (out / "last.npz").read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good[:1000])
    assert cli.main(["sample", "vae", "--checkpoint", str(cut)]) == 1
    assert "cut.npz" in capsys.readouterr().err
    other = tmp_path / "other.npz"
    io.save({"model": {}}, other, meta={"model": "gan"})
    assert cli.main(["sample", "vae", "--checkpoint", str(other)]) == 1
    assert "gan" in capsys.readouterr().err
    assert cli.main(["sample", "vae", "--checkpoint", str(tmp_path / "missing.npz")]) == 1
    assert "no such checkpoint" in capsys.readouterr().err


def test_train_on_cuda_device(tmp_path):
    rc = cli.main(["train", "vae", *TINY, "--no-pictures", "--device", "cuda", "--out", str(tmp_path / "gpu")])
    assert rc == 0
    assert json.loads((tmp_path / "gpu" / "config.json").read_text())["device"] == "cuda"


def test_usage_errors(capsys):
    assert cli.main([]) == 2
    assert cli.main(["train", "nope"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert cli.main(["train", "vae", "--epochs", "0"]) == 2
    assert "positive integer" in capsys.readouterr().err
    assert cli.main(["train", "vae", "--variant", "huge", "--out", "x"]) == 1
    assert "unknown --variant" in capsys.readouterr().err
    assert cli.main(["--help"]) == 0
    assert "train" in capsys.readouterr().out
    assert cli.main(["train", "--help"]) == 0
    assert "--resume" in capsys.readouterr().out


def test_threads_option(tmp_path, capsys):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [d["num_threads"] for d in threadpoolctl.threadpool_info()]
    ours = minigen.get_num_threads()
    args = ["train", "vae", *TINY, "--no-pictures", "--max-steps", "1"]
    assert cli.main([*args, "--threads", "1", "--out", str(tmp_path / "a")]) == 0
    assert "BLAS and minigen threads: 1" in capsys.readouterr().out
    assert [d["num_threads"] for d in threadpoolctl.threadpool_info()] == before   # restored
    assert minigen.get_num_threads() == ours
    assert cli.main([*args, "--threads", "many", "--out", str(tmp_path / "b")]) == 1
    assert "--threads" in capsys.readouterr().err


def test_info(capsys):
    assert cli.main(["info"]) == 0
    text = capsys.readouterr().out
    for word in ("minigen 0.", "NumPy", "BLAS", "host threads", "cpu", "cuda", "CuPy", "vae"):
        assert word in text, word


def test_gradcheck_and_bench_are_wired(monkeypatch, capsys):
    from minigen.testing import gradcheck_table
    import minigen.bench
    calls = {}
    monkeypatch.setattr(gradcheck_table, "run", lambda devices, **kw: calls.setdefault("g", (devices, kw)) and 0)
    assert cli.main(["gradcheck", "--device", "cpu", "--only", "exp"]) == 0
    assert calls["g"] == (["cpu"], {"only": "exp", "second_order": True})
    monkeypatch.setattr(minigen.bench, "main", lambda argv: calls.setdefault("b", argv) and 3)
    assert cli.main(["bench", "--quick", "--x"]) == 3
    assert calls["b"] == ["--quick", "--x"]


def test_missing_bench_gives_a_clear_message(monkeypatch, capsys):
    import minigen
    monkeypatch.setitem(sys.modules, "minigen.bench", None)       # import fails
    monkeypatch.delattr(minigen, "bench", raising=False)
    assert cli.main(["bench"]) == 1
    assert "not available" in capsys.readouterr().err


def _run(*args, **kw):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "minigen.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env, **kw)


def test_subprocess_info_and_missing_gpu(tmp_path):
    r = _run("info")
    assert r.returncode == 0 and "minigen" in r.stdout and "NumPy" in r.stdout
    if _real_cuda():              # with a GPU there is no missing-device error to see
        return
    r = _run("train", "vae", "--device", "cuda", "--out", str(tmp_path / "x"))
    assert r.returncode == 1
    assert "cuda" in r.stderr and "not available" in r.stderr and "Traceback" not in r.stderr


def _real_cuda():
    from minigen import backend
    return type(backend._backends.get("cuda")).__name__ == "CupyBackend"


@pytest.mark.slow
def test_kill_mid_run_then_resume_matches_an_uninterrupted_run(tmp_path):
    """SIGKILL a real `minigen train` process after a checkpoint, resume it: the final
    parameters equal those of a run that was never stopped."""
    import signal
    import time

    import numpy as np

    args = ["train", "vae", "--data", "digits", "--epochs", "8", "--checkpoint-every", "40",
            "--no-pictures", "--eval-k", "2", "--no-progress"]
    straight = _run(*args, "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    cut = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, "-m", "minigen.cli", *args, "--out", str(cut)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if (cut / "last.npz").exists() and io.load(cut / "last.npz")["step"] >= 80:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    step = io.load(cut / "last.npz")["step"]
    assert 80 <= step < 8 * 24, step
    resumed = _run(*args, "--out", str(cut), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a = io.load(tmp_path / "straight" / "last.npz")["model"]
    b = io.load(cut / "last.npz")["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k].cpu().numpy(), b[k].cpu().numpy()), k


@pytest.mark.slow
def test_default_run(tmp_path, capsys):
    """`minigen train vae` as a new user runs it: MNIST subset, MLP VAE, default recipe."""
    out = tmp_path / "default"
    assert cli.main(["train", "vae", "--no-progress", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "test -ELBO" in text and "IWAE NLL (k=100)" in text
    results = json.loads((out / "results.json").read_text())
    assert results["test_iwae_nll_k100"] < results["test_neg_elbo"] < 116
    for f in PICTURES + ["last.npz", "best.npz", "log.csv"]:
        assert (out / f).exists(), f


def test_gradcheck_on_the_simulated_device_from_the_command_line(capsys):
    from minigen import cli
    code = cli.main(["gradcheck", "--device", "cuda", "--simulated-cuda", "--only", "exp,matmul"])
    out = capsys.readouterr().out
    assert code == 0
    assert "exp" in out and "| cuda" in out and "passed" in out


# ----------------------------------------------------------------------------- sharp edges
def test_resume_keeps_the_runs_settings_unless_overridden(tmp_path, capsys):
    out = tmp_path / "r"
    assert cli.main(["train", "vae", *TINY, "--lr", "0.002", "--batch-size", "32", "--out", str(out),
                     "--no-pictures"]) == 0
    capsys.readouterr()
    base = ["train", "vae", "--max-steps", "6", "--eval-k", "2", "--no-progress", "--no-pictures",
            "--out", str(out), "--resume"]
    # a different setting is refused, by name, and nothing changes
    assert cli.main(base + ["--lr", "0.01", "--batch-size", "16"]) == 1
    err = capsys.readouterr().err
    assert "--lr 0.01 (the run has 0.002)" in err and "--batch-size 16 (the run has 32)" in err
    assert io.load(out / "last.npz")["step"] == 4
    # left out, the settings (data digits, lr, batch size) come from the run's config.json
    assert cli.main(base) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["lr"] == 0.002 and config["batch_size"] == 32 and config["data"] == "digits"
    # --override continues with the new ones, and both JSON files say so
    assert cli.main(base[:2] + ["--max-steps", "8"] + base[4:] + ["--lr", "0.01", "--override"]) == 0
    config = json.loads((out / "config.json").read_text())
    results = json.loads((out / "results.json").read_text())
    assert config["lr"] == 0.01 and config["overrides"] == [{"lr": {"was": 0.002, "now": 0.01}}]
    assert results["config"] == config
    assert cli.main(["train", "vae", *TINY, "--out", str(tmp_path / "x"), "--override"]) == 1
    assert "--override only applies with --resume" in capsys.readouterr().err


def test_unwritable_outputs_give_one_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert cli.main(["train", "vae", *TINY, "--out", str(blocker / "run")]) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and "Not a directory" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert cli.main(["bench", "--quick", "--only", "gemm", "--no-scaling", "--no-profile",
                     "--out", str(blocker / "bench")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("minigen bench: error: cannot write")


def test_list_names_every_model(capsys):
    from minigen.models import registry
    for cmd in ("list", "models"):
        assert cli.main([cmd]) == 0
        out = capsys.readouterr().out
        for name in registry.names():
            assert f"\n{name} " in "\n" + out
    assert "data: digits, moons, mnist;  variants: guided, uncond" in out


def test_a_closed_pipe_ends_quietly():
    # a command with far more output than a pipe holds (64 KiB), like `minigen gradcheck`
    code = ("import sys, minigen.cli as c\n"
            "def loud(args):\n    for i in range(100000): print('x' * 80)\n    return 0\n"
            "c.cmd_list = loud\nraise SystemExit(c.main(['list']))")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.readline()
    p.stdout.close()           # the reader goes away, as `| head -1` does
    err = p.stderr.read().decode()
    assert p.wait() == 0 and "BrokenPipeError" not in err and "Traceback" not in err


def test_bench_writes_outside_the_source_tree_and_flags_a_busy_machine():
    from minigen.bench import cli as bench_cli
    assert bench_cli.parse_args([]).out == os.path.join("runs", "bench")
    ok = lambda med, lo, hi, name="w": {"status": "ok", "workload": name,
                                        "time_s": {"median": med, "min": lo, "max": hi}}
    assert bench_cli.busy_note([ok(1.0, 0.95, 1.05)], load_start=0.1) is None or \
        "load average" in bench_cli.busy_note([ok(1.0, 0.95, 1.05)], load_start=0.1)
    note = bench_cli.busy_note([ok(1.0, 0.9, 1.6, "slow one"), ok(1.0, 0.99, 1.01)], load_start=0.0)
    assert "1 of 2 workloads" in note and "slow one" in note and "mean little" in note
    note = bench_cli.busy_note([ok(1.0, 0.99, 1.01)], load_start=(os.cpu_count() or 1) + 3.0)
    assert "load average" in note
