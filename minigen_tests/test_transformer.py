"""``nn.Transformer`` and its parts (``minigen/nn/transformer.py``) against PyTorch's modules
with the same weights, and the number-words translator built on them
(``minigen/models/transformer.py``, ``minigen/data/numbers.py``)."""
import os

import numpy as np
import pytest

import minigen
from minigen import nn
from minigen.data import numbers as words
from minigen.models.transformer import NumberTranslator, PositionalEncoding


def _torch():
    return pytest.importorskip("torch")


def _copy_from_torch(mg, tm):
    mg.load_state_dict({k: minigen.tensor(v.detach().cpu().numpy()) for k, v in tm.state_dict().items()})


# ----------------------------------------------------------------------------- the layers
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_matches_torch_outputs_and_gradients(norm_first, batch_first, activation):
    torch = _torch()
    torch.manual_seed(0)
    tm = torch.nn.Transformer(16, 4, 2, 2, 32, dropout=0.0, batch_first=batch_first,
                              norm_first=norm_first, activation=activation).double()
    mm = nn.Transformer(16, 4, 2, 2, 32, dropout=0.0, batch_first=batch_first,
                        norm_first=norm_first, activation=activation).double()
    assert sorted(tm.state_dict()) == sorted(mm.state_dict())
    _copy_from_torch(mm, tm)
    S, T, N = 7, 5, 3
    rs = np.random.RandomState(1)
    src = rs.randn(N, S, 16) if batch_first else rs.randn(S, N, 16)
    tgt = rs.randn(N, T, 16) if batch_first else rs.randn(T, N, 16)
    pad = np.zeros((N, S), bool)
    pad[0, -2:] = True
    ts, tt = torch.tensor(src, requires_grad=True), torch.tensor(tgt, requires_grad=True)
    ms, mt = minigen.tensor(src, requires_grad=True), minigen.tensor(tgt, requires_grad=True)
    to = tm(ts, tt, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64),
            src_key_padding_mask=torch.tensor(pad), memory_key_padding_mask=torch.tensor(pad))
    mo = mm(ms, mt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(T, dtype=minigen.float64),
            src_key_padding_mask=minigen.tensor(pad), memory_key_padding_mask=minigen.tensor(pad))
    np.testing.assert_allclose(mo.cpu().numpy(), to.detach().cpu().numpy(), rtol=1e-10, atol=1e-10)
    w = rs.randn(*to.shape)
    (to * torch.tensor(w)).sum().backward()
    (mo * minigen.tensor(w)).sum().backward()
    np.testing.assert_allclose(ms.grad.cpu().numpy(), ts.grad.cpu().numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(mt.grad.cpu().numpy(), tt.grad.cpu().numpy(), rtol=1e-9, atol=1e-10)
    tg = dict(tm.named_parameters())
    for name, p in mm.named_parameters():
        np.testing.assert_allclose(p.grad.cpu().numpy(), tg[name].grad.cpu().numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=name)


def test_encoder_layer_alone_with_bool_and_float_masks_and_unbatched_input():
    torch = _torch()
    torch.manual_seed(0)
    tl = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0).double()
    ml = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0).double()
    _copy_from_torch(ml, tl)
    x = np.random.RandomState(0).randn(5, 2, 8)
    bool_mask = np.triu(np.ones((5, 5), bool), 1)
    float_mask = np.where(bool_mask, -np.inf, 0.0)
    for mask in (bool_mask, float_mask):
        np.testing.assert_allclose(ml(minigen.tensor(x), src_mask=minigen.tensor(mask)).cpu().numpy(),
                                   tl(torch.tensor(x), src_mask=torch.tensor(mask)).detach().cpu().numpy(),
                                   atol=1e-12)
    # an unbatched sequence (S, E)
    np.testing.assert_allclose(ml(minigen.tensor(x[:, 0])).cpu().numpy(),
                               tl(torch.tensor(x[:, 0])).detach().cpu().numpy(), atol=1e-12)


def test_stacks_copy_the_layer_and_apply_the_final_norm():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    enc = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8))
    assert len(enc.layers) == 3
    # deep copies: same start, separate tensors
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    np.testing.assert_array_equal(enc.layers[0].linear1.weight.cpu().numpy(), enc.layers[2].linear1.weight.cpu().numpy())
    y = enc(minigen.randn(4, 2, 8))
    # the final LayerNorm: every position has mean 0 and variance 1 over the features
    np.testing.assert_allclose(y.cpu().numpy().mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.cpu().numpy().var(-1), 1.0, atol=1e-3)


def test_square_subsequent_mask_matches_torch():
    torch = _torch()
    for n in (0, 1, 5):
        np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(n).cpu().numpy(),
                                      torch.nn.Transformer.generate_square_subsequent_mask(n).cpu().numpy())


def test_padding_and_causal_masks_really_block():
    minigen.manual_seed(0)
    model = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True)
    model.eval()
    src, tgt = minigen.randn(1, 6, 8), minigen.randn(1, 4, 8)
    pad = minigen.tensor([[False] * 4 + [True] * 2])
    causal = nn.Transformer.generate_square_subsequent_mask(4)
    y = model(src, tgt, tgt_mask=causal, src_key_padding_mask=pad, memory_key_padding_mask=pad)
    # changing padded source positions changes nothing
    src2 = src.clone()
    src2[0, 4:] = 100.0
    y2 = model(src2, tgt, tgt_mask=causal, src_key_padding_mask=pad, memory_key_padding_mask=pad)
    np.testing.assert_allclose(y.cpu().numpy(), y2.cpu().numpy(), atol=1e-6)
    # changing the last target position changes only the last output
    tgt2 = tgt.clone()
    tgt2[0, 3] = 5.0
    y3 = model(src, tgt2, tgt_mask=causal, src_key_padding_mask=pad, memory_key_padding_mask=pad)
    np.testing.assert_allclose(y.cpu().numpy()[0, :3], y3.cpu().numpy()[0, :3], atol=1e-6)
    assert np.abs(y.cpu().numpy()[0, 3] - y3.cpu().numpy()[0, 3]).max() > 1e-3


def test_transformer_on_the_device(device):
    minigen.manual_seed(0)
    model = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True)
    src, tgt = minigen.randn(2, 5, 8), minigen.randn(2, 3, 8)
    ref = model(src, tgt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(3)).cpu().numpy()
    model.to(device)
    out = model(src.to(device), tgt.to(device),
                tgt_mask=nn.Transformer.generate_square_subsequent_mask(3, device=device))
    assert out.device.type == minigen.device(device).type
    np.testing.assert_allclose(out.cpu().numpy(), ref, atol=1e-5)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_bad_input_errors():
    with pytest.raises(ValueError, match="divisible by nhead"):
        nn.TransformerEncoderLayer(10, 3)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(TypeError, match="TransformerEncoderLayer to copy"):
        nn.TransformerEncoder(nn.Linear(2, 2), 2)
    model = nn.Transformer(8, 2, 1, 1, 16, batch_first=True)
    with pytest.raises(RuntimeError, match="batch number of src and tgt"):
        model(minigen.randn(2, 5, 8), minigen.randn(3, 4, 8))
    with pytest.raises(RuntimeError, match="E = d_model = 8"):
        model(minigen.randn(2, 5, 7), minigen.randn(2, 4, 8))
    # masks: wrong shape, wrong dtype (MultiheadAttention's checks name them)
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \[3, 3\], but should be \[4, 4\]"):
        model(minigen.randn(2, 5, 8), minigen.randn(2, 4, 8), tgt_mask=minigen.zeros(3, 3))
    with pytest.raises(RuntimeError, match="key_padding_mask of shape"):
        model(minigen.randn(2, 5, 8), minigen.randn(2, 4, 8),
              src_key_padding_mask=minigen.zeros(2, 4, dtype=minigen.bool))
    with pytest.raises(RuntimeError, match="only bool and floating types of attn_mask"):
        model(minigen.randn(2, 5, 8), minigen.randn(2, 4, 8), tgt_mask=minigen.zeros(4, 4, dtype=minigen.int64))


# ----------------------------------------------------------------------------- the data
def test_number_words_follow_the_british_rules():
    w = words.number_words
    assert w(0) == "zero" and w(13) == "thirteen" and w(40) == "forty"
    assert w(77) == "seventy-seven"
    assert w(100) == "one hundred" and w(312) == "three hundred and twelve"
    assert w(1005) == "one thousand and five"
    assert w(1200) == "one thousand two hundred"
    assert w(4312) == "four thousand three hundred and twelve"
    assert w(9999) == "nine thousand nine hundred and ninety-nine"
    every = [w(n) for n in range(10000)]
    assert len(set(every)) == 10000
    # "and" exactly when a part under 100 follows something bigger
    for n in range(10000):
        assert ("and" in every[n].split()) == (n >= 100 and n % 100 != 0), n
    assert len(words.SOURCE.symbols) == 21 and len(words.SOURCE) == 22 and len(words.TARGET) == 13
    with pytest.raises(ValueError, match="0..9999"):
        w(10000)


def test_split_and_encoding():
    train, test = words.numbers_split()
    assert len(train) == 8000 and len(test) == 2000
    assert len(set(train) | set(test)) == 10000
    np.testing.assert_array_equal(np.concatenate([train, test]), np.random.default_rng(0).permutation(10000))
    src, tgt = words.encode_pairs([4312, 7])
    assert words.SOURCE.decode(src[0]) == "four thousand three hundred and twelve"
    assert words.SOURCE.decode(src[1]) == "seven"
    assert tgt[0].tolist() == [words.BOS, 7, 6, 4, 5, words.EOS]
    assert tgt[1].tolist() == [words.BOS, 10, words.EOS, 0, 0, 0]
    assert words.TARGET.decode(tgt[0][1:]) == "4312"


# ----------------------------------------------------------------------------- the translator
def _tiny(seed=0, **kw):
    minigen.manual_seed(seed)
    return NumberTranslator(**dict(dict(d_model=32, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                                        dim_feedforward=64, dropout=0.0), **kw))


def _fit(model, numbers, steps, lr=3e-3):
    src, tgt = (minigen.tensor(a) for a in words.encode_pairs(numbers))
    opt = minigen.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = model.loss(src, tgt)
        loss.backward()
        opt.step()
    return float(loss.item())


def test_tiny_batch_overfits_and_decodes_exactly():
    model = _tiny()
    numbers = [4312, 1005, 77, 0, 9999, 120, 3008, 640]
    loss = _fit(model, numbers, 150)
    assert loss < 0.05
    texts = [words.number_words(n) for n in numbers]
    assert model.translate(texts) == [str(n) for n in numbers]
    assert model.translate(texts, num_beams=3) == [str(n) for n in numbers]


def _reference_beam(model, src_row, K, max_new):
    """Beam search for one source, unbatched and in plain Python: the reference for the batched
    version (same scoring, same tie order: candidates ranked by score, then beam, then symbol)."""
    memory, pad = model.encode(src_row)
    beams, finished = [([words.BOS], 0.0)], []
    for _ in range(max_new):
        cands = []
        for seq, score in beams:
            logp = model._next_log_probs(minigen.tensor([seq]), memory, pad)[0]
            cands += [(score + logp[v], seq + [v]) for v in range(len(logp)) if np.isfinite(logp[v])]
        cands.sort(key=lambda c: -c[0])
        beams = []
        for score, seq in cands[:2 * K]:
            if len(beams) == K:
                break
            if seq[-1] == words.EOS:
                finished.append((score, seq))
            else:
                beams.append((seq, score))
        if len(finished) >= K and max(f[0] for f in finished) >= max(b[1] for b in beams):
            break
    pool = finished or [(s, q) for q, s in beams]
    return max(pool, key=lambda c: c[0])[1]


def test_beam_search_matches_an_unbatched_reference_and_one_beam_is_greedy():
    model = _tiny(seed=3)
    model.eval()
    texts = ["two hundred", "one thousand and five", "ninety-nine"]
    src = model.source_ids(texts)
    for K in (1, 2, 4):
        got = model.beam_search(src, num_beams=K, max_new_tokens=5)
        for i in range(len(texts)):
            assert got[i] == _reference_beam(model, src[i:i + 1], K, 5), (K, i)
    greedy = model.greedy(src, 5)
    for i, seq in enumerate(model.beam_search(src, num_beams=1, max_new_tokens=5)):
        assert seq == greedy[i, :len(seq)].tolist()
        assert seq[-1] == words.EOS or len(seq) == 6
    with pytest.raises(ValueError, match="num_beams must be a positive integer"):
        model.beam_search(src, num_beams=0)


def test_determinism_and_checkpoint_round_trip(tmp_path, device):
    from minigen.train import load_checkpoint, save_checkpoint, training_step
    a, b = _tiny(seed=5).to(device), _tiny(seed=5).to(device)
    src, tgt = (minigen.tensor(x).to(device) for x in words.encode_pairs([12, 345, 6789]))
    np.testing.assert_array_equal(a(src, tgt[:, :-1]).cpu().numpy(), b(src, tgt[:, :-1]).cpu().numpy())
    opt = minigen.optim.Adam(a.parameters(), lr=1e-3)
    training_step(a, opt, (src, tgt))
    path = os.path.join(tmp_path, "t.npz")
    save_checkpoint(path, a, opt, meta={"model": "transformer"})
    c = _tiny(seed=9).to(device)
    load_checkpoint(path, c)
    a.eval(), c.eval()
    np.testing.assert_array_equal(a(src, tgt[:, :-1]).cpu().numpy(), c(src, tgt[:, :-1]).cpu().numpy())


def test_cross_attention_maps_are_distributions():
    model = _tiny()
    maps, answer = model.cross_attention("one thousand and five", digits="1005")
    assert answer == "1005"
    L, H, U, S = maps.shape
    assert (L, H, U, S) == (1, 2, 5, len("one thousand and five"))
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-5)
    assert all(layer.cross_attention is None for layer in model.transformer.decoder.layers)


def test_translator_bad_input():
    model = _tiny(max_len=20)
    with pytest.raises(ValueError, match=r"\['eleventy'\] not number words"):
        model.translate("eleventy")
    with pytest.raises(ValueError, match="non-empty"):
        model.translate("  ")
    with pytest.raises(ValueError, match="characters \\['!'\\] are not in the vocabulary"):
        words.SOURCE.encode("five!")
    with pytest.raises(ValueError, match="longer than the model's positional table"):
        model.translate("seven thousand seven hundred and seventy-seven")
    with pytest.raises(ValueError, match="max_len 4"):
        PositionalEncoding(8, max_len=4)(minigen.zeros(1, 5, 8))
    with pytest.raises(ValueError, match="integer ids"):
        model.encode(minigen.zeros(2, 3))


def test_warmup_cosine_schedule_matches_torch():
    torch = _torch()
    from minigen.train import make_scheduler
    p = minigen.nn.Parameter(minigen.zeros(2))
    opt = minigen.optim.Adam([p], lr=1.0)
    sched = make_scheduler(opt, 30, 6)
    tp = torch.nn.Parameter(torch.zeros(2))
    topt = torch.optim.Adam([tp], lr=1.0)
    tsched = torch.optim.lr_scheduler.SequentialLR(
        topt, [torch.optim.lr_scheduler.LinearLR(topt, 1 / 6, 1.0, 6),
               torch.optim.lr_scheduler.CosineAnnealingLR(topt, 24)], [6])
    for _ in range(30):
        assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], abs=1e-12)
        opt.step(), topt.step(), sched.step(), tsched.step()
    with pytest.raises(ValueError, match="warmup must be an integer"):
        make_scheduler(opt, 10, 10)


def test_twin_matches_with_copied_weights():
    torch = _torch()
    from minigen.bench.torch_twins import torch_number_translator
    torch.manual_seed(0)
    tm = torch_number_translator(d_model=32, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                                 dim_feedforward=64, dropout=0.0)
    mm = _tiny()
    _copy_from_torch(mm, tm)
    s, t = words.encode_pairs([4312, 5, 1200])
    np.testing.assert_allclose(mm.loss(minigen.tensor(s), minigen.tensor(t)).item(),
                               tm.loss(torch.tensor(s), torch.tensor(t)).item(), rtol=1e-5)


def test_quick_run_and_sample_through_the_cli(tmp_path, capsys):
    from minigen import cli
    from minigen.train import train_model
    r = train_model("transformer", quick=True, out=str(tmp_path / "r"), progress=False, log=lambda *a: None)
    m = r["metrics"]
    assert m["steps"] == 20 and 0.0 <= m["exact_match_greedy"] <= 1.0
    assert np.isfinite(m["test_nats_per_symbol"]) and "exact_match_beam4" in m
    assert os.path.exists(tmp_path / "r" / "cross_attention.png")
    ck = str(tmp_path / "r" / "last.npz")
    capsys.readouterr()
    assert cli.main(["sample", "transformer", "--checkpoint", ck, "--prompt",
                     "four thousand three hundred and twelve, one thousand and five",
                     "--num-beams", "2", "--out", str(tmp_path / "t.txt")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("four thousand three hundred and twelve -> ")
    assert open(tmp_path / "t.txt").read().strip().splitlines() == lines
    assert cli.main(["sample", "transformer", "--checkpoint", ck, "--prompt", "eleventy"]) != 0
    err = capsys.readouterr().err
    assert "not number words" in err and "Traceback" not in err
