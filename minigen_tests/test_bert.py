"""BERT (minigen/models/bert.py): the 15% / 80-10-10 masking, the loss on the chosen positions
only, attention in both directions, overfitting, determinism, checkpoints, devices, the registry
and the command line, fill_mask and its errors, and the PyTorch twin."""
import json
import math
import os

import numpy
import pytest

import minigen
from minigen.models.bert import (BERT, MASK, build_bert, evaluate_bert, fixed_masking, mask_tokens,
                                 validation_windows)
from minigen.nn import functional as F
from minigen.train import load_checkpoint, save_checkpoint, training_step

V = 80
TINY = dict(n_layer=2, n_head=2, n_embd=16, dim_feedforward=32)


def tiny(**kw):
    return build_bert(**dict(TINY, **kw))


# ----------------------------------------------------------------------------- masking
def test_masking_proportions_and_what_each_kind_does(device):
    # N = 200,000 positions, about 30,000 chosen: each share's standard error sqrt(p(1-p)/n) is
    # 0.0008 (chosen, p = 0.15), 0.0023 ([MASK], 0.8 of the chosen) and 0.0017 (random,
    # unchanged); the tolerances are 5 of them (a false alarm once in ~3 million seeds).
    x = minigen.randint(0, V, (400, 500), device=device)
    inputs, targets = mask_tokens(x, V)
    x, inputs, targets = x.cpu().numpy(), inputs.cpu().numpy(), targets.cpu().numpy()
    chosen = targets != -1
    n = chosen.sum()
    assert abs(chosen.mean() - 0.15) < 5 * math.sqrt(0.15 * 0.85 / x.size)
    # the targets are the originals at the chosen positions; elsewhere the input is untouched
    assert (targets[chosen] == x[chosen]).all() and (inputs[~chosen] == x[~chosen]).all()
    masked = (inputs == V)[chosen].mean()
    same = (inputs == x)[chosen].mean()          # unchanged, or a random draw of the same char
    other = ((inputs != x) & (inputs != V))[chosen].mean()
    sd = lambda p: math.sqrt(p * (1 - p) / n)    # noqa: E731
    assert abs(masked - 0.8) < 5 * sd(0.8)
    assert abs(same - (0.1 + 0.1 / V)) < 5 * sd(0.1)
    assert abs(other - 0.1 * (V - 1) / V) < 5 * sd(0.1)
    assert inputs.max() == V and inputs.min() >= 0


def test_masking_is_reproducible_and_the_fixed_one_is_fixed():
    x = minigen.randint(0, V, (8, 64))
    minigen.manual_seed(3)
    a = mask_tokens(x, V)
    minigen.manual_seed(3)
    b = mask_tokens(x, V)
    assert all((p.cpu().numpy() == q.cpu().numpy()).all() for p, q in zip(a, b))
    w = validation_windows(64)
    assert w.shape == (1600, 64)
    i1, t1 = fixed_masking(w, V)
    i2, t2 = fixed_masking(w, V)
    assert (i1 == i2).all() and (t1 == t2).all()
    # the same questions written out with NumPy alone (draws u, r, z from default_rng(1234))
    g = numpy.random.default_rng(1234)
    u, r, z = g.random(w.shape), g.random(w.shape), g.integers(0, V, w.shape)
    c = u < 0.15
    ref = numpy.where(c & (r < 0.8), V, numpy.where(c & (r >= 0.8) & (r < 0.9), z, w))
    assert (i1 == ref).all() and (t1 == numpy.where(c, w, -1)).all()
    # the first validation window is the start of the last 10% of the text
    from minigen.models.datasets import DATASETS
    assert (w[0] == DATASETS["shakespeare"].split[1][:64]).all()


# ----------------------------------------------------------------------------- the loss
def test_loss_counts_only_the_chosen_positions():
    minigen.manual_seed(0)
    model = tiny()
    x = minigen.tensor(validation_windows(32)[:6])
    draws = (minigen.rand(x.shape), minigen.rand(x.shape), minigen.randint(0, V, x.shape))
    inputs, targets = mask_tokens(x, V, draws)
    loss = model.loss(x, masking=(inputs, targets)).item()
    # reference: -log softmax at the chosen positions only, averaged over them (NumPy, float64)
    logits = model(inputs).cpu().numpy().astype(numpy.float64)
    t = targets.cpu().numpy()
    lse = numpy.log(numpy.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
    chosen = t != -1
    ref = (lse[chosen] - numpy.take_along_axis(logits, numpy.maximum(t, 0)[..., None], -1)[..., 0][chosen]).mean()
    assert loss == pytest.approx(ref, rel=1e-5)
    # perturb the original character at an unchosen position (same draws, same inputs): the
    # loss does not change
    b, p = numpy.argwhere(~chosen)[0]
    x2 = x.cpu().numpy().copy()
    x2[b, p] = (x2[b, p] + 1) % V
    _, targets2 = mask_tokens(minigen.tensor(x2), V, draws)
    assert model.loss(None, masking=(inputs, targets2)).item() == loss
    # ... while asking about it would change it
    t3 = t.copy()
    t3[b, p] = x2[b, p]                  # (as if the position had been chosen)
    assert model.loss(x, masking=(inputs, minigen.tensor(t3))).item() != loss
    # and the gradient of the logits is zero at every unchosen position
    out = model(inputs)
    out.retain_grad()
    F.cross_entropy(out.reshape(-1, V), targets.reshape(-1), ignore_index=-1).backward()
    g = out.grad.cpu().numpy()
    assert (g[~chosen] == 0).all() and (abs(g[chosen]).sum(-1) > 0).all()


def test_no_causal_mask_position_zero_sees_the_last_token(device):
    minigen.manual_seed(0)
    model = tiny().to(device)
    x = numpy.random.default_rng(0).integers(0, V, (1, 32))
    y = x.copy()
    y[0, -1] = (y[0, -1] + 7) % V
    a = model(minigen.tensor(x, device=device)).cpu().numpy()
    b = model(minigen.tensor(y, device=device)).cpu().numpy()
    assert abs(a[0, 0] - b[0, 0]).max() > 1e-4          # the first output reads the last token
    z = x.copy()
    z[0, 0] = (z[0, 0] + 7) % V
    c = model(minigen.tensor(z, device=device)).cpu().numpy()
    assert abs(a[0, -1] - c[0, -1]).max() > 1e-4         # and the last reads the first



def test_attention_maps_are_the_layers_own_and_look_both_ways():
    minigen.manual_seed(0)
    model = tiny()
    model.eval()
    x = minigen.tensor(validation_windows(32)[:3])
    A = model.attention(x)
    assert A.shape == (2, 3, 2, 32, 32)
    numpy.testing.assert_allclose(A.sum(-1), 1.0, atol=1e-5)
    assert A[..., 0, -1].min() > 0                    # position 0 attends to the last one
    # the hooks are gone afterwards and the first layer's weights are its self_attn's own
    assert not model.encoder.layers[0].self_attn._forward_hooks
    h = model.wte(x) + model.wpe(minigen.arange(32))
    a = model.encoder.layers[0].norm1(h)
    w = model.encoder.layers[0].self_attn(a, a, a, need_weights=True, average_attn_weights=False)[1]
    numpy.testing.assert_allclose(A[0], w.cpu().numpy(), atol=1e-6)

# ----------------------------------------------------------------------------- training
def test_a_tiny_batch_overfits(device):
    minigen.manual_seed(0)
    model = build_bert(n_layer=2, n_head=2, n_embd=32, dim_feedforward=64, block_size=16).to(device)
    x = validation_windows(16)[:8]
    inputs, targets = (minigen.tensor(a, device=device) for a in fixed_masking(x, V))
    opt = minigen.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(120):
        opt.zero_grad()
        loss = model.loss(None, masking=(inputs, targets))
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert first > 3.5 and loss.item() < 0.05
    assert model.masked_accuracy(inputs, targets) == 1.0


def _three_steps(seed):
    minigen.manual_seed(seed)
    model = tiny()
    opt = minigen.optim.AdamW(model.parameters(), lr=1e-3)
    x = minigen.tensor(validation_windows(32)[:8])
    losses = [training_step(model, opt, (x, x)).item() for _ in range(3)]
    return losses, model.head.weight.cpu().numpy().copy()


def test_determinism_under_a_seed():
    a, b, c = _three_steps(1), _three_steps(1), _three_steps(2)
    assert a[0] == b[0] and (a[1] == b[1]).all()
    assert a[0] != c[0]


def test_checkpoint_round_trip_and_the_vocabulary_in_it(tmp_path, device):
    minigen.manual_seed(0)
    model = tiny().to(device)
    opt = minigen.optim.AdamW(model.parameters(), lr=1e-3)
    x = minigen.tensor(validation_windows(32)[:8], device=device)
    training_step(model, opt, (x, x))
    path = os.path.join(tmp_path, "b.npz")
    save_checkpoint(path, model, opt, meta={"model": "bert", "config": model.config()})
    other = tiny().to(device)
    load_checkpoint(path, other, expect={"model": "bert", "config": other.config()})
    model.eval(), other.eval()
    assert (model(x).cpu().numpy() == other(x).cpu().numpy()).all()
    assert model.fill_mask("to be or not to [MASK]e") == other.fill_mask("to be or not to [MASK]e")
    # a model of another vocabulary is refused
    swapped = model.chars[1] + model.chars[0] + model.chars[2:]
    with pytest.raises(Exception, match="config"):
        load_checkpoint(path, tiny(), expect={"model": "bert", "config": dict(model.config(), chars=swapped)})


def test_cpu_and_device_agree(device):
    minigen.manual_seed(0)
    cpu = tiny()
    dev = tiny().to(device)
    dev.load_state_dict(cpu.state_dict())
    x = validation_windows(32)[:4]
    inputs, targets = fixed_masking(x, V)
    a = cpu.loss(None, masking=(minigen.tensor(inputs), minigen.tensor(targets)))
    b = dev.loss(None, masking=(minigen.tensor(inputs, device=device), minigen.tensor(targets, device=device)))
    a.backward(), b.backward()
    assert b.item() == pytest.approx(a.item(), rel=1e-5)
    numpy.testing.assert_allclose(dev.wte.weight.grad.cpu().numpy(), cpu.wte.weight.grad.cpu().numpy(), atol=1e-6)


# ----------------------------------------------------------------------------- registry and CLI
def test_quick_run_through_the_registry_and_sample(tmp_path, capsys):
    from minigen import cli
    out = tmp_path / "r"
    assert cli.main(["train", "bert", "--quick", "--no-progress", "--out", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    assert r["masked_tokens"] == int((fixed_masking(validation_windows(32), V)[1] != -1).sum()) and 0 <= r["masked_accuracy"] <= 1
    assert r["masked_bits_per_char"] == pytest.approx(r["masked_nats_per_char"] / math.log(2))
    assert "to be or not to [MASK]e" in (out / "samples.txt").read_text()
    capsys.readouterr()
    txt = tmp_path / "f.txt"
    assert cli.main(["sample", "bert", "--checkpoint", str(out / "last.npz"), "--prompt",
                     "to be or not to [MASK]e", "--top-k", "3", "--out", str(txt)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("'to be or not to [MASK]e' -> 'to be or not to ") and "[MASK] 1:" in printed
    assert txt.read_text() == printed
    for prompt, match in (("to be", "no \\[MASK\\]"), ("to b\u00e9 [MASK]", "not in the vocabulary"),
                          ("a" * 32 + MASK, "33 tokens long")):
        assert cli.main(["sample", "bert", "--checkpoint", str(out / "last.npz"), "--prompt", prompt]) == 1
        assert __import__("re").search(match, capsys.readouterr().err)


def test_evaluate_uses_the_fixed_questions():
    minigen.manual_seed(0)
    model = tiny()
    a, b = evaluate_bert(model), evaluate_bert(model)
    assert a == b and a["masked_tokens"] == int((fixed_masking(validation_windows(32), V)[1] != -1).sum())
    model.train()
    assert model.training                       # evaluate leaves the mode as it found it


# ----------------------------------------------------------------------------- fill_mask
def test_fill_mask_and_its_errors():
    minigen.manual_seed(0)
    model = tiny()
    filled, cands = model.fill_mask("to be or not to [MASK]e", top_k=4)
    assert filled.startswith("to be or not to ") and filled.endswith("e") and len(filled) == 18
    assert len(cands) == 1 and len(cands[0]) == 4 and filled[16] == cands[0][0][0]
    probs = [p for _, p in cands[0]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    two, c2 = model.fill_mask("[MASK]o be or not to b[MASK]")
    assert len(two) == 18 and len(c2) == 2 and len(c2[0]) == 5
    # the filled character is the argmax of the model's distribution at that position
    ids = [model.chars.index(c) for c in "to be or not to "] + [V, model.chars.index("e")]
    p = F.softmax(model(minigen.tensor([ids]))[0, 16], dim=-1).cpu().numpy()
    assert model.chars[int(p.argmax())] == filled[16] and cands[0][0][1] == pytest.approx(float(p.max()), rel=1e-6)
    with pytest.raises(ValueError, match=r"no \[MASK\] to fill"):
        model.fill_mask("to be or not to be")
    with pytest.raises(ValueError, match=r"'\u00e9' are not in the vocabulary"):
        model.fill_mask("to b\u00e9 or [MASK]")
    with pytest.raises(ValueError, match="33 tokens long .* context of 32"):
        model.fill_mask("a" * 32 + MASK)
    with pytest.raises(ValueError, match="top_k"):
        model.fill_mask("[MASK]", top_k=0)
    with pytest.raises(TypeError, match="must be a str"):
        model.fill_mask(3)
    with pytest.raises(RuntimeError, match="without its characters"):
        BERT(V, 32, **TINY).fill_mask("[MASK]")
    with pytest.raises(ValueError, match="trains on 'shakespeare'"):
        build_bert("names")


# ----------------------------------------------------------------------------- the PyTorch twin
def test_the_pytorch_twin_matches_with_copied_weights():
    torch = pytest.importorskip("torch")
    from minigen.bench.torch_twins import torch_bert, torch_mask_tokens
    for norm_first in (True, False):
        minigen.manual_seed(0)
        model = tiny(norm_first=norm_first)
        twin = torch_bert(model.config())
        twin.load_state_dict({k: torch.from_numpy(v.cpu().numpy().copy()) for k, v in model.state_dict().items()})
        inputs, targets = fixed_masking(validation_windows(32)[:4], V)
        a = model.loss(None, masking=(minigen.tensor(inputs), minigen.tensor(targets)))
        a.backward()
        logits = twin(torch.tensor(inputs))
        b = torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.tensor(targets).reshape(-1), ignore_index=-1)
        b.backward()
        numpy.testing.assert_allclose(model(minigen.tensor(inputs)).cpu().numpy(), logits.detach().cpu().numpy(), atol=2e-5)
        assert a.item() == pytest.approx(b.item(), rel=1e-5)
        tg = dict(twin.named_parameters())
        for name, p in model.named_parameters():
            numpy.testing.assert_allclose(p.grad.cpu().numpy(), tg[name].grad.cpu().numpy(), atol=2e-5, err_msg=name)
    # the twin's masking follows the same rule
    torch.manual_seed(0)
    x = torch.randint(0, V, (400, 500))
    inputs, targets = torch_mask_tokens(x, V)
    chosen = targets != -1
    assert abs(chosen.float().mean().item() - 0.15) < 0.004
    assert abs((inputs == V)[chosen].float().mean().item() - 0.8) < 0.012


def test_five_adamw_steps_agree_with_the_twin_given_the_same_masks():
    torch = pytest.importorskip("torch")
    from minigen.bench.torch_twins import torch_bert
    minigen.manual_seed(0)
    model = tiny()
    twin = torch_bert(model.config())
    twin.load_state_dict({k: torch.from_numpy(v.cpu().numpy().copy()) for k, v in model.state_dict().items()})
    opt = minigen.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.01)
    topt = torch.optim.AdamW(twin.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.01)
    x = validation_windows(32)[:16]
    for s in range(5):
        inputs, targets = fixed_masking(x, V, seed=s)
        opt.zero_grad()
        a = model.loss(None, masking=(minigen.tensor(inputs), minigen.tensor(targets)))
        a.backward()
        opt.step()
        topt.zero_grad()
        b = torch.nn.functional.cross_entropy(twin(torch.tensor(inputs)).reshape(-1, V),
                                              torch.tensor(targets).reshape(-1), ignore_index=-1)
        b.backward()
        topt.step()
        assert a.item() == pytest.approx(b.item(), rel=1e-5)
    tp = dict(twin.named_parameters())
    E = model.n_embd
    for name, p in model.named_parameters():
        a, b = p.cpu().numpy(), tp[name].detach().cpu().numpy()
        if name.endswith("in_proj_bias"):
            # the key bias b_k adds q . b_k to every score of a row, which the softmax cancels:
            # its gradient is 0 up to rounding (~1e-9), and Adam's g / (sqrt(v) + 1e-8) turns
            # each library's rounding into steps of up to lr; it changes no output
            a, b = numpy.delete(a, numpy.s_[E:2 * E]), numpy.delete(b, numpy.s_[E:2 * E])
        numpy.testing.assert_allclose(a, b, atol=1e-5, err_msg=name)
