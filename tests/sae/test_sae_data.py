import dask.array as da
import numpy as np
import torch
import torch.nn.functional as F

from sail_core.sae.config import TrainConfig, parse_sae_name
from sail_core.sae.data import InMemoryRows, StreamedRows, load_rows, train_source
from sail_core.sae.model import MatryoshkaSAE
from sail_core.sae.run import resident_split
from sail_core.sae.trainer import Trainer


def test_in_memory_epochs_are_seeded_and_reshuffled():
    rows = InMemoryRows(torch.arange(50.0).view(50, 1))
    first, again, second = rows.epoch_order(3, 0), rows.epoch_order(3, 0), rows.epoch_order(3, 1)
    assert torch.equal(first, again)
    assert not torch.equal(first, second)
    assert torch.equal(first.sort().values, torch.arange(50))
    assert torch.equal(rows.take(first[:5]).squeeze(1), first[:5].float())


def test_streamed_rows_cover_the_split_in_a_new_order_each_epoch():
    data = np.arange(200, dtype=np.float32).reshape(100, 2)
    view = da.from_array(data, chunks=(30, 2))
    ids = np.arange(10, 90)
    rows = StreamedRows(
        view, ids, block_rows=16, transform=lambda t: 2 * t, device=torch.device("cpu")
    )
    first, second = rows.epoch_order(0, 0), rows.epoch_order(0, 1)
    assert torch.equal(first.sort().values, torch.arange(80))
    assert not torch.equal(first, second)
    batch = rows.take(first[:20])
    expected = 2 * torch.from_numpy(data[ids[first[:20].numpy()]])
    assert torch.equal(batch, expected)


def test_the_memory_budget_decides_between_memory_and_streaming():
    view = np.zeros((1000, 256), dtype=np.float32)  # 1000 rows x 1 KiB
    ids = np.arange(1000)
    device = torch.device("cpu")
    assert isinstance(train_source(view, ids, 1, lambda t: t, device), InMemoryRows)
    streamed = train_source(
        np.zeros((3000, 256), np.float32), np.arange(3000), 1, lambda t: t, device
    )
    assert isinstance(streamed, StreamedRows)
    assert streamed.block_rows == 2**20 // (2 * 256 * 4)


def test_streamed_training_equals_in_memory_training_on_the_same_seed(tmp_path):
    # the same blocked order through both sources: any error in reading, caching or
    # transforming streamed blocks would change the trained weights
    rng = np.random.default_rng(0)
    data = rng.normal(size=(700, 24)).astype(np.float32)
    ids = np.arange(30, 670)
    view = da.from_array(data, chunks=(64, 24))
    config = TrainConfig(batch_size=64, epochs=3, warmup_steps=5, lr=3e-3, checkpoint_every=1000)
    weights = {}
    for kind in ("memory", "streamed"):
        model = MatryoshkaSAE(parse_sae_name("D8-32_K2-4"), 24, input_norm="l2")
        model.reset_parameters(torch.Generator().manual_seed(0))
        if kind == "memory":
            rows = InMemoryRows(model.normalise(torch.from_numpy(data[ids])), block_rows=100)
        else:
            rows = StreamedRows(view, ids, 100, model.normalise, torch.device("cpu"))
        Trainer(model, rows, None, config, tmp_path / kind, "equality").run()
        weights[kind] = model.state_dict()
    for name, value in weights["memory"].items():
        assert torch.equal(value, weights["streamed"][name]), name


def test_load_rows_transforms_chunk_by_chunk_as_the_whole_split_would():
    data = np.random.default_rng(0).standard_normal((1000, 16)).astype(np.float32)
    rows = np.arange(3, 1000, 2)
    whole = F.normalize(torch.from_numpy(data[rows]), dim=1)
    chunked = load_rows(data, rows, lambda x: F.normalize(x, dim=1), chunk_rows=37)
    assert chunked.dtype == torch.float32 and chunked.shape == (rows.size, 16)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=0)


def test_a_split_that_fits_beside_train_is_read_once_into_memory():
    view = da.from_array(np.arange(40, dtype=np.float32).reshape(10, 4), chunks=(3, 4))
    split_rows = {"train": np.arange(6), "val": np.array([6, 8, 9])}
    held, rows = resident_split(view, split_rows, "val", memory_budget_mb=1)
    assert isinstance(held, np.ndarray) and rows.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(held[rows], view.compute()[[6, 8, 9]])
    tiny_budget = 9 * 4 * 4 / 2**20 - 1e-9  # train + val need 9 rows of 4 float32
    kept, rows = resident_split(view, split_rows, "val", memory_budget_mb=tiny_budget)
    assert kept is view and rows.tolist() == [6, 8, 9]
