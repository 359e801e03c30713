"""Tests for minigen.data: the embedded datasets, the IDX reader, the vocab and the toy sets."""
import gzip
import struct

import numpy
import pytest

import minigen
from minigen import data
from minigen.data import images as images_mod
from minigen.data import text as text_mod


# ----------------------------------------------------------------------------- digits
def test_digits_shapes_dtypes_ranges():
    x, y = data.load_digits()
    assert x.shape == (1500, 1, 8, 8) and x.dtype == minigen.float32 and x.device == "cpu"
    assert y.shape == (1500,) and y.dtype == minigen.int64
    xs = x.cpu().numpy()
    assert xs.min() == 0.0 and xs.max() == 1.0
    assert numpy.array_equal(xs * 16, numpy.round(xs * 16))  # grey levels 0..16, nothing else
    x11, _ = data.load_digits(range="-11")
    assert x11.cpu().numpy().min() == -1.0 and x11.cpu().numpy().max() == 1.0
    numpy.testing.assert_allclose(x11.cpu().numpy(), 2 * xs - 1, atol=1e-6)
    xf, _ = data.load_digits(split="test", flatten=True)
    assert xf.shape == (297, 64)


def test_digits_classes_and_split():
    x, y = data.load_digits(split="all")
    counts = numpy.bincount(y.cpu().numpy(), minlength=10)
    assert len(counts) == 10 and counts.min() >= 174 and counts.max() <= 183 and counts.sum() == 1797
    split = images_mod._digits_split()
    tr, te = split["train"], split["test"]
    assert len(tr) == 1500 and len(te) == 297
    assert not set(tr) & set(te) and set(tr) | set(te) == set(range(1797))
    xtr, ytr = data.load_digits("train")
    numpy.testing.assert_array_equal(xtr.cpu().numpy(), x.cpu().numpy()[tr])
    numpy.testing.assert_array_equal(ytr.cpu().numpy(), y.cpu().numpy()[tr])
    assert set(numpy.unique(data.load_digits("test")[1].cpu().numpy())) == set(range(10))


def test_loaders_are_deterministic_and_hand_out_copies():
    a, la = data.load_digits("test")
    a.array[...] = 7.0  # a caller scribbling on its tensor must not reach the next caller
    la.array[...] = 3
    b, lb = data.load_digits("test")
    c, lc = data.load_digits("test")
    assert b.cpu().numpy().max() <= 1.0
    numpy.testing.assert_array_equal(b.cpu().numpy(), c.cpu().numpy())
    numpy.testing.assert_array_equal(lb.cpu().numpy(), lc.cpu().numpy())


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="split"):
        data.load_digits(split="valid")
    with pytest.raises(ValueError, match="range"):
        data.load_mnist(range="0255")


# ----------------------------------------------------------------------------- mnist
def test_mnist_subset_split():
    x, y = data.load_mnist()
    assert x.shape == (4000, 1, 28, 28) and x.dtype == minigen.float32 and y.dtype == minigen.int64
    xs = x.cpu().numpy()
    assert xs.min() == 0.0 and xs.max() == 1.0
    assert numpy.array_equal(numpy.round(xs * 255), numpy.round(xs * 255).astype(int))
    assert (numpy.bincount(y.cpu().numpy(), minlength=10) == 400).all()
    xt, yt = data.load_mnist("test", range="-11", flatten=True)
    assert xt.shape == (1000, 784) and xt.cpu().numpy().min() == -1.0
    assert (numpy.bincount(yt.cpu().numpy(), minlength=10) == 100).all()
    _, ya = data.load_mnist("all")
    assert (numpy.bincount(ya.cpu().numpy(), minlength=10) == 500).all()
    split = images_mod._mnist_split()
    assert not set(split["train"]) & set(split["test"])
    assert len(set(split["train"]) | set(split["test"])) == 5000
    assert not numpy.all(numpy.diff(y.cpu().numpy()) >= 0)  # shuffled across classes
    numpy.testing.assert_array_equal(y.cpu().numpy(), data.load_mnist()[1].cpu().numpy())


# ----------------------------------------------------------------------------- IDX
def _idx(array, code, fmt):
    """IDX bytes written by hand (independent of minigen's writer)."""
    a = numpy.asarray(array)
    head = bytes([0, 0, code, a.ndim]) + b"".join(struct.pack(">I", s) for s in a.shape)
    return head + a.astype(fmt).tobytes()


def _write_mnist(d, n_train=6, n_test=4, gz=False):
    rng = numpy.random.default_rng(1)
    sets = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        imgs = rng.integers(0, 256, (n, 28, 28), dtype=numpy.uint8)
        labs = rng.integers(0, 10, n, dtype=numpy.uint8)
        for stem, arr in ((f"{prefix}-images-idx3-ubyte", imgs), (f"{prefix}-labels-idx1-ubyte", labs)):
            raw = _idx(arr, 0x08, ">u1")
            (d / (stem + (".gz" if gz else ""))).write_bytes(gzip.compress(raw) if gz else raw)
        sets[split] = (imgs, labs)
    return sets


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_idx_dir(tmp_path, gz):
    sets = _write_mnist(tmp_path, gz=gz)
    x, y = data.load_mnist("train", path=tmp_path)
    assert x.shape == (6, 1, 28, 28) and x.dtype == minigen.float32 and y.dtype == minigen.int64
    numpy.testing.assert_allclose(x.cpu().numpy()[:, 0] * 255, sets["train"][0], atol=1e-4)
    numpy.testing.assert_array_equal(y.cpu().numpy(), sets["train"][1])
    xt, yt = data.load_mnist("test", path=str(tmp_path), flatten=True)
    assert xt.shape == (4, 784)
    numpy.testing.assert_array_equal(yt.cpu().numpy(), sets["test"][1])
    xa, ya = data.load_mnist("all", path=tmp_path, range="-11")
    assert xa.shape == (10, 1, 28, 28) and xa.cpu().numpy().min() >= -1.0
    numpy.testing.assert_array_equal(ya.cpu().numpy(), numpy.concatenate([sets["train"][1], sets["test"][1]]))


def test_read_idx_dtypes_and_big_endian(tmp_path):
    a = numpy.array([[1, -2, 300], [40000 - 65536, 5, 6]], dtype=numpy.int16)
    (tmp_path / "a.idx").write_bytes(_idx(a, 0x0B, ">i2"))
    b = data.read_idx(tmp_path / "a.idx")
    assert b.dtype == numpy.int16 and b.dtype.isnative
    numpy.testing.assert_array_equal(b, a)
    f = numpy.linspace(-1, 1, 12, dtype=numpy.float32).reshape(2, 3, 2)
    data.write_idx(tmp_path / "f.idx.gz", f)
    assert gzip.decompress((tmp_path / "f.idx.gz").read_bytes()) == _idx(f, 0x0D, ">f4")
    numpy.testing.assert_array_equal(data.read_idx(tmp_path / "f.idx.gz"), f)


def test_read_idx_rejects_bad_files(tmp_path):
    good = _idx(numpy.zeros((3, 4, 4), numpy.uint8), 0x08, ">u1")
    cases = {
        "magic.idx": (b"\x00\x01" + good[2:], "bad magic"),
        "code.idx": (good[:2] + b"\x07" + good[3:], "bad magic"),
        "short.idx": (good[:3], "too short"),
        "head.idx": (good[:9], "truncated header"),
        "trunc.idx": (good[:-5], "truncated"),
        "extra.idx": (good + b"\x00", "unexpected bytes"),
        "nogz.idx.gz": (good, "gzip"),
    }
    for name, (raw, msg) in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(data.IDXFormatError, match=msg) as e:
            data.read_idx(tmp_path / name)
        assert name in str(e.value)


def test_load_mnist_idx_errors(tmp_path):
    with pytest.raises(NotADirectoryError):
        data.load_mnist(path=tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        data.load_mnist(path=tmp_path)
    _write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(numpy.zeros(5, numpy.uint8), 0x08, ">u1"))
    with pytest.raises(data.IDXFormatError, match="6 images but .* 5 labels"):
        data.load_mnist(path=tmp_path)


# ----------------------------------------------------------------------------- text
def test_names():
    f, m, a = data.load_names("female"), data.load_names("male"), data.load_names()
    assert len(f) == 4275 and len(m) == 1219
    assert f[0] == "mary" and m[0] == "james"
    assert len(a) == len(set(a)) == len(set(f) | set(m)) and a[: len(f)] == f
    assert all(n.isalpha() and n.islower() and n.isascii() for n in a)
    with pytest.raises(ValueError, match="sex"):
        data.load_names("x")


def test_char_vocab_with_boundary():
    names = data.load_names()
    v = data.CharVocab(names, boundary=".")
    assert len(v) == v.vocab_size == 27 and v.itos[0] == "." and v.stoi["a"] == 1 and v.itos[26] == "z"
    ids = v.encode("emma", boundary=True)
    assert ids[0] == ids[-1] == 0 and len(ids) == 6
    assert v.decode(ids) == ".emma." and v.decode(minigen.tensor(ids)) == ".emma."
    with pytest.raises(ValueError, match="'!' at position 2"):
        v.encode("ab!")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        v.decode([27])
    with pytest.raises(ValueError, match="occurs in the corpus"):
        data.CharVocab("a. b", boundary=".")
    with pytest.raises(ValueError, match="no boundary token"):
        data.CharVocab("ab").encode("ab", boundary=True)


def test_shakespeare_and_split():
    texts = [data.load_shakespeare(w) for w in data.WORKS]
    assert sum(map(len, texts)) == 1252640
    s = data.load_shakespeare()
    assert s == text_mod.WORK_SEPARATOR.join(texts)
    assert s.startswith("HAMLET") and len(set(s)) == 80
    two = data.load_shakespeare(["sonnets", "tempest"])
    assert two == texts[8] + "\n\n" + texts[9]
    with pytest.raises(ValueError, match="work"):
        data.load_shakespeare("cymbeline")
    v = data.CharVocab(s)
    assert len(v) == 80 and v.decode(v.encode(s[1000:2000])) == s[1000:2000]
    tr, te = data.split_corpus(s)
    assert tr + te == s and len(tr) == int(0.9 * len(s))


def test_split_corpus_of_names_is_fixed_and_disjoint():
    names = data.load_names()
    tr, te = data.split_corpus(names)
    assert len(tr) == int(0.9 * len(names)) and len(tr) + len(te) == len(names)
    assert not set(tr) & set(te)
    assert data.split_corpus(names) == (tr, te)
    assert tr[:50] != names[:50]  # shuffled, not the most common names first
    with pytest.raises(ValueError, match="train_frac"):
        data.split_corpus(names, 1.0)


# ----------------------------------------------------------------------------- toy 2-d
@pytest.mark.parametrize("name", ["moons", "circles", "8gaussians", "swissroll", "checkerboard", "spirals"])
def test_toy2d(name):
    x = data.toy2d(name, n=4000)
    assert x.shape == (4000, 2) and x.dtype == minigen.float32 and x.device == "cpu"
    a = x.cpu().numpy()
    assert numpy.isfinite(a).all()
    assert numpy.abs(a.mean(0)).max() < 0.15 and 0.8 < a.std() < 1.2
    numpy.testing.assert_array_equal(a, data.toy2d(name, n=4000).cpu().numpy())
    assert not numpy.array_equal(a, data.toy2d(name, n=4000, seed=1).cpu().numpy())
    assert data.toy2d(name, n=1).shape == (1, 2)


def test_toy2d_shapes_are_what_they_say():
    r = numpy.linalg.norm(data.toy2d("circles", n=500, noise=0.0).cpu().numpy(), axis=1)
    assert numpy.allclose(numpy.unique(r.round(4)), [0.5 / 0.56, 1 / 0.56], atol=1e-3)
    c = data.toy2d("checkerboard", n=2000).cpu().numpy() * 1.155  # back to the raw board on [-2, 2]^2
    cells = (numpy.floor(c[:, 0]) + numpy.floor(c[:, 1])) % 2
    assert (cells == 0).all()  # only one colour of squares


def test_toy2d_errors():
    with pytest.raises(ValueError, match="unknown dataset 'donut'"):
        data.toy2d("donut")
    with pytest.raises(ValueError, match="noise"):
        data.toy2d("moons", noise=-1)
    with pytest.raises(ValueError, match="positive"):
        data.toy2d("moons", n=0)
