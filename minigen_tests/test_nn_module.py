"""Module semantics (minigen/nn/module.py) and the containers (minigen/nn/container.py), as
PyTorch defines them: registration, traversal order and de-duplication, train/eval, moving and
casting without replacing Parameter objects, zero_grad, apply, state dict keys, strict loading
that leaves a model unchanged on error, loading a PyTorch state dict by key, and print(model).
"""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import minigen
import minigen.nn as nn


def T(a, device, dtype=None, grad=False):
    return minigen.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def build(m):
    """A nested model from the module namespace ``m`` (minigen.nn or torch.nn): Sequential
    (with an OrderedDict), ModuleList, ModuleDict, nested Sequential, every layer kind."""
    return m.Sequential(OrderedDict([
        ("embed", m.Embedding(11, 6, padding_idx=0)),
        ("flat", m.Flatten()),
        ("enc", m.Sequential(m.Linear(18, 16), m.GELU(), m.Dropout(0.1), m.Linear(16, 16),
                             m.LeakyReLU(0.2))),
        ("blocks", m.ModuleList([m.Linear(16, 16) for _ in range(3)] + [m.SiLU(), m.ELU()])),
        ("heads", m.ModuleDict({"mu": m.Linear(16, 4), "logvar": m.Linear(16, 4, bias=False)})),
        ("out", m.Sequential(m.Softplus(), m.Tanh(), m.Identity())),
    ]))


def run(model, idx):
    """Forward through build()'s model, written once for minigen and torch alike."""
    h = model.enc(model.flat(model.embed(idx)))
    for blk in model.blocks:
        h = blk(h)
    return model.out(model.heads["mu"](h)), model.heads["logvar"](h)


EXPECTED_KEYS = [
    "embed.weight", "enc.0.weight", "enc.0.bias", "enc.3.weight", "enc.3.bias",
    "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias", "blocks.2.weight",
    "blocks.2.bias", "heads.mu.weight", "heads.mu.bias", "heads.logvar.weight",
]

EXPECTED_REPR = """Sequential(
  (embed): Embedding(11, 6, padding_idx=0)
  (flat): Flatten(start_dim=1, end_dim=-1)
  (enc): Sequential(
    (0): Linear(in_features=18, out_features=16, bias=True)
    (1): GELU(approximate='none')
    (2): Dropout(p=0.1, inplace=False)
    (3): Linear(in_features=16, out_features=16, bias=True)
    (4): LeakyReLU(negative_slope=0.2)
  )
  (blocks): ModuleList(
    (0-2): 3 x Linear(in_features=16, out_features=16, bias=True)
    (3): SiLU()
    (4): ELU(alpha=1.0)
  )
  (heads): ModuleDict(
    (mu): Linear(in_features=16, out_features=4, bias=True)
    (logvar): Linear(in_features=16, out_features=4, bias=False)
  )
  (out): Sequential(
    (0): Softplus(beta=1.0, threshold=20.0)
    (1): Tanh()
    (2): Identity()
  )
)"""


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.scale = nn.Parameter(minigen.ones(1))
        self.register_buffer("running", minigen.zeros(4))
        self.register_buffer("steps", minigen.zeros(1, dtype=minigen.int64))
        self.register_buffer("cache", minigen.zeros(2), persistent=False)
        self.body = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        self.plain = minigen.ones(2)  # a plain tensor attribute is not state

    def forward(self, x):
        return self.body(self.fc1(x)) * self.scale


# ----------------------------------------------------------------------------- registration
def test_registration_and_kinds():
    m = Net()
    assert [n for n, _ in m.named_parameters()] == [
        "scale", "fc1.weight", "fc1.bias", "body.0.weight", "body.0.bias"]
    assert [n for n, _ in m.named_buffers()] == ["running", "steps", "cache"]
    assert [n for n, _ in m.named_children()] == ["fc1", "body"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "body", "body.0", "body.1"]
    assert list(m.state_dict()) == ["scale", "running", "steps", "fc1.weight", "fc1.bias",
                                    "body.0.weight", "body.0.bias"]
    assert "plain" not in m.state_dict() and "cache" not in m.state_dict()
    assert isinstance(m.scale, nn.Parameter) and m.scale.requires_grad


def test_assignment_rules():
    m = Net()
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'scale'"):
        m.scale = minigen.ones(1)
    m.scale = None
    assert "scale" not in [n for n, _ in m.named_parameters()]
    with pytest.raises(TypeError, match="as child module 'fc1'"):
        m.fc1 = minigen.ones(1)
    m.running = minigen.ones(4)  # a buffer can be replaced by a tensor
    assert m.state_dict()["running"].cpu().numpy().tolist() == [1, 1, 1, 1]
    # re-assigning a registered name keeps its place in the order, as in PyTorch
    new_fc = nn.Linear(3, 4)
    m.fc1 = new_fc
    assert [n for n, _ in m.named_children()] == ["fc1", "body"] and m.fc1 is new_fc
    m.scale = nn.Parameter(minigen.ones(1))
    assert list(m.state_dict())[:2] == ["scale", "running"]
    del m.fc1
    assert "fc1" not in dict(m.named_children())
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'fc1'"):
        m.fc1

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(minigen.ones(1))
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_add_module_validates_names():
    m = nn.Module()
    with pytest.raises(KeyError, match="can't contain"):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(KeyError, match="can't contain"):
        m.add_module("", nn.ReLU())
    with pytest.raises(KeyError, match="attribute 'train' already exists"):
        nn.ModuleDict({"train": nn.ReLU()})
    with pytest.raises(TypeError, match="not a Module"):
        m.add_module("x", 3)


# ----------------------------------------------------------------------------- order and dedup
def test_shared_module_and_tied_parameter():
    lin = nn.Linear(2, 2)
    s = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(s.parameters())) == 2
    assert [n for n, _ in s.named_parameters()] == ["0.weight", "0.bias"]
    assert [n for n, _ in s.named_modules()] == ["", "0", "1"]
    assert len(list(s.children())) == 2
    # the state dict keeps a shared module under both its names, as PyTorch does
    assert list(s.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight  # tied
    pair = nn.ModuleList([a, b])
    assert [n for n, _ in pair.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert list(pair.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_shared_module_state_dict_against_torch():
    torch = pytest.importorskip("torch")
    for m in (nn, torch.nn):
        lin = m.Linear(2, 2)
        keys = list(m.Sequential(lin, m.ReLU(), m.Sequential(lin)).state_dict())
        assert keys == ["0.weight", "0.bias", "2.0.weight", "2.0.bias"]


def test_parameters_recurse_false_and_buffers():
    m = Net()
    assert [n for n, _ in m.named_parameters(recurse=False)] == ["scale"]
    assert len(list(m.buffers())) == 3 and len(list(m.buffers(recurse=False))) == 3
    assert len(list(m.modules())) == 5


# ----------------------------------------------------------------------------- modes
def test_train_eval_propagate_through_containers(device):
    model = build(nn)
    assert all(mod.training for mod in model.modules())
    assert model.eval() is model
    assert not any(mod.training for mod in model.modules())
    x = T(np.ones((4, 16)), device)
    drop = model.enc[2]
    assert drop(x) is x
    model.train()
    assert all(mod.training for mod in model.modules())
    model.train(False)
    assert not model.heads["mu"].training
    with pytest.raises(ValueError, match="boolean"):
        model.train("yes")


def test_train_calls_overridden_train_of_children():
    calls = []

    class Frozen(nn.Linear):
        def train(self, mode=True):
            calls.append(mode)
            return super().train(False)  # stays in eval whatever the parent says
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(Frozen(2, 2)))
    m.train()
    assert calls == [True] and not m[1][0].training and m[0].training


def test_requires_grad_(device):
    m = Net()
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    m.requires_grad_()
    assert all(p.requires_grad for p in m.parameters())


# ----------------------------------------------------------------------------- devices, dtypes
def test_to_double_float_keep_parameter_objects(device):
    m = Net()
    params = {n: p for n, p in m.named_parameters()}
    m(T(np.ones((2, 3)), "cpu", dtype="float32")).sum().backward()
    assert m.to(device) is m
    assert m.double() is m
    for n, p in m.named_parameters():
        assert p is params[n] and p.device == device and p.dtype == minigen.float64
        assert p.grad.device == device and p.grad.dtype == minigen.float64
        assert isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf
    assert m.running.device == device and m.running.dtype == minigen.float64
    assert m.steps.dtype == minigen.int64  # integer buffers keep their dtype
    assert m.fc1.weight is params["fc1.weight"]
    y = m(T(np.ones((2, 3)), device, dtype="float64"))
    assert y.dtype == minigen.float64 and y.device == device
    m.float().cpu()
    assert all(p.dtype == minigen.float32 and p.device == "cpu" for p in m.parameters())
    assert all(p is params[n] for n, p in m.named_parameters())
    with pytest.raises(TypeError, match="floating"):
        m.to(minigen.int64)


def test_zero_grad(device):
    m = Net().to(device)
    m(T(np.ones((2, 3)), device, dtype="float32")).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    for p in m.parameters():
        assert p.grad.shape == p.shape and not p.grad.cpu().numpy().any() and p.grad.device == device
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_apply_visits_children_first():
    seen = []
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Tanh()))
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    assert seen == ["Linear", "ReLU", "Tanh", "Sequential", "Sequential"]

    def init_weights(mod):
        if isinstance(mod, nn.Linear):
            nn.init.constant_(mod.weight, 0.5)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
    build(nn).apply(init_weights)
    model = build(nn).apply(init_weights)
    assert (model.blocks[1].weight.cpu().numpy() == 0.5).all() and not model.enc[0].bias.cpu().numpy().any()


def test_deepcopy_is_independent(device):
    m = build(nn).to(device)
    c = copy.deepcopy(m)
    assert repr(c) == repr(m)
    for (n, p), (n2, q) in zip(m.named_parameters(), c.named_parameters()):
        assert n == n2 and p is not q and isinstance(q, nn.Parameter) and q.requires_grad
        np.testing.assert_array_equal(p.cpu().numpy(), q.cpu().numpy())
    with minigen.no_grad():
        c.enc[0].weight.fill_(0.0)
    assert m.enc[0].weight.cpu().numpy().any()


# ----------------------------------------------------------------------------- state dict
def test_state_dict_keys_of_a_nested_model():
    model = build(nn)
    assert list(model.state_dict()) == EXPECTED_KEYS
    sd = model.state_dict()
    assert all(not v.requires_grad for v in sd.values())
    assert model.state_dict(keep_vars=True)["enc.0.weight"] is model.enc[0].weight
    assert list(model.state_dict(prefix="model."))[0] == "model.embed.weight"


def test_state_dict_keys_equal_torchs():
    torch = pytest.importorskip("torch")
    assert list(build(torch.nn).state_dict()) == EXPECTED_KEYS


def snapshot(model):
    return {k: v.cpu().numpy().copy() for k, v in model.state_dict().items()}


def test_load_state_dict_round_trip_and_copies(device):
    a, b = build(nn).to(device), build(nn).to(device)
    idx = T(np.random.default_rng(0).integers(0, 11, (5, 3)), device)
    a.eval()
    b.eval()
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for ya, yb in zip(run(a, idx), run(b, idx)):
        np.testing.assert_array_equal(ya.cpu().numpy(), yb.cpu().numpy())
    # the loaded values are copies: changing the source changes nothing in b
    with minigen.no_grad():
        a.enc[0].weight.fill_(3.0)
    assert not (b.enc[0].weight.cpu().numpy() == 3.0).all()


def test_load_state_dict_casts_and_moves(device):
    m = nn.Linear(3, 2, device=device)
    w = np.arange(6, dtype=np.float64).reshape(2, 3)
    other = "cpu" if device == "cuda" else "cuda"
    m.load_state_dict({"weight": w, "bias": T([1.0, 2.0], other, dtype="float64")})
    assert m.weight.dtype == minigen.float32 and m.weight.device == device
    assert m.bias.device == device
    np.testing.assert_array_equal(m.weight.cpu().numpy(), w)
    np.testing.assert_array_equal(m.bias.cpu().numpy(), [1, 2])


def test_load_state_dict_size_mismatch_names_key_and_shapes_and_changes_nothing(device):
    model = build(nn).to(device)
    before = snapshot(model)
    params_before = [p.array for p in model.parameters()]
    sd = {k: v.cpu().numpy() for k, v in build(nn).state_dict().items()}
    sd["blocks.1.weight"] = np.zeros((16, 15), dtype=np.float32)
    for strict in (True, False):
        with pytest.raises(RuntimeError) as e:
            model.load_state_dict(sd, strict=strict)
        msg = str(e.value)
        assert "size mismatch for blocks.1.weight" in msg
        assert "[16, 15]" in msg and "[16, 16]" in msg
        assert "Sequential" in msg
    after = snapshot(model)
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert all(p.array is d for p, d in zip(model.parameters(), params_before))


def test_load_state_dict_missing_and_unexpected(device):
    model = build(nn).to(device)
    before = snapshot(model)
    sd = dict(build(nn).state_dict())
    del sd["heads.mu.bias"]
    sd["heads.sigma.weight"] = minigen.zeros(4, 16)
    with pytest.raises(RuntimeError) as e:
        model.load_state_dict(sd)
    msg = str(e.value)
    assert 'Missing key(s) in state_dict: "heads.mu.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "heads.sigma.weight"' in msg
    after = snapshot(model)
    assert all(np.array_equal(before[k], after[k]) for k in before)  # nothing loaded
    result = model.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["heads.mu.bias"]
    assert result.unexpected_keys == ["heads.sigma.weight"]
    np.testing.assert_array_equal(model.enc[0].weight.cpu().numpy(), sd["enc.0.weight"].cpu().numpy())
    np.testing.assert_array_equal(model.heads["mu"].bias.cpu().numpy(), before["heads.mu.bias"])


def test_load_pytorch_state_dict_gives_identical_outputs(device):
    """A torch model's state_dict (torch tensors) loads into the same minigen architecture by
    key, and both compute the same outputs (float32: to rounding; float64: to 1e-12)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tmodel = build(torch.nn).eval()
    model = build(nn).to(device).eval()
    model.load_state_dict(tmodel.state_dict())
    idx_np = np.random.default_rng(1).integers(0, 11, (7, 3))
    with torch.no_grad():
        want = [t.cpu().numpy() for t in run(tmodel, torch.tensor(idx_np))]
    got = [t.cpu().numpy() for t in run(model, T(idx_np, device))]
    for g, w in zip(got, want):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    tmodel.double()
    model.double()
    model.load_state_dict(tmodel.state_dict())
    with torch.no_grad():
        want = [t.cpu().numpy() for t in run(tmodel, torch.tensor(idx_np))]
    got = [t.cpu().numpy() for t in run(model, T(idx_np, device))]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_gradients_match_pytorch_after_loading(device):
    """Same weights, same loss: the same parameter gradients, key by key (float64)."""
    torch = pytest.importorskip("torch")
    tmodel = build(torch.nn).double().eval()
    model = build(nn).double().to(device).eval()
    model.load_state_dict(tmodel.state_dict())
    idx_np = np.random.default_rng(2).integers(1, 11, (4, 3))
    mu, lv = run(tmodel, torch.tensor(idx_np))
    (mu.square().sum() + lv.exp().sum()).backward()
    mu, lv = run(model, T(idx_np, device))
    (mu.square().sum() + lv.exp().sum()).backward()
    tgrads = {n: p.grad.cpu().numpy() for n, p in tmodel.named_parameters()}
    for n, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.cpu().numpy(), tgrads[n], rtol=1e-10, atol=1e-12, err_msg=n)


# ----------------------------------------------------------------------------- printing
def test_print_model_is_pytorchs():
    assert repr(build(nn)) == EXPECTED_REPR


def test_print_model_equals_torch_repr():
    torch = pytest.importorskip("torch")
    assert repr(build(torch.nn)) == repr(build(nn))


def test_repr_of_custom_module_with_extra_repr():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.ReLU()

        def extra_repr(self):
            return "factor=2"
    assert repr(Scale()) == "Scale(\n  factor=2\n  (inner): ReLU()\n)"
    assert repr(nn.Sequential()) == "Sequential()"
    assert repr(nn.ModuleList()) == "ModuleList()"


# ----------------------------------------------------------------------------- Sequential
def test_sequential_indexing_and_slicing(device):
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and list(s) == [a, b, c]
    assert s[0] is a and s[-1] is c and s[-3] is a
    with pytest.raises(IndexError, match="index 3 is out of range"):
        s[3]
    with pytest.raises(IndexError, match="index -4"):
        s[-4]
    tail = s[1:]
    assert isinstance(tail, nn.Sequential) and list(tail) == [b, c]
    assert list(tail.state_dict()) == ["2.weight", "2.bias"]  # original names kept
    assert list(s[::2]) == [a, c]
    x = T(np.ones((4, 2)), device, dtype="float32")
    s.to(device)
    np.testing.assert_array_equal(s(x).cpu().numpy(), c(b(a(x))).cpu().numpy())
    s[1] = nn.Tanh()
    assert isinstance(s[1], nn.Tanh)


def test_sequential_from_ordered_dict():
    s = nn.Sequential(OrderedDict([("conv", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in s.named_children()] == ["conv", "act"]
    assert s.conv is s[0] and list(s.state_dict()) == ["conv.weight", "conv.bias"]


def test_sequential_append_insert_extend_delete():
    s = nn.Sequential(nn.Linear(2, 2))
    relu, tanh, last = nn.ReLU(), nn.Tanh(), nn.Linear(2, 1)
    assert s.append(relu) is s
    s.insert(1, tanh)
    assert list(s)[1:] == [tanh, relu] and [n for n, _ in s.named_children()] == ["0", "1", "2"]
    s.insert(-1, nn.SiLU())
    assert isinstance(s[2], nn.SiLU) and s[3] is relu
    s.extend([last])
    assert s[-1] is last and list(s.state_dict())[-1] == "4.bias"
    del s[1]
    assert [n for n, _ in s.named_children()] == ["0", "1", "2", "3"] and s[-1] is last
    assert s.pop(-1) is last and len(s) == 3
    s += nn.Sequential(nn.ReLU())
    assert len(s) == 4 and len(s + nn.Sequential(nn.Tanh())) == 5
    with pytest.raises(IndexError):
        s.insert(10, nn.ReLU())
    with pytest.raises(ValueError, match="Sequential"):
        s + nn.ModuleList()


# ----------------------------------------------------------------------------- ModuleList
def test_module_list():
    layers = [nn.Linear(2, 2) for _ in range(3)]
    ml = nn.ModuleList(layers)
    assert len(ml) == 3 and list(ml) == layers and ml[-1] is layers[2]
    assert [n for n, _ in ml.named_parameters()][:2] == ["0.weight", "0.bias"]
    part = ml[1:]
    assert isinstance(part, nn.ModuleList) and list(part) == layers[1:]
    assert list(part.state_dict())[:1] == ["0.weight"]  # a slice is a fresh list: renumbered
    extra = nn.ReLU()
    assert ml.append(extra) is ml and ml[3] is extra
    ml.extend([nn.Tanh()])
    ml += [nn.SiLU()]
    assert len(ml) == 6 and isinstance(ml[5], nn.SiLU)
    ml.insert(0, nn.ELU())
    assert isinstance(ml[0], nn.ELU) and ml[1] is layers[0]
    assert [n for n, _ in ml.named_children()] == [str(i) for i in range(7)]
    ml[1] = nn.Identity()
    assert isinstance(ml[1], nn.Identity)
    del ml[0]
    assert isinstance(ml[0], nn.Identity) and [n for n, _ in ml.named_children()][-1] == "5"
    assert ml.pop(0) is not None and len(ml) == 5
    both = ml + nn.ModuleList([nn.ReLU()])
    assert isinstance(both, nn.ModuleList) and len(both) == 6
    with pytest.raises(IndexError, match="index 9"):
        ml[9]
    with pytest.raises(TypeError, match="iterable"):
        ml.extend(nn.Linear(2, 2))
    with pytest.raises(NotImplementedError, match="forward"):
        ml(minigen.ones(2))


# ----------------------------------------------------------------------------- ModuleDict
def test_module_dict():
    mu, lv = nn.Linear(2, 1), nn.Linear(2, 1)
    d = nn.ModuleDict({"mu": mu})
    d["logvar"] = lv
    assert list(d) == ["mu", "logvar"] and list(d.keys()) == ["mu", "logvar"]
    assert list(d.values()) == [mu, lv] and list(d.items())[1] == ("logvar", lv)
    assert "mu" in d and "sigma" not in d and len(d) == 2 and d["mu"] is mu
    assert list(d.state_dict()) == ["mu.weight", "mu.bias", "logvar.weight", "logvar.bias"]
    d.update([("extra", nn.ReLU())])
    d.update(nn.ModuleDict({"mu": nn.Tanh()}))
    assert isinstance(d["mu"], nn.Tanh) and list(d) == ["mu", "logvar", "extra"]
    assert d.pop("extra") is not None and "extra" not in d
    del d["mu"]
    assert list(d) == ["logvar"]
    d.clear()
    assert len(d) == 0
    with pytest.raises(KeyError):
        d["mu"]
    with pytest.raises(ValueError, match="element #0"):
        d.update([nn.ReLU()])
