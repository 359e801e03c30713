"""minigen.models.generation: the sampling rules, the cache, beam search, and bad input."""
import itertools
import math

import numpy as np
import pytest

import minigen
from minigen.models.generation import _ngram_bans, generate, process_scores
from minigen.models.gpt import GPT
from minigen.models.lm import LanguageModel


def tiny_gpt(device="cpu", block=8, V=11, seed=0):
    minigen.manual_seed(seed)
    return GPT(V, block, n_layer=2, n_head=2, n_embd=16).to(device).eval()


class TableLM(LanguageModel):
    """A first-order model with fixed logits[prev token] (no parameters): easy to reason about."""

    def __init__(self, table):
        super().__init__()
        self.table = minigen.tensor(np.asarray(table, np.float32))
        self.vocab_size = self.table.shape[0]
        self.block_size = 1
        self.calls = 0

    def forward(self, idx, cache=None):
        self.calls += 1
        return self.table[idx], idx[:, -1:]


# ----------------------------------------------------------------------------- the cache
@pytest.mark.parametrize("steps", [5, 20])            # 20 runs past block_size = 8
def test_greedy_with_and_without_the_cache_agree(device, steps):
    m = tiny_gpt(device)
    prompt = [[1, 2, 3], [4, 5, 6]]
    a = m.generate(prompt, steps, do_sample=False, use_cache=True)
    b = m.generate(prompt, steps, do_sample=False, use_cache=False)
    assert a.shape == (2, 3 + steps) and a.device.type == device
    np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())


def test_sampling_with_and_without_the_cache_agree_at_a_seed():
    m = tiny_gpt()
    out = []
    for cache in (True, False):
        minigen.manual_seed(7)
        out.append(m.generate([[1, 2]] * 3, 15, temperature=0.9, top_k=5, top_p=0.95,
                              repetition_penalty=1.2, use_cache=cache).cpu().numpy())
    np.testing.assert_array_equal(out[0], out[1])
    minigen.manual_seed(8)
    other = m.generate([[1, 2]] * 3, 15, temperature=0.9, top_k=5, top_p=0.95,
                       repetition_penalty=1.2).cpu().numpy()
    assert (other != out[0]).any()          # the seed matters


def test_cached_logits_equal_the_full_forward(device):
    m = tiny_gpt(device)
    x = minigen.randint(0, 11, (2, 8), device=device)
    full, _ = m(x)
    a, c = m(x[:, :3])
    b, c = m(x[:, 3:4], c)
    d, c = m(x[:, 4:], c)                   # several new tokens after a cache: the mask
    np.testing.assert_allclose(minigen.cat([a, b, d], 1).cpu().numpy(), full.cpu().numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="exceed block_size 8"):
        m(x[:, :1], c)


def test_the_cache_is_cheaper():
    t = TableLM(np.eye(4))
    generate(t, [[0]], 10, do_sample=False, use_cache=True)
    assert t.calls == 10
    # without a cache the model re-reads the (cropped) context every step: same call count
    # here, but over the whole context; GPT's cost is what `minigen bench` measures


# ----------------------------------------------------------------------------- the rules
def test_top_k_one_is_greedy():
    m = tiny_gpt()
    g = m.generate([[3]], 12, do_sample=False)
    minigen.manual_seed(1)
    s = m.generate([[3]], 12, top_k=1, temperature=2.0)
    np.testing.assert_array_equal(g.cpu().numpy(), s.cpu().numpy())


def test_top_p_keeps_the_smallest_set_reaching_p_with_ties():
    p = np.array([[0.4, 0.2, 0.2, 0.1, 0.1]])
    s = minigen.tensor(np.log(p).astype(np.float32))
    seq = minigen.tensor([[0]])
    kept = lambda top_p: np.isfinite(process_scores(s, seq, top_p=top_p).cpu().numpy())[0]  # noqa: E731
    assert kept(0.4).tolist() == [True, False, False, False, False]
    assert kept(0.5).tolist() == [True, True, True, False, False]       # 0.6 reached; tie kept
    assert kept(0.6).tolist() == [True, True, True, False, False]
    assert kept(0.61).tolist() == [True, True, True, False, False]
    assert kept(0.81).tolist() == [True] * 5                             # the 0.1 tie too
    assert kept(0.05).tolist() == [True, False, False, False, False]     # at least one
    assert kept(1.0).all()


def test_top_k_keeps_ties_and_temperature_scales():
    s = minigen.tensor([[3.0, 1.0, 1.0, 0.0]])
    seq = minigen.tensor([[0]])
    out = process_scores(s, seq, top_k=2).cpu().numpy()[0]
    assert np.isfinite(out).tolist() == [True, True, True, False]
    np.testing.assert_allclose(process_scores(s, seq, temperature=0.5).cpu().numpy(), [[6, 2, 2, 0]])
    # greedy ignores temperature, top-k and top-p
    np.testing.assert_allclose(process_scores(s, seq, do_sample=False, temperature=0.5, top_k=1).cpu().numpy(),
                               s.cpu().numpy())


def test_repetition_penalty_follows_ctrl():
    s = minigen.tensor([[2.0, -2.0, 2.0, -2.0]])
    seq = minigen.tensor([[0, 1, 1]])
    out = process_scores(s, seq, repetition_penalty=2.0).cpu().numpy()[0]
    np.testing.assert_allclose(out, [1.0, -4.0, 2.0, -2.0])


def test_ngram_bans():
    assert _ngram_bans([[1, 2, 3, 1, 2]], 3) == [(3,)]
    assert set(_ngram_bans([[1, 2, 1, 3, 1]], 2)[0]) == {2, 3}
    assert _ngram_bans([[5]], 3) == [()]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_no_repeat_ngram_size_never_repeats(n):
    m = tiny_gpt(V=11, block=64)
    minigen.manual_seed(0)
    steps = 7 if n == 1 else 25
    for row in m.generate([[1, 2, 3], [4, 4, 5]], steps, no_repeat_ngram_size=n).cpu().numpy().tolist():
        grams = [tuple(row[i:i + n]) for i in range(len(row) - n + 1)]
        # the prompt may repeat itself; no generated token completes a repeated n-gram
        generated = grams[3 - n + 1:] if n <= 3 else grams
        seen = grams[:3 - n + 1]
        for g in generated:
            assert g not in seen
            seen.append(g)


def test_no_repeat_ngram_that_bans_everything_is_a_clear_error():
    t = TableLM(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="no_repeat_ngram_size=1 bans every one of the 2 tokens for sequence 0"):
        generate(t, [[0]], 3, no_repeat_ngram_size=1)


def test_eos_pads_and_stops():
    # token 0 -> 1 -> 2 -> 2 ...; eos = 2
    table = np.full((3, 3), -9.0)
    table[0, 1] = table[1, 2] = table[2, 2] = 9.0
    t = TableLM(table)
    out = generate(t, [[0], [1]], 10, do_sample=False, eos_token_id=2).cpu().numpy()
    assert out.tolist() == [[0, 1, 2], [1, 2, 2]]          # stopped once both ended


def test_num_return_sequences():
    m = tiny_gpt()
    out = m.generate([[1], [2]], 5, num_return_sequences=3)
    assert out.shape == (6, 6)
    assert out.cpu().numpy()[:3, 0].tolist() == [1, 1, 1] and out.cpu().numpy()[3:, 0].tolist() == [2, 2, 2]


# ----------------------------------------------------------------------------- beams
def _logp(m, row, T0):
    logits, _ = m(minigen.tensor([row]))
    lp = minigen.log_softmax(logits.to(minigen.float64), dim=-1).cpu().numpy()[0]
    return sum(lp[t - 1, row[t]] for t in range(T0, len(row)))


def test_beam_search_with_enough_beams_finds_the_best_sequence():
    m = tiny_gpt(V=3, block=8)
    best = max(itertools.product(range(3), repeat=3), key=lambda c: _logp(m, [1, *c], 1))
    out = m.generate([[1]], 3, do_sample=False, num_beams=27).cpu().numpy()[0].tolist()
    assert out == [1, *best]
    greedy = m.generate([[1]], 3, do_sample=False).cpu().numpy()[0].tolist()
    assert _logp(m, out, 1) >= _logp(m, greedy, 1) - 1e-9


def test_beam_search_returns_sorted_hypotheses_and_uses_the_cache(device):
    m = tiny_gpt(device)
    a = m.generate([[1, 2]], 6, do_sample=False, num_beams=4, num_return_sequences=3).cpu().numpy()
    b = m.generate([[1, 2]], 6, do_sample=False, num_beams=4, num_return_sequences=3, use_cache=False).cpu().numpy()
    np.testing.assert_array_equal(a, b)
    scores = [_logp(m.to("cpu"), r.tolist(), 2) for r in a]
    assert scores == sorted(scores, reverse=True)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(idx=[[]]), "prompt is empty"),
    (dict(idx=[[1, 99]]), "token id 99 is outside the vocabulary"),
    (dict(idx=[[1.5]]), "token ids"),
    (dict(top_p=0.0), r"top_p must lie in \(0, 1\]"),
    (dict(top_p=1.5), r"top_p must lie in \(0, 1\]"),
    (dict(temperature=0.0), "temperature must be a finite number > 0"),
    (dict(temperature=-1.0), "temperature"),
    (dict(top_k=0), "top_k must be an integer >= 1"),
    (dict(max_new_tokens=-1), "max_new_tokens"),
    (dict(repetition_penalty=0.0), "repetition_penalty"),
    (dict(num_beams=2), "do_sample=False"),
    (dict(do_sample=False, num_return_sequences=2), "num_return_sequences"),
    (dict(eos_token_id=11), "eos_token_id"),
])
def test_bad_arguments_are_clear_errors(kwargs, match):
    m = tiny_gpt()
    args = dict(idx=[[1]], max_new_tokens=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        m.generate(args.pop("idx"), args.pop("max_new_tokens"), **args)


def test_greedy_ignores_temperature_zero_and_max_new_tokens_zero():
    m = tiny_gpt()
    assert m.generate([[1]], 0).cpu().numpy().tolist() == [[1]]
    out = m.generate([[1]], 3, do_sample=False, temperature=0.0)     # ignored when greedy
    assert out.shape == (1, 4)
    assert not math.isnan(float(out.cpu().numpy().sum()))
