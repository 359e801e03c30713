"""minigen.data.sequences and the text data sets of minigen.models.datasets."""
import numpy as np
import pytest

import minigen
from minigen.data import (IGNORE, CharVocab, NameSequences, TextStreams, TextWindows, load_names,
                          load_shakespeare, names_split)
from minigen.models.datasets import DATASETS
from minigen.utils.data import DataLoader


def test_name_sequences_hold_the_end_token_and_padding():
    vocab = CharVocab(["emma", "al"], boundary=".")
    ds = NameSequences(["emma", "al"], vocab, block_size=6)
    x, y = ds[0]
    e, m, a = vocab.stoi["e"], vocab.stoi["m"], vocab.stoi["a"]
    assert x.numpy().tolist() == [0, e, m, m, a, 0]
    assert y.numpy().tolist() == [e, m, m, a, 0, IGNORE]
    assert ds.n_targets == 5 + 3
    xb, yb = next(iter(DataLoader(ds, batch_size=2)))
    assert xb.shape == (2, 6) and xb.dtype == minigen.int64
    with pytest.raises(ValueError, match="needs block_size >= 5"):
        NameSequences(["emma"], vocab, block_size=4)
    with pytest.raises(ValueError, match="boundary token"):
        NameSequences(["emma"], CharVocab(["emma"]))


def test_text_windows_and_streams():
    ids = np.arange(100)
    w = TextWindows(ids, 10, stride=10)
    assert len(w) == 9                     # each window needs 11 ids
    x, y = w[[0, 8]]
    assert x.numpy()[1].tolist() == list(range(80, 90)) and y.numpy()[1].tolist() == list(range(81, 91))
    assert len(TextWindows(ids, 10)) == 90
    s = TextStreams(ids, batch_size=3, block_size=5)    # streams of 33, 6 chunks each
    assert s.stream_len == 33 and s.chunks == 6 and s.ordered
    batches = list(DataLoader(s, batch_size=3))
    assert len(batches) == 6
    # row b of batch k + 1 continues row b of batch k
    for k in range(5):
        assert (batches[k + 1][0].numpy()[:, 0] == batches[k][0].numpy()[:, -1] + 1).all()
    assert batches[0][0].numpy()[:, 0].tolist() == [0, 33, 66]
    with pytest.raises(ValueError, match="holds no window"):
        TextWindows(ids[:5], 10)
    with pytest.raises(ValueError, match="1-d sequence of integer"):
        TextWindows(np.zeros((3, 3), int), 1)


def test_the_protocol_splits():
    train, test = names_split()
    assert (len(train), len(test)) == (4646, 517)
    assert set(train) | set(test) == set(load_names("all")) and not set(train) & set(test)
    text = load_shakespeare(separator="")
    assert len(text) == 1252640 and len(set(text)) == 80
    assert load_shakespeare().count("\n\n") > text.count("\n\n")      # the default separator


def test_text_data_sets():
    names = DATASETS["names"]
    tr, te = names.datasets()
    assert (len(tr), len(te), te.n_targets, names.vocab_size) == (4646, 517, 3676, 27)
    assert names.encode_prompt("em") == [0, names.vocab.stoi["e"], names.vocab.stoi["m"]]
    assert names.encode_prompt("") == [0]
    assert names.decode(names.encode_prompt("emma") + [0, 0]) == "emma"
    with pytest.raises(ValueError, match="not in the names vocabulary"):
        names.encode_prompt("Em")
    with pytest.raises(ValueError, match="no running text"):
        names.datasets(streams=True)
    sh = DATASETS["shakespeare"]
    tr, te = sh.datasets(block_size=64)
    assert te.n_targets == 102400 and len(tr) == 1127376 - 64
    trs, _ = sh.datasets(block_size=64, streams=True, batch_size=32)
    assert isinstance(trs, TextStreams)
    with pytest.raises(ValueError, match="empty prompt"):
        sh.encode_prompt("")
    with pytest.raises(ValueError, match="allowed"):
        sh.encode_prompt("caf\u00e9")
    loader, test_loader = sh.loaders(32, seed=1, block_size=64)
    assert loader.shuffle and not DataLoader(trs).shuffle
    x, y = next(iter(loader))
    assert x.shape == (32, 64) and (x.numpy()[:, 1:] == y.numpy()[:, :-1]).all()
