import signal
import subprocess
import sys
import textwrap

import numpy as np
import polars as pl
import pytest
import torch
import zarr

from sail_core.data.index import read_index
from sail_core.embed.encoder import Encoder, EncoderError
from sail_core.embed.preprocessing import Preprocessing
from sail_core.embed.registry import build_encoder
from sail_core.embed.run import embed_job, embed_shard
from sail_core.embed.shards import assign_shards
from sail_core.embed.store import load_embeddings

CPU = torch.device("cpu")
SHARD_ATTRS = {"encoder", "kind", "model_id", "revision", "preprocessing", "dim", "index_hash",
               "seed", "shard", "precision"}  # fmt: skip


def scan_ids(index: pl.DataFrame) -> list[str]:
    scans = index.select(pl.concat_str("modality", "image_id", separator="/")).to_series()
    return scans.unique().to_list()


def run_job(store, tmp_path, spec, shard, shard_scans):
    output = tmp_path / "embeddings" / f"shard-{shard}.zarr"
    embed_job(index_path=store.index_path, slices_dir=store.slices_dir, output=output,
              encoder_name="random", spec=spec, shard=shard, scan_ids=shard_scans, device=CPU)  # fmt: skip
    return output


class ChannelMeans(torch.nn.Module):
    """A stand-in model: (n, 3, S, S) -> (n, 3); `poison` makes one row of one batch NaN."""

    def __init__(self, poison: tuple[int, int] | None = None, fail_on_batch: int | None = None):
        super().__init__()
        self.poison = poison
        self.fail_on_batch = fail_on_batch
        self.batches = 0

    def forward(self, pixels):
        self.batches += 1
        if self.batches == self.fail_on_batch:
            raise RuntimeError("out of memory")
        features = pixels.mean(dim=(2, 3))
        if self.poison and self.batches == self.poison[0]:
            features[self.poison[1]] = float("nan")
        return features


def stand_in(model, dim=3):
    return Encoder("stand_in", "test", model, dim, Preprocessing(8), CPU, "fp32")


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "worker-process"])
def test_every_slice_is_embedded_in_row_order(slice_store, tmp_path, tiny_dinov3_spec, workers):
    spec = {**tiny_dinov3_spec, "num_workers": workers}
    shards = assign_shards(scan_ids(slice_store.index), 2)
    outputs = [run_job(slice_store, tmp_path, spec, k, s) for k, s in enumerate(shards)]
    _, index_hash = read_index(slice_store.index_path)
    embeddings = load_embeddings(outputs, index_hash=index_hash)
    assert embeddings.shape == (slice_store.index.height, 64)
    encoder = build_encoder("random", spec, CPU)
    expected = encoder.encode(slice_store.slices_of(slice_store.index)).numpy()
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)
    attrs = dict(zarr.open_group(outputs[1], mode="r").attrs)
    assert SHARD_ATTRS <= set(attrs)
    assert (attrs["shard"], attrs["seed"], attrs["dim"]) == (1, 3, 64)
    assert (attrs["index_hash"], attrs["precision"]) == (index_hash, "fp32")


def test_output_width_other_than_the_configured_dim_names_encoder_and_shard(
    slice_store, tmp_path, tiny_dinov3_spec
):
    spec = {**tiny_dinov3_spec, "dim": 32}
    with pytest.raises(EncoderError, match=r"encoder 'random', shard 4: .*\(8, 64\).*dim 32"):
        run_job(slice_store, tmp_path, spec, 4, scan_ids(slice_store.index))
    assert not (tmp_path / "embeddings").exists()


def test_nan_embedding_names_encoder_shard_and_slice(slice_store, tmp_path):
    rows = slice_store.index
    poisoned = rows.row(8 + 2, named=True)
    with pytest.raises(EncoderError) as err:
        embed_shard(stand_in(ChannelMeans(poison=(2, 2))), rows, slice_store.slices_dir,
                    tmp_path / "shard-0.zarr", shard=0, index_hash="h", batch_size=8,
                    num_workers=0)  # fmt: skip
    message = str(err.value)
    assert message.startswith("encoder 'stand_in', shard 0: non-finite embedding")
    key = f"{poisoned['modality']}/{poisoned['image_id']} {poisoned['orientation']}"
    assert f"row {poisoned['row_id']} ({key} slice {poisoned['index']})" in message
    assert not (tmp_path / "shard-0.zarr").exists()


def test_a_failure_mid_shard_leaves_nothing_behind(slice_store, tmp_path):
    with pytest.raises(RuntimeError, match="out of memory"):
        embed_shard(stand_in(ChannelMeans(fail_on_batch=3)), slice_store.index,
                    slice_store.slices_dir, tmp_path / "out" / "shard-0.zarr", shard=0,
                    index_hash="h", batch_size=8, num_workers=0)  # fmt: skip
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


KILLED_WHILE_WRITING = textwrap.dedent(
    """
    import os, signal, sys
    import polars as pl, torch, zarr
    from sail_core.embed.encoder import Encoder
    from sail_core.embed.preprocessing import Preprocessing
    from sail_core.embed.run import embed_shard

    class ChannelMeans(torch.nn.Module):
        def forward(self, pixels):
            return pixels.mean(dim=(2, 3))

    create_array = zarr.Group.create_array
    def create_then_die(self, name, **kwargs):
        if name == "row_ids":  # the embeddings are on disk, the row ids not yet
            os.kill(os.getpid(), signal.SIGKILL)
        return create_array(self, name, **kwargs)
    zarr.Group.create_array = create_then_die

    index_path, slices_dir, output = sys.argv[1:]
    encoder = Encoder("stand_in", "test", ChannelMeans(), 3, Preprocessing(8),
                      torch.device("cpu"), "fp32")
    embed_shard(encoder, pl.read_parquet(index_path), slices_dir, output, shard=0,
                index_hash="h", batch_size=8, num_workers=0)
    """
)


def test_a_job_killed_while_writing_leaves_no_shard_that_looks_finished(slice_store, tmp_path):
    output = tmp_path / "out" / "shard-0.zarr"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_WRITING, str(slice_store.index_path),
         str(slice_store.slices_dir), str(output)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not output.exists()
    leftovers = [p.name for p in output.parent.iterdir()]
    assert leftovers and all(name.startswith(".shard-0.zarr.tmp-") for name in leftovers)
    with pytest.raises(FileNotFoundError):
        load_embeddings([output])
