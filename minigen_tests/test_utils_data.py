"""Tests for minigen.utils.data: Dataset, TensorDataset, DataLoader."""
import numpy
import pytest

import minigen
from minigen.utils.data import DataLoader, Dataset, TensorDataset, default_collate


def _ds(n=10):
    x = minigen.tensor(numpy.arange(n * 3, dtype=numpy.float32).reshape(n, 3))
    y = minigen.tensor(numpy.arange(n) * 10)
    return TensorDataset(x, y)


def _order(loader):
    """The example order of one epoch, read off the labels (label = 10 * index)."""
    return numpy.concatenate([y.cpu().numpy() // 10 for _, y in loader]).tolist()


def test_tensor_dataset_items_and_errors():
    ds = _ds()
    assert len(ds) == 10
    x, y = ds[3]
    assert x.shape == (3,) and y.shape == () and y.dtype == minigen.int64 and int(y) == 30
    assert x.cpu().numpy().tolist() == [9.0, 10.0, 11.0]
    assert int(ds[-1][1]) == 90
    xs, ys = ds[2:5]
    assert xs.shape == (3, 3) and ys.cpu().numpy().tolist() == [20, 30, 40]
    with pytest.raises(IndexError, match="index 10 is out of range for 10"):
        ds[10]
    with pytest.raises(ValueError, match=r"first dimensions \[4, 5\]"):
        TensorDataset(minigen.zeros(4, 2), minigen.zeros(5))
    with pytest.raises(TypeError, match="argument 1 is a ndarray"):
        TensorDataset(minigen.zeros(4), numpy.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_loader_in_order_and_len():
    ds = _ds(10)
    loader = DataLoader(ds, batch_size=4)
    assert len(loader) == 3
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)
    assert _order(loader) == list(range(10))
    numpy.testing.assert_array_equal(batches[1][0].cpu().numpy(), ds.tensors[0].cpu().numpy()[4:8])
    dropped = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [b[0].shape[0] for b in dropped] == [4, 4]
    assert len(DataLoader(ds, batch_size=5, drop_last=True)) == 2
    assert len(DataLoader(ds)) == 10


def test_shuffle_with_seed_is_repeatable_and_a_permutation():
    ds = _ds(50)
    a = DataLoader(ds, batch_size=8, shuffle=True, generator=123)
    b = DataLoader(ds, batch_size=8, shuffle=True, generator=123)
    e1, e2 = _order(a), _order(a)
    assert sorted(e1) == list(range(50)) and sorted(e2) == list(range(50))
    assert e1 != list(range(50)) and e1 != e2  # shuffled, and a new order every epoch
    assert _order(b) == e1 and _order(b) == e2  # the same seed repeats the same epochs
    assert _order(DataLoader(ds, batch_size=8, shuffle=True, generator=124)) != e1
    g = numpy.random.default_rng(5)
    c = DataLoader(ds, batch_size=8, shuffle=True, generator=g)
    assert c.generator is g
    state = g.bit_generator.state
    first = _order(c)
    g.bit_generator.state = state  # restoring the generator's state repeats the order
    assert _order(c) == first


def test_shuffle_without_generator_follows_manual_seed():
    ds = _ds(40)
    loader = DataLoader(ds, batch_size=16, shuffle=True)
    minigen.manual_seed(7)
    first = _order(loader), _order(loader)
    minigen.manual_seed(7)
    assert (_order(loader), _order(loader)) == first
    assert first[0] != first[1]


def test_drop_last_with_shuffle_keeps_full_batches():
    loader = DataLoader(_ds(10), batch_size=3, shuffle=True, drop_last=True, generator=0)
    assert [b[0].shape[0] for b in loader] == [3, 3, 3]
    assert len(set(_order(loader))) == 9


def test_fast_gather_matches_item_by_item_collate():
    ds = _ds(12)
    fast = list(DataLoader(ds, batch_size=5, shuffle=True, generator=3))
    slow = list(DataLoader(ds, batch_size=5, shuffle=True, generator=3, collate_fn=default_collate))
    for (fx, fy), (sx, sy) in zip(fast, slow):
        assert fx.dtype == sx.dtype and fy.dtype == sy.dtype
        numpy.testing.assert_array_equal(fx.cpu().numpy(), sx.cpu().numpy())
        numpy.testing.assert_array_equal(fy.cpu().numpy(), sy.cpu().numpy())


class Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": numpy.full(2, i, dtype=numpy.float32), "i": i, "sq": float(i * i),
                "odd": bool(i % 2), "name": f"n{i}", "pair": (minigen.tensor([i, i]), i)}


def test_default_collate_of_a_custom_dataset():
    (b1, b2) = list(DataLoader(Squares(), batch_size=3))
    assert b1["x"].shape == (3, 2) and b1["x"].dtype == minigen.float32
    assert b1["i"].dtype == minigen.int64 and b1["i"].cpu().numpy().tolist() == [0, 1, 2]
    assert b1["sq"].dtype == minigen.float32 and b1["sq"].cpu().numpy().tolist() == [0.0, 1.0, 4.0]
    assert b1["odd"].dtype == minigen.bool and b1["odd"].cpu().numpy().tolist() == [False, True, False]
    assert b1["name"] == ["n0", "n1", "n2"]
    t, i = b2["pair"]
    assert t.shape == (2, 2) and t.cpu().numpy().tolist() == [[3, 3], [4, 4]] and i.cpu().numpy().tolist() == [3, 4]
    custom = DataLoader(Squares(), batch_size=2, collate_fn=lambda items: [d["i"] for d in items])
    assert list(custom) == [[0, 1], [2, 3], [4]]


def test_collate_errors_and_argument_checks():
    with pytest.raises(RuntimeError, match="different shapes"):
        default_collate([minigen.zeros(2), minigen.zeros(3)])
    with pytest.raises(TypeError, match="collate_fn"):
        default_collate([object()])
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_ds(), batch_size=0)
    with pytest.raises(TypeError, match="generator"):
        DataLoader(_ds(), generator="seed")
    with pytest.raises(NotImplementedError):
        len(Dataset())


def test_batches_stay_on_the_tensors_device(device):
    x = minigen.tensor(numpy.arange(12, dtype=numpy.float32).reshape(6, 2), device=device)
    y = minigen.tensor(numpy.arange(6), device=device)
    ds = TensorDataset(x, y)
    assert ds[2][0].device == device and ds[2][0].cpu().numpy().tolist() == [4.0, 5.0]
    for collate in (None, default_collate):
        bx, by = next(iter(DataLoader(ds, batch_size=4, shuffle=True, generator=1, collate_fn=collate)))
        assert bx.device == device and by.device == device and bx.shape == (4, 2)
        numpy.testing.assert_array_equal(bx.cpu().numpy()[:, 0], 2 * by.cpu().numpy())
    with pytest.raises(IndexError):
        ds[6]


# ----------------------------------------------------------------------------- PyTorch's layout
def test_the_package_has_pytorchs_modules():
    from minigen.utils.data import dataloader, dataset, sampler
    assert dataloader.DataLoader is DataLoader and dataloader.default_collate is default_collate
    assert dataset.TensorDataset is TensorDataset and dataset.Subset is minigen.utils.data.Subset
    for name in ("Sampler", "SequentialSampler", "RandomSampler", "BatchSampler", "SubsetRandomSampler",
                 "WeightedRandomSampler"):
        assert getattr(sampler, name) is getattr(minigen.utils.data, name)
    assert minigen.utils.data.get_worker_info() is None


def test_samplers_and_batch_sampler():
    from minigen.utils.data import BatchSampler, RandomSampler, SequentialSampler
    ds = _ds(10)
    assert list(SequentialSampler(ds)) == list(range(10))
    r = list(RandomSampler(ds, generator=minigen.Generator().manual_seed(3)))
    assert sorted(r) == list(range(10)) and r != list(range(10))
    assert r == list(RandomSampler(ds, generator=minigen.Generator().manual_seed(3)))
    rep = list(RandomSampler(ds, replacement=True, num_samples=25, generator=1))
    assert len(rep) == 25 and set(rep) <= set(range(10))
    assert len(list(RandomSampler(ds, num_samples=23, generator=1))) == 23
    assert list(BatchSampler(SequentialSampler(range(7)), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(ds, num_samples=0)


def test_loader_takes_a_sampler_or_a_batch_sampler():
    from minigen.utils.data import BatchSampler, SubsetRandomSampler
    ds = _ds(10)
    assert _order(DataLoader(ds, batch_size=4, sampler=[9, 8, 7, 1])) == [9, 8, 7, 1]
    loader = DataLoader(ds, batch_sampler=BatchSampler([5, 6, 7, 0, 1], 2, False))
    assert [b[1].cpu().numpy().tolist() for b in loader] == [[50, 60], [70, 0], [10]]
    assert len(loader) == 3
    sub = _order(DataLoader(ds, batch_size=3, sampler=SubsetRandomSampler([1, 3, 5], generator=0)))
    assert sorted(sub) == [1, 3, 5]
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_size=4, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(ds, prefetch_factor=2)


def test_workers_pin_memory_and_no_batching_run_in_process():
    ds = _ds(6)
    seen = []
    loader = DataLoader(ds, batch_size=4, num_workers=2, pin_memory=True, worker_init_fn=seen.append,
                        persistent_workers=True, prefetch_factor=2)
    assert _order(loader) == list(range(6)) and seen == [0]
    items = list(DataLoader(ds, batch_size=None))
    assert len(items) == 6 and items[2][0].shape == (3,)

    class Numpys(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return numpy.full(2, i, dtype=numpy.float32), i

    x, i = next(iter(DataLoader(Numpys(), batch_size=None)))
    assert isinstance(x, minigen.Tensor) and i == 0


def test_iterable_dataset_is_batched_in_order():
    from minigen.utils.data import IterableDataset

    class Count(IterableDataset):
        def __iter__(self):
            return iter(range(7))

    batches = [b.cpu().numpy().tolist() for b in DataLoader(Count(), batch_size=3)]
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.cpu().numpy().tolist() for b in DataLoader(Count(), batch_size=3, drop_last=True)] == batches[:2]
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Count(), shuffle=True)


def test_subset_concat_and_random_split_like_pytorch():
    from minigen.utils.data import ConcatDataset, Subset, random_split
    ds = _ds(10)
    sub = Subset(ds, [4, 2, 9])
    assert len(sub) == 3 and int(sub[1][1]) == 20
    # a Subset of a TensorDataset keeps the one-index fast path and gives the same batches
    assert _order(DataLoader(sub, batch_size=2)) == [4, 2, 9]
    cat = ConcatDataset([ds, sub])
    assert len(cat) == 13 and int(cat[11][1]) == 20 and int(cat[-1][1]) == 90
    assert len(ds + sub) == 13
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=minigen.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [5, 3, 2]
    assert sorted(i for p in parts for i in p.indices) == list(range(10))
    odd = random_split(range(11), [0.5, 0.5], generator=0)
    assert [len(p) for p in odd] == [6, 5]   # the remainder goes to the first subsets, as PyTorch
    with pytest.raises(ValueError, match="does not equal the length of the input dataset"):
        random_split(ds, [3, 3])
