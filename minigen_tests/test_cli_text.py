"""`minigen train` / `minigen sample` for the language models: quick runs, text samples, the
generation flags, exact resume with a carried state, and bad input."""
import json

import numpy as np
import pytest

from minigen import cli, io
from minigen.models import registry
from minigen.train import train_model

LMS = ["ngram", "mlp", "rnn", "gru", "lstm", "gpt"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """`minigen train NAME --quick` on names for every language model, and GPT on Shakespeare."""
    root = tmp_path_factory.mktemp("lm")
    out = {}
    for name in LMS:
        out[name] = root / name
        assert cli.main(["train", name, "--data", "names", "--quick", "--no-progress", "--out", str(out[name])]) == 0
    out["gpt-shakespeare"] = root / "gpt-sh"
    assert cli.main(["train", "gpt", "--quick", "--no-progress", "--max-steps", "5",
                     "--out", str(out["gpt-shakespeare"])]) == 0
    return out


@pytest.mark.parametrize("name", LMS)
def test_quick_runs_report_nats_bits_perplexity_and_names(runs, name):
    out = runs[name]
    for f in ("last.npz", "log.csv", "results.json", "loss.png", "samples.txt"):
        assert (out / f).exists(), f
    r = json.loads((out / "results.json").read_text())
    assert 0 < r["test_nats_per_char"] < 4 and r["test_tokens"] == 3676
    assert r["test_bits_per_char"] == pytest.approx(r["test_nats_per_char"] / np.log(2))
    assert r["test_perplexity"] == pytest.approx(np.exp(r["test_nats_per_char"]))
    names = (out / "samples.txt").read_text().splitlines()
    assert len(names) == 20 and all(set(n) <= set("abcdefghijklmnopqrstuvwxyz") for n in names)


def test_sample_text_with_every_control(runs, tmp_path, capsys):
    ck = str(runs["gpt-shakespeare"] / "last.npz")
    txt = tmp_path / "romeo.txt"
    args = ["sample", "gpt", "--checkpoint", ck, "--prompt", "ROMEO:", "--max-new-tokens", "40",
            "--temperature", "0.8", "--top-p", "0.9", "--top-k", "20", "--repetition-penalty", "1.1",
            "--no-repeat-ngram-size", "4", "--out", str(txt)]
    assert cli.main(args) == 0
    text = txt.read_text()
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 40 + 1
    assert text in capsys.readouterr().out
    # the same seed gives the same text, with or without the cache
    txt2 = tmp_path / "again.txt"
    assert cli.main(args[:-1] + [str(txt2), "--no-cache"]) == 0
    assert txt2.read_text() == text
    # greedy and beam search
    assert cli.main(["sample", "gpt", "--checkpoint", ck, "--prompt", "To be", "--greedy",
                     "--max-new-tokens", "10", "--out", str(tmp_path / "g.txt")]) == 0
    assert cli.main(["sample", "gpt", "--checkpoint", ck, "--prompt", "To be", "--num-beams", "3",
                     "--n", "2", "--max-new-tokens", "10", "--out", str(tmp_path / "b.txt")]) == 0
    assert (tmp_path / "b.txt").read_text().count("To be") == 2


def test_sample_names_with_a_prompt(runs, tmp_path):
    out = tmp_path / "n.txt"
    assert cli.main(["sample", "lstm", "--checkpoint", str(runs["lstm"] / "last.npz"), "--n", "5",
                     "--prompt", "ka", "--out", str(out)]) == 0
    names = out.read_text().splitlines()
    assert len(names) == 5 and all(n.startswith("ka") for n in names)


@pytest.mark.parametrize("extra, match", [
    (["--prompt", "\u00e9"], "not in the shakespeare vocabulary"),
    (["--prompt", ""], "empty prompt"),
    (["--top-p", "1.5"], r"top_p must lie in \(0, 1\]"),
    (["--temperature", "0"], "temperature must be a finite number > 0"),
    (["--out", "x.png"], "text is written to a .txt file"),
])
def test_sample_bad_input_is_a_clear_error(runs, extra, match, capsys):
    ck = str(runs["gpt-shakespeare"] / "last.npz")
    assert cli.main(["sample", "gpt", "--checkpoint", ck, "--max-new-tokens", "5", *extra]) == 1
    assert __import__("re").search(match, capsys.readouterr().err)


def test_checkpoint_of_another_model_is_refused(runs, capsys):
    assert cli.main(["sample", "lstm", "--checkpoint", str(runs["gpt-shakespeare"] / "last.npz")]) == 1
    assert "holds a gpt checkpoint, not a lstm one" in capsys.readouterr().err


def test_past_the_block_size_the_context_is_cropped(runs, tmp_path):
    out = tmp_path / "long.txt"
    assert cli.main(["sample", "gpt", "--checkpoint", str(runs["gpt-shakespeare"] / "last.npz"),
                     "--max-new-tokens", "150", "--out", str(out)]) == 0        # block_size 64
    assert len(out.read_text()) == 1 + 150 + 1


def test_image_flags_and_text_flags_do_not_mix(runs, capsys):
    assert cli.main(["train", "vae", "--data", "names", "--quick", "--out", "x"]) == 1
    assert "the VAE models images" in capsys.readouterr().err
    assert cli.main(["train", "gpt", "--epochs", "1", "--steps", "2", "--out", "x"]) == 1
    assert "not both" in capsys.readouterr().err


def test_streams_resume_exactly_with_the_carried_state(tmp_path):
    """Truncated BPTT: a run stopped at step 6 and resumed ends where an unbroken one does."""
    kw = dict(name="lstm", data="shakespeare", variant="streams", quick=True, steps=10,
              progress=False, pictures=False, log=lambda *a: None, checkpoint_every=3)
    whole = train_model(out=str(tmp_path / "a"), **kw)["model"]

    def stop_at_6(step, loss):
        if step == 6:
            raise KeyboardInterrupt
    part = train_model(out=str(tmp_path / "b"), callback=stop_at_6, **kw)
    assert part["fit"]["interrupted"] and part["fit"]["step"] == 6
    resumed = train_model(out=str(tmp_path / "b"), resume=True, **kw)["model"]
    for (k, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    assert np.abs(whole.carry_h.numpy()).max() > 0


@pytest.mark.parametrize("name", LMS)
def test_bench_step_for_every_language_model(name):
    step = registry.get(name).bench_step("cpu", quick=True)
    out = step()                    # a loss tensor, or the n-gram's train_step dict
    loss = out["loss"] if isinstance(out, dict) else out.item()
    assert np.isfinite(loss) and 0 < loss < 10
