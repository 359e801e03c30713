"""Op-level workloads: one op (or a short chain) forward and backward, at fixed sizes.

Each ``build_*`` takes a library handle ``lib`` (see harness.Lib) and the workload's sizes and
returns a ``Case`` whose ``step()`` does the work once. minigen and PyTorch share one body,
because minigen uses PyTorch's names; ``lib.name == 'numpy'`` gets the bare array arithmetic
the op needs, written out, so the ratio minigen/NumPy is the engine's own overhead.

Conventions: float32; inputs made once in build; leaf gradients are reset to ``None`` at the
start of each step in every library (as ``zero_grad(set_to_none=True)`` does), so no library
pays for accumulating into last step's gradient. "fwd+bwd" means the forward, then
``backward(g)`` with a fixed upstream gradient ``g``.

FLOP counts (used for GFLOP/s): matrix products count 2 flops per multiply-add; a backward that
needs the gradients of both operands of a product counts twice its forward, so fwd+bwd = 3x
forward. Elementwise, pooling and normalisation workloads are memory-bound and have no FLOP
count here.
"""
from __future__ import annotations

from .harness import Case, Unavailable, Workload

__all__ = ["op_workloads"]


def _reset(*ts):
    for t in ts:
        t.grad = None


# ----------------------------------------------------------------------------- GEMM
def build_gemm(lib, n):
    """C = A @ B, forward only, float32 [n, n] x [n, n]."""
    a, b = lib.randn(n, n), lib.randn(n, n)
    if lib.name == "numpy":
        mm = lib.xp.matmul
        return lambda: mm(a, b)
    if lib.name == "torch":
        mm = lib.m.mm
        return lambda: mm(a, b)
    return lambda: a @ b


# ----------------------------------------------------------------------------- tiny ops
def _chain_ops(lib, w, b):
    tanh, sigmoid = lib.m.tanh, lib.m.sigmoid
    return [lambda h: h * w, lambda h: h + b, tanh, sigmoid, lambda h: h * h]


def build_tiny_chain(lib, n_ops, size):
    """20 elementwise ops on float32[4] (multiply, add, tanh, sigmoid, square, repeated), then
    backward: the per-op cost of the engine itself, since the arrays are nearly free."""
    if lib.name == "numpy":
        raise Unavailable("no bare version")
    x, w, b = (lib.randn(size, requires_grad=True) for _ in range(3))
    g = lib.ones(size)
    ops = _chain_ops(lib, w, b)
    seq = [ops[i % len(ops)] for i in range(n_ops)]

    def step():
        x.grad = w.grad = b.grad = None
        h = x
        for op in seq:
            h = op(h)
        h.backward(g)
    return Case(step)


def build_tiny_op(lib, size):
    """One op (exp) on float32[4], forward and backward."""
    if lib.name == "numpy":
        raise Unavailable("no bare version")
    x = lib.randn(size, requires_grad=True)
    g = lib.ones(size)

    def step():
        x.grad = None
        x.exp().backward(g)
    return Case(step)


# ----------------------------------------------------------------------------- large elementwise
def build_elementwise(lib, n):
    """z = tanh(a * b + c) on float32[n], fwd+bwd: memory traffic and per-op allocations.

    Bare arithmetic: forward t = a b, u = t + c, z = tanh u; backward dz/du = g (1 - z^2),
    ga = gu b, gb = gu a, gc = gu (8 array passes)."""
    a, b, c = (lib.randn(n, requires_grad=lib.name != "numpy") for _ in range(3))
    g = lib.randn(n)
    if lib.name == "numpy":
        xp = lib.xp

        def bare():
            z = xp.tanh(a * b + c)
            # gu = g (1 - z^2)
            gu = g * (1 - z * z)
            return gu * b, gu * a, gu
        return Case(bare)

    def step():
        _reset(a, b, c)
        z = (a * b + c).tanh()
        z.backward(g)
    return Case(step)


# ----------------------------------------------------------------------------- softmax
def build_softmax(lib, rows, cols):
    """y = softmax(x, dim=-1) on [rows, cols], fwd+bwd.

    Bare: y = e^(x - max) / sum e^(x - max); gx = y (g - sum(g y))."""
    x = lib.randn(rows, cols, requires_grad=lib.name != "numpy")
    g = lib.randn(rows, cols)
    if lib.name == "numpy":
        xp = lib.xp

        def bare():
            e = xp.exp(x - x.max(axis=-1, keepdims=True))
            y = e / e.sum(axis=-1, keepdims=True)
            return y * (g - (g * y).sum(axis=-1, keepdims=True))
        return Case(bare)
    softmax = lib.F.softmax

    def step():
        x.grad = None
        softmax(x, dim=-1).backward(g)
    return Case(step)


# ----------------------------------------------------------------------------- layers
def _layer_case(lib, layer, x, g, out_index=None):
    params = list(layer.parameters())

    def step():
        x.grad = None
        for p in params:
            p.grad = None
        y = layer(x)
        if out_index is not None:
            y = y[out_index]
        y.backward(g)
    return Case(step)


def build_conv2d(lib, batch, cin, cout, size, k, stride, pad):
    """nn.Conv2d(cin, cout, k, stride, pad) on [batch, cin, size, size], fwd+bwd."""
    lib.need("nn.Conv2d")
    lib.seed(0)
    layer = lib.to_device(lib.nn.Conv2d(cin, cout, k, stride=stride, padding=pad))
    x = lib.randn(batch, cin, size, size, requires_grad=True)
    ho = (size + 2 * pad - k) // stride + 1
    g = lib.randn(batch, cout, ho, ho)
    return _layer_case(lib, layer, x, g)


def flops_conv2d(batch, cin, cout, size, k, stride, pad):
    ho = (size + 2 * pad - k) // stride + 1
    return 3 * 2.0 * batch * cout * ho * ho * cin * k * k


def build_conv_transpose2d(lib, batch, cin, cout, size, k, stride, pad):
    """nn.ConvTranspose2d(cin, cout, k, stride, pad) on [batch, cin, size, size], fwd+bwd."""
    lib.need("nn.ConvTranspose2d")
    lib.seed(0)
    layer = lib.to_device(lib.nn.ConvTranspose2d(cin, cout, k, stride=stride, padding=pad))
    x = lib.randn(batch, cin, size, size, requires_grad=True)
    ho = (size - 1) * stride - 2 * pad + k
    g = lib.randn(batch, cout, ho, ho)
    return _layer_case(lib, layer, x, g)


def flops_conv_transpose2d(batch, cin, cout, size, k, stride, pad):
    # every input pixel scatters a cout x k x k patch: 2 * B * Cin * H * W * Cout * k^2 forward
    return 3 * 2.0 * batch * cin * size * size * cout * k * k


def build_max_pool2d(lib, batch, channels, size, k):
    """F.max_pool2d(x, k) on [batch, channels, size, size], fwd+bwd."""
    lib.need("F.max_pool2d")
    x = lib.randn(batch, channels, size, size, requires_grad=True)
    g = lib.randn(batch, channels, size // k, size // k)
    pool = lib.F.max_pool2d

    def step():
        x.grad = None
        pool(x, k).backward(g)
    return Case(step)


def build_batch_norm2d(lib, batch, channels, size):
    """nn.BatchNorm2d(channels) in training mode on [batch, channels, size, size], fwd+bwd."""
    lib.need("nn.BatchNorm2d")
    layer = lib.to_device(lib.nn.BatchNorm2d(channels))
    x = lib.randn(batch, channels, size, size, requires_grad=True)
    g = lib.randn(batch, channels, size, size)
    return _layer_case(lib, layer, x, g)


def build_attention(lib, batch, heads, T, d):
    """F.scaled_dot_product_attention(q, k, v, is_causal=True), [batch, heads, T, d], fwd+bwd."""
    lib.need("F.scaled_dot_product_attention")
    q, k, v = (lib.randn(batch, heads, T, d, requires_grad=True) for _ in range(3))
    g = lib.randn(batch, heads, T, d)
    sdpa = lib.F.scaled_dot_product_attention

    def step():
        _reset(q, k, v)
        sdpa(q, k, v, is_causal=True).backward(g)
    return Case(step)


def flops_attention(batch, heads, T, d):
    # S = Q K^T and O = P V: 2 * 2 * B * H * T^2 * d forward (the full square, as computed)
    return 3 * 4.0 * batch * heads * T * T * d


def build_lstm(lib, T, batch, inp, hidden):
    """nn.LSTM(inp, hidden), one layer, input [T, batch, inp], fwd+bwd through the outputs."""
    lib.need("nn.LSTM")
    lib.seed(0)
    layer = lib.to_device(lib.nn.LSTM(inp, hidden))
    x = lib.randn(T, batch, inp, requires_grad=True)
    g = lib.randn(T, batch, hidden)
    return _layer_case(lib, layer, x, g, out_index=0)


def flops_lstm(T, batch, inp, hidden):
    # gates = x W_ih^T + h W_hh^T: 2 * B * (inp + hidden) * 4 hidden per time step
    return 3 * 2.0 * T * batch * (inp + hidden) * 4 * hidden


# ----------------------------------------------------------------------------- the list
def op_workloads(quick=False):
    """The op-level workloads at full or quick (CI) sizes."""
    W = []
    for n in ((64, 256) if quick else (64, 128, 256, 512, 1024, 2048)):
        W.append(Workload(f"gemm[n={n}]", "op", build_gemm, {"n": n},
                          libs=("minigen", "torch", "numpy"), flops=lambda n: 2.0 * n ** 3,
                          description="C = A @ B, float32, forward"))
    W.append(Workload("tiny_chain[20 ops, float32[4]]", "op", build_tiny_chain,
                      {"n_ops": 20, "size": 4},
                      description="20 elementwise ops on float32[4], forward + backward"))
    W.append(Workload("tiny_op[exp, float32[4]]", "op", build_tiny_op, {"size": 4},
                      description="one op on float32[4], forward + backward"))
    n = 1 << 16 if quick else 1 << 22
    W.append(Workload(f"elementwise[n={n}]", "op", build_elementwise, {"n": n},
                      libs=("minigen", "torch", "numpy"),
                      description="tanh(a*b + c), forward + backward"))
    rows, cols = (64, 256) if quick else (512, 1024)
    W.append(Workload(f"softmax[{rows}x{cols}]", "op", build_softmax,
                      {"rows": rows, "cols": cols}, libs=("minigen", "torch", "numpy"),
                      description="softmax(x, dim=-1), forward + backward"))
    conv = dict(batch=4, cin=8, cout=16, size=8, k=4, stride=2, pad=1) if quick else \
        dict(batch=64, cin=64, cout=128, size=16, k=4, stride=2, pad=1)
    W.append(Workload("conv2d[{batch}x{cin}x{size}x{size} -> {cout}, k{k} s{stride}]"
                      .format(**conv), "op", build_conv2d, conv, flops=flops_conv2d,
                      description="nn.Conv2d forward + backward (input and weight grads)"))
    convt = dict(batch=4, cin=16, cout=8, size=4, k=4, stride=2, pad=1) if quick else \
        dict(batch=64, cin=128, cout=64, size=8, k=4, stride=2, pad=1)
    W.append(Workload("conv_transpose2d[{batch}x{cin}x{size}x{size} -> {cout}, k{k} s{stride}]"
                      .format(**convt), "op", build_conv_transpose2d, convt,
                      flops=flops_conv_transpose2d,
                      description="nn.ConvTranspose2d forward + backward"))
    pool = dict(batch=4, channels=8, size=16, k=2) if quick else \
        dict(batch=64, channels=64, size=32, k=2)
    W.append(Workload("max_pool2d[{batch}x{channels}x{size}x{size}, k{k}]".format(**pool), "op",
                      build_max_pool2d, pool, description="F.max_pool2d forward + backward"))
    bn = dict(batch=4, channels=8, size=8) if quick else dict(batch=64, channels=128, size=16)
    W.append(Workload("batch_norm2d[{batch}x{channels}x{size}x{size}]".format(**bn), "op",
                      build_batch_norm2d, bn, description="nn.BatchNorm2d (train) fwd + bwd"))
    att = dict(batch=2, heads=2, d=16) if quick else dict(batch=8, heads=4, d=32)
    for T in ((16, 32) if quick else (64, 128, 256, 512)):
        p = dict(att, T=T)
        W.append(Workload("attention[{batch}x{heads}x{T}x{d}, causal]".format(**p), "op",
                          build_attention, p, flops=flops_attention,
                          description="F.scaled_dot_product_attention fwd + bwd"))
    lstm = dict(T=8, batch=4, inp=16, hidden=32) if quick else \
        dict(T=32, batch=32, inp=64, hidden=128)
    W.append(Workload("lstm[T{T} x B{batch}, {inp} -> {hidden}]".format(**lstm), "op",
                      build_lstm, lstm, flops=flops_lstm,
                      description="nn.LSTM one layer, forward + backward"))
    return W
