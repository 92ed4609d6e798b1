import os
import subprocess
import sys

import dask.array as da
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from sail_core.sae.codes import CodeStore, CodeStoreError, encode_codes
from sail_core.sae.config import parse_sae_name
from sail_core.sae.model import MatryoshkaSAE


@pytest.fixture
def model():
    torch.manual_seed(0)
    sae = MatryoshkaSAE(parse_sae_name("D16-64_K4-8"), 12, input_norm="l2").requires_grad_(False)
    sae.threshold.fill_(0.2)
    return sae


def test_codes_round_trip_through_zarr(model, tmp_path):
    x = np.random.default_rng(0).normal(size=(103, 12)).astype(np.float32)
    view = da.from_array(x, chunks=(25, 12))
    path = tmp_path / "codes.zarr"
    encode_codes(
        model, view, path, chunk_rows=40, attrs={"index_hash": "h1", "sae": "s"}, source="e"
    )
    store = CodeStore(path, index_hash="h1")
    codes = store.read_all()
    expected = model.encode(torch.from_numpy(x)).numpy()
    assert codes.shape == (103, 64)
    np.testing.assert_array_equal(codes.toarray(), expected)
    chunks = list(store.iter_chunks(chunk_rows=30))
    assert [start for start, _ in chunks] == [0, 30, 60, 90]
    np.testing.assert_array_equal(sp.vstack([c for _, c in chunks]).toarray(), expected)


def test_codes_reject_a_foreign_index_and_bad_rows(model, tmp_path):
    x = np.random.default_rng(1).normal(size=(10, 12)).astype(np.float32)
    path = tmp_path / "codes.zarr"
    encode_codes(model, x, path, chunk_rows=4, attrs={"index_hash": "h1"}, source="e")
    with pytest.raises(CodeStoreError, match="index hash h1 does not match"):
        CodeStore(path, index_hash="other")
    x[6, 2] = np.nan
    with pytest.raises(ValueError, match=r"rows \[6\] contain NaN"):
        encode_codes(model, x, tmp_path / "bad.zarr", chunk_rows=4, attrs={}, source="e")
    assert not (tmp_path / "bad.zarr").exists()
    with pytest.raises(ValueError, match="13 dimensions, the SAE expects 12"):
        encode_codes(
            model,
            np.zeros((3, 13), np.float32),
            tmp_path / "d.zarr",
            chunk_rows=4,
            attrs={},
            source="e",
        )


def test_reading_codes_does_not_import_torch():
    # evaluation jobs only read codes; torch would add seconds to each job's start-up
    code = (
        "import sys; from sail_core.sae.codes import CodeStore; "
        "from sail_core.sae import CodeStore, write_code_store; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))
