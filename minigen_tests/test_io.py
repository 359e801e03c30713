"""Tests for minigen.io: checkpoints as .npz + JSON manifest, no pickle, atomic writes."""
import json
import os
import zipfile

import numpy
import pytest

import minigen
from minigen import backend as B
from minigen import io as mio
from minigen.io import CheckpointError


class _FakeCudaArray(numpy.ndarray):
    """A host array that minigen's backend table treats as living on 'cuda'."""


class _FakeCuda(B.Backend):
    name = "cuda"
    array_types = (_FakeCudaArray,)

    def asarray(self, data, dtype=None):
        return numpy.array(data, dtype=dtype).view(_FakeCudaArray)

    def to_numpy(self, a):
        return numpy.array(a.view(numpy.ndarray), copy=True)


@pytest.fixture
def cuda():
    """The 'cuda' backend: the real (or the suite's simulated) one if registered, else a stand-in."""
    if "cuda" in B._backends:
        yield B._backends["cuda"]
        return
    fake = _FakeCuda()
    B.register_backend("cuda", fake)
    try:
        yield fake
    finally:
        B.unregister_backend("cuda")


def _state():
    rng = numpy.random.Generator(numpy.random.PCG64(2**100 + 12345))
    rng.random(3)
    return {
        "model": {"w": minigen.tensor(numpy.arange(6, dtype=numpy.float32).reshape(2, 3), requires_grad=True),
                  "b": minigen.tensor([1.5, -2.25], dtype=minigen.float64),
                  "idx": minigen.tensor([[1, 2**40], [-3, 4]], dtype=minigen.int64)},
        "optimizer": {"state": {0: {"step": 12, "exp_avg": numpy.ones((2, 3), numpy.float32)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1]}]},
        "rng": rng.bit_generator.state,
        "step": 2**70 + 1,
        "neg": -(2**90),
        "name": "vae \u00e9\u4e2d",
        "none": None,
        "flags": [True, False, [None, [1, [2.5, "x"]]]],
        "floats": [float("nan"), float("inf"), -0.0, 0.1],
        "np_scalar": numpy.float32(3.5),
        "empty": {"list": [], "dict": {}, "tuple": ()},
        7: "int key",
    }


def test_round_trip_of_a_nested_state(tmp_path):
    s = _state()
    p = tmp_path / "ckpt.npz"
    minigen.io.save(s, p)
    r = mio.load(p)
    w = r["model"]["w"]
    assert isinstance(w, minigen.Tensor) and w.device == "cpu" and w.dtype == minigen.float32
    assert w.requires_grad and w.is_leaf
    numpy.testing.assert_array_equal(w.cpu().numpy(), s["model"]["w"].cpu().numpy())
    assert r["model"]["b"].dtype == minigen.float64 and r["model"]["b"].cpu().numpy().tolist() == [1.5, -2.25]
    assert r["model"]["idx"].dtype == minigen.int64 and r["model"]["idx"].cpu().numpy()[0, 1] == 2**40
    assert not r["model"]["b"].requires_grad
    opt = r["optimizer"]
    assert list(opt["state"]) == [0] and opt["state"][0]["step"] == 12
    assert isinstance(opt["state"][0]["exp_avg"], numpy.ndarray)
    assert opt["param_groups"] == [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1]}]
    assert r["rng"] == s["rng"] and isinstance(r["rng"]["state"]["state"], int)
    assert r["step"] == 2**70 + 1 and r["neg"] == -(2**90)
    assert r["name"] == s["name"] and r["none"] is None
    assert r["flags"] == [True, False, [None, [1, [2.5, "x"]]]] and r["flags"][0] is True
    assert numpy.isnan(r["floats"][0]) and r["floats"][1:3] == [float("inf"), 0.0]
    assert str(r["floats"][2]) == "-0.0" and r["floats"][3] == 0.1
    assert r["np_scalar"] == 3.5 and r["np_scalar"].dtype == numpy.float32
    assert r["empty"] == {"list": [], "dict": {}, "tuple": ()}
    assert r[7] == "int key"
    assert list(r) == list(s)  # key order kept


def test_rng_state_round_trip_repeats_the_stream(tmp_path):
    minigen.manual_seed(3)
    minigen.backend.generator_for("cpu").random(5)
    mio.save({"rng": minigen.get_rng_state()}, tmp_path / "r.npz")
    ahead = minigen.backend.generator_for("cpu").random(4)
    minigen.set_rng_state(mio.load(tmp_path / "r.npz")["rng"])
    numpy.testing.assert_array_equal(minigen.backend.generator_for("cpu").random(4), ahead)


def test_device_is_recorded_and_map_location(tmp_path, cuda):
    t = minigen.tensor([1.0, 2.0], device="cuda")
    mio.save({"t": t}, tmp_path / "c.npz")
    with zipfile.ZipFile(tmp_path / "c.npz") as z:
        manifest = json.loads(numpy.lib.format.read_array(z.open(mio.MANIFEST + ".npy")).tobytes())
    assert manifest["tree"]["dict"][0][1]["device"] == "cuda"
    on_cpu = mio.load(tmp_path / "c.npz")["t"]
    assert on_cpu.device == "cpu" and on_cpu.cpu().numpy().tolist() == [1.0, 2.0]
    back = mio.load(tmp_path / "c.npz", map_location="cuda")["t"]
    assert back.device == "cuda" and back.cpu().numpy().tolist() == [1.0, 2.0]
    assert mio.load(tmp_path / "c.npz", map_location=minigen.device("cpu"))["t"].device == "cpu"


def test_atomic_write_survives_a_crash(tmp_path, monkeypatch):
    p = tmp_path / "model.npz"
    mio.save({"step": 1, "w": minigen.ones(3)}, p)
    good = p.read_bytes()

    def crash(f, arrays, compress):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(mio, "_write_npz", crash)
    with pytest.raises(OSError, match="simulated"):
        mio.save({"step": 2, "w": minigen.zeros(3)}, p)
    assert p.read_bytes() == good
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
    assert mio.load(p)["step"] == 1


def test_save_overwrites_and_compresses(tmp_path):
    p = tmp_path / "m.ckpt"
    mio.save({"a": 1}, p)
    mio.save({"a": 2, "z": minigen.zeros(1000)}, p, compress=True)
    assert mio.load(p)["a"] == 2 and p.stat().st_size < 1000
    assert sorted(os.listdir(tmp_path)) == ["m.ckpt"]


def test_truncated_and_corrupt_files(tmp_path):
    p = tmp_path / "c.npz"
    mio.save({"w": minigen.tensor(numpy.arange(1000, dtype=numpy.float32))}, p)
    raw = p.read_bytes()
    (tmp_path / "t.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="t.npz.*not a zip"):
        mio.load(tmp_path / "t.npz")
    bad = bytearray(raw)
    at = raw.index(b"\x00\x00\x80\x3f")  # the float 1.0 inside the data of w
    bad[at + 3] ^= 0xFF
    (tmp_path / "x.npz").write_bytes(bytes(bad))
    with pytest.raises(CheckpointError, match="x.npz.*damaged"):
        mio.load(tmp_path / "x.npz")
    (tmp_path / "e.npz").write_bytes(b"")
    with pytest.raises(CheckpointError):
        mio.load(tmp_path / "e.npz")
    with pytest.raises(FileNotFoundError):
        mio.load(tmp_path / "missing.npz")
    assert issubclass(CheckpointError, RuntimeError)


def test_pickle_bearing_and_foreign_files_are_refused(tmp_path):
    p = tmp_path / "evil.npz"
    manifest = json.dumps({"format": mio.FORMAT, "version": 1, "meta": {}, "arrays": ["a0"],
                           "tree": {"ndarray": "a0"}}).encode()
    numpy.savez(p, a0=numpy.array([{"x": 1}, None], dtype=object),
                **{mio.MANIFEST: numpy.frombuffer(manifest, numpy.uint8)})
    with pytest.raises(CheckpointError, match="evil.npz.*pickle"):
        mio.load(p)
    numpy.savez(tmp_path / "plain.npz", w=numpy.zeros(3))
    with pytest.raises(CheckpointError, match="no '__minigen__' manifest"):
        mio.load(tmp_path / "plain.npz")
    with pytest.raises(TypeError, match="dtype object"):
        mio.save({"a": numpy.array([object()])}, tmp_path / "o.npz")
    with pytest.raises(TypeError, match=r"obj\['f'\] of type builtin_function"):
        mio.save({"f": len}, tmp_path / "f.npz")
    assert not (tmp_path / "f.npz").exists()


def _with_manifest(path, manifest, **arrays):
    arrays[mio.MANIFEST] = numpy.frombuffer(json.dumps(manifest).encode(), numpy.uint8)
    numpy.savez(path, **arrays)


def test_malformed_manifests(tmp_path):
    base = {"format": mio.FORMAT, "version": 1, "meta": {}, "arrays": ["a0"], "tree": {"ndarray": "a0"}}
    cases = [
        (dict(base, version=99), {"a0": numpy.zeros(2)}, "version 99"),
        (dict(base, format="other"), {"a0": numpy.zeros(2)}, "format"),
        (base, {}, r"missing: \['a0'\]"),
        (dict(base, arrays=[]), {"a0": numpy.zeros(2)}, "not named by the manifest"),
        (dict(base, tree={"tensor": "a0", "dtype": "float32", "device": "cpu"}), {"a0": numpy.zeros(2)},
         "does not match"),
        (dict(base, tree={"int": "12x"}), {"a0": numpy.zeros(2)}, "int"),
        (dict(base, tree={"set": []}), {"a0": numpy.zeros(2)}, "unknown node kind"),
        (dict(base, tree={"dict": [[{"list": []}, 1]]}), {"a0": numpy.zeros(2)}, "dict key"),
        (dict(base, tree={"ndarray": ["a0"]}), {"a0": numpy.zeros(2)}, "does not hold"),
        ({k: v for k, v in base.items() if k != "tree"}, {"a0": numpy.zeros(2)}, "tree"),
    ]
    for i, (manifest, arrays, msg) in enumerate(cases):
        p = tmp_path / f"m{i}.npz"
        _with_manifest(p, manifest, **arrays)
        with pytest.raises(CheckpointError, match=msg):
            mio.load(p)
    numpy.savez(tmp_path / "j.npz", **{mio.MANIFEST: numpy.frombuffer(b"{not json", numpy.uint8)})
    with pytest.raises(CheckpointError, match="not valid JSON"):
        mio.load(tmp_path / "j.npz")


def test_meta_and_expect(tmp_path):
    p = tmp_path / "vae.npz"
    mio.save({"w": minigen.zeros(2)}, p, meta={"model": "vae", "latent": 16, "dims": (1, 2)})
    assert mio.load_meta(p) == {"model": "vae", "latent": 16, "dims": [1, 2]}
    assert mio.load(p, expect={"model": "vae", "dims": (1, 2)})["w"].shape == (2,)
    with pytest.raises(CheckpointError, match="model='gan'.*saved with model='vae'"):
        mio.load(p, expect={"model": "gan"})
    with pytest.raises(CheckpointError, match="has no 'epochs'"):
        mio.load(p, expect={"epochs": 3})
    with pytest.raises(TypeError, match="meta"):
        mio.save({}, tmp_path / "bad.npz", meta={"w": minigen.zeros(1)})


def test_save_refuses_a_whole_module_and_says_what_to_save(tmp_path):
    import minigen
    model = minigen.nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"does not save a whole module \(Linear\).*model.state_dict\(\)"):
        minigen.save(model, tmp_path / "m.npz")
    with pytest.raises(TypeError, match="whole optimizer"):
        minigen.save(minigen.optim.SGD(model.parameters(), lr=0.1), tmp_path / "o.npz")
    assert not (tmp_path / "m.npz").exists()
    minigen.save(model.state_dict(), tmp_path / "m.npz")
    assert model.load_state_dict(minigen.load(tmp_path / "m.npz")) is not None
