"""Procedural captions for MNIST (minigen/data/captions.py): the template rule, the tokenizers,
reproducibility."""
import numpy
import pytest

import minigen
from minigen.data import captions as C


def test_templates_fill_the_digit_as_word_or_numeral():
    assert C.caption("a handwritten {w}", 7) == "a handwritten seven"
    assert C.caption("the digit {d}", 7) == "the digit 7"
    assert C.caption("{d}", 0) == "0"
    assert C.captions_for(3)[:4] == ["a handwritten three", "the digit 3", "a drawing of the number three", "3"]
    assert len(C.TRAIN_TEMPLATES) == 8 and len(C.HELDOUT_TEMPLATES) == 8
    # no held-out template is a training one, and every caption of every digit is distinct
    assert not set(C.TRAIN_TEMPLATES) & set(C.HELDOUT_TEMPLATES)
    all_caps = [C.caption(t, d) for t in C.TRAIN_TEMPLATES + C.HELDOUT_TEMPLATES for d in range(10)]
    assert len(set(all_caps)) == 160
    # every caption names its digit exactly once, as a word or a numeral
    for t in C.TRAIN_TEMPLATES + C.HELDOUT_TEMPLATES:
        for d in range(10):
            words = C.caption(t, d).split()
            assert sum(w in (C.DIGIT_WORDS[d], str(d)) for w in words) == 1
    with pytest.raises(ValueError, match="digit must be an integer 0..9"):
        C.caption("{w}", 10)
    with pytest.raises(ValueError, match="slot"):
        C.caption("no slot", 1)


def test_char_tokenizer_round_trip_and_errors():
    tok = C.CharTokenizer()
    assert len(tok) == 38 and tok.pad == 0
    for t in C.TRAIN_TEMPLATES + C.HELDOUT_TEMPLATES:
        for d in range(10):
            s = C.caption(t, d)
            ids = tok.encode(s)
            assert 0 not in ids and tok.decode(ids) == s
    assert tok.decode(tok.encode("A Handwritten SEVEN ")) == "a handwritten seven"
    ids, lengths = tok.batch(["7", "a handwritten seven"])
    assert ids.shape == (2, 19) and lengths.tolist() == [1, 19] and (ids[0, 1:] == 0).all()
    with pytest.raises(ValueError, match="empty"):
        tok.encode("   ")
    with pytest.raises(ValueError, match=r"'!\?'.*allowed: space, 0-9 and a-z"):
        tok.encode("seven?!")
    with pytest.raises(ValueError, match="longer than the tokenizer's max_len 64"):
        tok.encode("a" * 65)
    with pytest.raises(TypeError, match="expected a string"):
        tok.encode(7)


def test_word_tokenizer_round_trip_and_errors():
    tok = C.WordTokenizer()
    assert tok.itos[:3] == ["<pad>", "<bos>", "<eos>"]
    for d in range(10):
        assert C.DIGIT_WORDS[d] in tok.stoi and str(d) in tok.stoi
    ids = tok.encode("a handwritten seven", bos=True, eos=True)
    assert ids[0] == tok.bos and ids[-1] == tok.eos and tok.decode(ids) == "a handwritten seven"
    with pytest.raises(ValueError, match=r"\['purple'\] are not in the caption vocabulary"):
        tok.encode("a purple seven")
    with pytest.raises(ValueError, match="empty"):
        tok.encode("")


def test_caption_table_matches_the_rule():
    ids, lengths = C.caption_table()
    tok = C.CharTokenizer()
    assert ids.shape[:2] == (8, 10) and lengths.shape == (8, 10)
    for t in range(8):
        for d in range(10):
            assert tok.decode(ids[t, d, :lengths[t, d]]) == C.caption(C.TRAIN_TEMPLATES[t], d)
            assert (ids[t, d, lengths[t, d]:] == 0).all()


def test_template_draws_are_uniform_and_reproducible():
    minigen.manual_seed(3)
    a = C.draw_templates(8000).numpy()
    minigen.manual_seed(3)
    b = C.draw_templates(8000).numpy()
    numpy.testing.assert_array_equal(a, b)
    counts = numpy.bincount(a, minlength=8)
    assert counts.min() > 850 and counts.max() < 1150 and a.min() == 0 and a.max() == 7
    x, y, caps = C.captioned_mnist("test", seed=1)
    x2, y2, caps2 = C.captioned_mnist("test", seed=1)
    assert caps == caps2 and len(caps) == len(y) == 1000
    assert C.captioned_mnist("test", seed=2)[2] != caps
    assert all(c in C.captions_for(int(d)) for c, d in zip(caps, y.numpy()))


def test_captions_data_set_gives_images_and_digits():
    from minigen.models.datasets import DATASETS
    spec = DATASETS["captions"]
    assert spec.kind == "captions" and spec.templates == C.TRAIN_TEMPLATES
    train, test = spec.loaders(128, seed=0, drop_last=True)
    x, y = next(iter(train))
    assert tuple(x.shape) == (128, 1, 28, 28) and tuple(y.shape) == (128,)
    assert len(train) == 4000 // 128 and len(test.dataset) == 1000
