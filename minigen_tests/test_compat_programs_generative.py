"""What well-known generative / language-model PyTorch programs need from minigen.

Each test pins one behaviour such a program relies on (CLIP, llama2.c, makemore, the Annotated
Transformer, ...), compared with real PyTorch on forward values and gradients from the same
inputs, or checked with minigen.gradcheck in float64.
"""
import numpy as np
import pytest

import minigen

torch = pytest.importorskip("torch")


def _mg(a, requires_grad=False):
    return minigen.tensor(np.array(a), requires_grad=requires_grad)


def _pt(a, requires_grad=False):
    return torch.tensor(np.array(a), requires_grad=requires_grad)


def _close(a, b, atol=1e-10):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, atol=atol, rtol=1e-7)


# ---- F.multi_head_attention_forward (CLIP's AttentionPool2d) ---------------------------------

def _mha_args(lib, arrs):
    t = _mg if lib is minigen else _pt
    return {k: t(v, requires_grad=True) for k, v in arrs.items()}


@pytest.mark.parametrize("separate", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("masks", ["none", "float", "bool+pad"])
def test_multi_head_attention_forward_matches_torch(separate, need_weights, masks):
    R = np.random.RandomState(0)
    L, S, N, E, H, kd = 3, 4, 2, 8, 2, 6
    arrs = dict(q=R.randn(L, N, E), k=R.randn(S, N, kd if separate else E),
                v=R.randn(S, N, kd if separate else E), bias=R.randn(3 * E),
                ow=R.randn(E, E), ob=R.randn(E))
    if separate:
        arrs.update(wq=R.randn(E, E), wk=R.randn(E, kd), wv=R.randn(E, kd))
    else:
        arrs.update(w=R.randn(3 * E, E))
    am = R.randn(L, S) if masks == "float" else (R.rand(L, S) < 0.3)
    if masks != "float":
        am[:, 0] = False  # every query keeps a key (PyTorch gives NaN where all are masked)
    kpm = np.zeros((N, S), bool); kpm[1, -1] = True
    res = []
    for lib in (torch, minigen):
        a = _mha_args(lib, arrs)
        t = _mg if lib is minigen else _pt
        kw = dict(need_weights=need_weights, training=False)
        if masks != "none":
            kw["attn_mask"] = t(am)
        if masks == "bool+pad":
            kw["key_padding_mask"] = t(kpm)
        if separate:
            kw.update(use_separate_proj_weight=True, q_proj_weight=a["wq"], k_proj_weight=a["wk"],
                      v_proj_weight=a["wv"])
        o, w = lib.nn.functional.multi_head_attention_forward(
            a["q"], a["k"], a["v"], E, H, None if separate else a["w"], a["bias"], None, None,
            False, 0.0, a["ow"], a["ob"], **kw)
        loss = (o * o).sum() + (w.sum() * 0.5 if w is not None else 0)
        loss.backward()
        res.append((o, w, {k: v.grad for k, v in a.items()}))
    (to, tw, tg), (mo, mw, mg) = res
    _close(to, mo)
    if need_weights:
        _close(tw, mw)
    else:
        assert mw is None
    for k in tg:
        _close(tg[k], mg[k])


def test_multi_head_attention_forward_bias_kv_zero_attn_unbatched():
    R = np.random.RandomState(1)
    L, E, H = 3, 4, 2
    arrs = dict(q=R.randn(L, E), w=R.randn(3 * E, E), b=R.randn(3 * E), bk=R.randn(1, 1, E),
                bv=R.randn(1, 1, E), ow=R.randn(E, E))
    res = []
    for lib in (torch, minigen):
        t = _mg if lib is minigen else _pt
        a = {k: t(v, requires_grad=True) for k, v in arrs.items()}
        o, w = lib.nn.functional.multi_head_attention_forward(
            a["q"], a["q"], a["q"], E, H, a["w"], a["b"], a["bk"], a["bv"], True, 0.0, a["ow"],
            None, training=True, average_attn_weights=False)
        (o.sum() + (w * w).sum()).backward()
        res.append((o, w, {k: v.grad for k, v in a.items()}))
    (to, tw, tg), (mo, mw, mg) = res
    _close(to, mo)
    _close(tw, mw)
    for k in tg:
        _close(tg[k], mg[k])


def test_multi_head_attention_forward_clear_errors():
    F = minigen.nn.functional
    q = minigen.randn(3, 2, 8)
    with pytest.raises(RuntimeError, match="expected query with embed_dim 6"):
        F.multi_head_attention_forward(q, q, q, 6, 2, minigen.randn(24, 8), None, None, None,
                                       False, 0.0, minigen.randn(8, 8), None)
    with pytest.raises(RuntimeError, match="q_proj_weight"):
        F.multi_head_attention_forward(q, q, q, 8, 2, None, None, None, None, False, 0.0,
                                       minigen.randn(8, 8), None, use_separate_proj_weight=True)
    with pytest.raises(RuntimeError, match="k projection weight of shape"):
        F.multi_head_attention_forward(q, q, q, 8, 2, None, None, None, None, False, 0.0,
                                       minigen.randn(8, 8), None, use_separate_proj_weight=True,
                                       q_proj_weight=minigen.randn(8, 8),
                                       k_proj_weight=minigen.randn(8, 5),
                                       v_proj_weight=minigen.randn(8, 8))


def test_multi_head_attention_forward_gradcheck():
    R = np.random.RandomState(2)
    q = _mg(R.randn(3, 2, 4), True)
    w = _mg(R.randn(12, 4), True)
    ow = _mg(R.randn(4, 4), True)
    F = minigen.nn.functional

    def f(q, w, ow):
        return F.multi_head_attention_forward(q, q, q, 4, 2, w, None, None, None, False, 0.0,
                                              ow, None, need_weights=False)[0]
    assert minigen.gradcheck(f, (q, w, ow))


# ---- torch.distributed (nanoGPT's and llama2.c's train.py import it at the top) ---------------

def test_distributed_imports_and_says_one_process():
    import subprocess
    import sys
    code = (
        "import sys, minigen; sys.modules['torch'] = minigen\n"
        "from torch.distributed import init_process_group, destroy_process_group\n"
        "import torch.distributed as dist, torch\n"
        "assert dist is minigen.distributed and torch.distributed is dist\n"
        "assert not dist.is_available() and not dist.is_initialized()\n"
        "for f in (dist.get_rank, dist.get_world_size, dist.barrier, destroy_process_group):\n"
        "    try: f()\n"
        "    except ValueError as e: assert 'not been initialized' in str(e)\n"
        "    else: raise SystemExit(f.__name__ + ' did not raise')\n"
        "try: init_process_group(backend='nccl')\n"
        "except RuntimeError as e: assert 'single process' in str(e) and 'nccl' in str(e)\n"
        "else: raise SystemExit('init_process_group did not raise')\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    # PyTorch's own message when no group exists is the one minigen repeats
    with pytest.raises(ValueError, match="not been initialized"):
        torch.distributed.get_rank()


# ---- torch.utils.data.distributed.DistributedSampler (the Annotated Transformer imports it) --

@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 5, False),
                                                   (9, 3, True), (7, 1, False)])
def test_distributed_sampler_matches_torch_unshuffled(n, replicas, drop_last):
    from torch.utils.data.distributed import DistributedSampler as TS
    from minigen.utils.data.distributed import DistributedSampler as MS
    data = list(range(n))
    for rank in range(replicas):
        t = TS(data, num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        m = MS(data, num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        assert list(m) == list(t) and len(m) == len(t)


def test_distributed_sampler_shuffle_partitions_and_errors():
    from minigen.utils.data import DataLoader, DistributedSampler
    data = list(range(11))
    parts = [list(DistributedSampler(data, num_replicas=3, rank=r, seed=5)) for r in range(3)]
    assert set(sum(parts, [])) == set(data) and all(len(p) == 4 for p in parts)
    s = DistributedSampler(data, num_replicas=1, rank=0, seed=5)
    first = list(s)
    s.set_epoch(1)
    assert sorted(first) == data and list(s) != first
    loader = DataLoader(data, batch_size=4, sampler=DistributedSampler(data, 2, 1, shuffle=False))
    assert [b.tolist() for b in loader] == [[1, 3, 5, 7], [9, 0]]
    with pytest.raises(RuntimeError, match="num_replicas and rank not given"):
        DistributedSampler(data)
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(data, num_replicas=2, rank=2)


# ---- LU: torch.lu / Tensor.lu, torch.lu_unpack, linalg.lu_factor(_ex), linalg.lu (Glow's
# Invertible1x1Conv: P, L, U = torch.lu_unpack(*Q.lu())) ----------------------------------------

@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (5, 3), (3, 5), (2, 1, 3, 3)])
def test_lu_factor_and_unpack_match_torch(shape):
    A = np.random.RandomState(3).randn(*shape)
    t = torch.linalg.lu_factor(torch.tensor(A))
    m = minigen.linalg.lu_factor(minigen.tensor(A))
    _close(t.LU, m.LU)
    assert m.pivots.dtype == minigen.int32 and (m.pivots.numpy() == t.pivots.numpy()).all()
    for a, b in zip(torch.lu_unpack(*t), minigen.lu_unpack(*m)):
        _close(a, b)
    P, L, U = minigen.linalg.lu(minigen.tensor(A))
    _close(P @ L @ U, A)
    LU, piv = minigen.tensor(A).lu()  # Tensor.lu / torch.lu: the older name
    _close(LU, t.LU)


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3)])
def test_lu_gradients_match_torch(shape):
    R = np.random.RandomState(4)
    A, W = R.randn(*shape), R.randn(*shape)
    grads = []
    for lib in (torch, minigen):
        a = lib.tensor(A, requires_grad=True)
        LU, piv = lib.linalg.lu_factor(a)
        P, L, U = lib.lu_unpack(LU, piv)
        ((LU * lib.tensor(W)).sum() + (L * L).sum() + (U ** 3).sum()).backward()
        grads.append(a.grad)
    _close(grads[0], grads[1], atol=1e-9)
    a = minigen.tensor(R.randn(3, 3), requires_grad=True)
    assert minigen.gradcheck(lambda a: minigen.linalg.lu_factor(a).LU, (a,))


def test_lu_singular_and_errors():
    S = np.array([[1.0, 2, 3], [2, 4, 6], [1, 1, 1]])
    t = torch.linalg.lu_factor_ex(torch.tensor(S))
    m = minigen.linalg.lu_factor_ex(minigen.tensor(S))
    assert int(m.info) == int(t.info) == 3
    _close(t.LU, m.LU)
    with pytest.raises(RuntimeError, match=r"U\[3,3\] is zero"):
        minigen.linalg.lu_factor(minigen.tensor(S))
    assert int(minigen.lu(minigen.tensor(S), get_infos=True)[2]) == 3
    with pytest.raises(RuntimeError, match="LU without pivoting"):
        minigen.linalg.lu_factor(minigen.tensor(S), pivot=False)
    with pytest.raises(RuntimeError, match="2 or more dimensions"):
        minigen.linalg.lu_factor(minigen.tensor([1.0, 2.0]))
    P, L, U = minigen.lu_unpack(*minigen.linalg.lu_factor(minigen.eye(3)), unpack_data=False)
    assert tuple(L.shape) == tuple(U.shape) == (0,) and tuple(P.shape) == (3, 3)


# ---- torch.Size arithmetic (PixelCNN++'s to_one_hot: FloatTensor(t.size() + (n,))) ----------

def test_size_stays_a_size_through_add_mul_and_slices():
    for lib in (torch, minigen):
        s = lib.Size([2, 3])
        for out in (s + (4,), (4,) + s, s[1:], s * 2, 2 * s):
            assert type(out) is lib.Size, (lib.__name__, out)
        assert type(s[0]) is int and s + (4,) == (2, 3, 4) and (1,) + s == (1, 2, 3)
        assert tuple(lib.FloatTensor(s + (4,)).shape) == (2, 3, 4)  # a shape, not data
        with pytest.raises(TypeError):
            s + [1]


# ---- torch.load of files PyTorch's torch.save wrote (llama2.c's sample.py / resume) ----------

def test_load_reads_a_pytorch_checkpoint(tmp_path):
    m = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m(torch.randn(4, 3)).sum().backward()
    opt.step()
    base = torch.arange(10.0)
    obj = {"model": m.state_dict(), "optimizer": opt.state_dict(), "iter": 7,
           "loss": torch.tensor(1.5, dtype=torch.float64), "cfg": {"dim": 4, "name": "x"},
           "view": base[2:8:2], "t": base.reshape(2, 5).t(), "half": torch.ones(2, dtype=torch.float16),
           "bf16": torch.tensor([1.5, -2.25], dtype=torch.bfloat16), "long": torch.tensor([3, -4]),
           "param": torch.nn.Parameter(torch.ones(2)), "size": torch.Size([2, 3]),
           "dtype": torch.float16, "tup": (1, 2.5, None, True)}
    path = tmp_path / "ckpt.pt"
    torch.save(obj, path)
    got = minigen.load(str(path), map_location="cpu")
    assert list(got) == list(obj) and list(got["model"]) == ["weight", "bias"]
    for k in ("view", "t", "half", "long"):
        assert got[k].dtype == np.dtype(str(obj[k].dtype).replace("torch.", ""))
        _close(got[k].numpy(), obj[k].numpy(), atol=0)
    _close(got["model"]["weight"], m.weight.detach().numpy(), atol=0)
    _close(got["bf16"], [1.5, -2.25], atol=0)  # read as float32, exactly
    assert got["bf16"].dtype == np.float32 and got["loss"].dtype == np.float64
    assert isinstance(got["param"], minigen.nn.Parameter) and got["param"].requires_grad
    assert type(got["size"]) is minigen.Size and got["size"] == (2, 3)
    assert got["iter"] == 7 and got["cfg"] == {"dim": 4, "name": "x"} and got["tup"] == (1, 2.5, None, True)
    # the optimizer state carries on where PyTorch left it
    mm = minigen.nn.Linear(3, 2)
    mm.load_state_dict(got["model"])
    mo = minigen.optim.AdamW(mm.parameters(), lr=1e-3)
    mo.load_state_dict(got["optimizer"])
    x = np.random.RandomState(0).randn(4, 3).astype(np.float32)
    for lib, mod, o in ((torch, m, opt), (minigen, mm, mo)):
        o.zero_grad()
        mod(lib.tensor(x)).sum().backward()
        o.step()
    _close(mm.weight, m.weight.detach().numpy(), atol=1e-7)


def test_load_refuses_pytorch_files_holding_code(tmp_path):
    import os

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, path)
    with pytest.raises(minigen.io.CheckpointError, match="holds a pickled .*system.*save a state_dict"):
        minigen.load(str(path))
    assert not marker.exists()


# ---- NumPy's keyword names, as PyTorch reads them (makemore part 4: sum(1, keepdims=True)) --

@pytest.mark.parametrize("call", [
    lambda lib, t: t.sum(1, keepdims=True), lambda lib, t: t.sum(axis=0),
    lambda lib, t: t.mean(axis=1, keepdims=True), lambda lib, t: t.max(axis=1, keepdims=True)[0],
    lambda lib, t: t.var(axis=0, keepdims=True), lambda lib, t: t.std(axis=1),
    lambda lib, t: t.amax(axis=1), lambda lib, t: t.argmax(axis=1, keepdims=True),
    lambda lib, t: t.logsumexp(axis=1), lambda lib, t: t.softmax(axis=1),
    lambda lib, t: t.cumsum(axis=1), lambda lib, t: t.unsqueeze(axis=0),
    lambda lib, t: lib.cat([t, t], axis=1), lambda lib, t: lib.stack([t, t], axis=0),
    lambda lib, t: lib.sum(input=t, axis=1), lambda lib, t: lib.maximum(x1=t, x2=t * 0.5),
])
def test_numpy_keyword_aliases_match_torch(call):
    A = np.random.RandomState(5).randn(3, 4)
    tt = torch.tensor(A, requires_grad=True)
    mt = minigen.tensor(A, requires_grad=True)
    a, b = call(torch, tt), call(minigen, mt)
    _close(a, b)
    if a.is_floating_point():  # argmax gives indices: nothing to differentiate
        a.sum().backward()
        b.sum().backward()
        _close(tt.grad, mt.grad)


def test_numpy_keyword_alias_and_name_together_is_an_error():
    t = minigen.ones(2, 3)
    with pytest.raises(TypeError, match="'dim' and for its NumPy-style alias 'axis'"):
        t.sum(dim=1, axis=1)
    with pytest.raises(TypeError):
        torch.ones(2, 3).sum(dim=1, axis=1)


def test_load_names_pytorchs_old_format(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(minigen.io.CheckpointError, match="old \\(pre-1.6, non-zip\\) format"):
        minigen.load(str(path))
