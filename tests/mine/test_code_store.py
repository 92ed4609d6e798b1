import numpy as np
import pytest
import scipy.sparse as sp

from sail_core.sae.codes import CodeStore, CodeStoreError, write_code_store


@pytest.fixture
def codes():
    return sp.random(23, 9, density=0.3, format="csr", random_state=0, dtype=np.float32)


@pytest.fixture
def store(tmp_path, codes):
    write_code_store(tmp_path / "codes.zarr", codes, {"index_hash": "abc"})
    return CodeStore(tmp_path / "codes.zarr", index_hash="abc")


@pytest.mark.parametrize("chunk_rows", [1, 4, 23, 100])
def test_chunks_cover_the_store_in_order(store, codes, chunk_rows):
    starts, chunks = zip(*store.iter_chunks(chunk_rows), strict=True)
    assert starts[0] == 0
    assert (sp.vstack(chunks) != codes).nnz == 0


def test_read_rows_keeps_order_and_repeats(store, codes):
    rows = np.array([7, 2, 22, 2, 0])
    assert (store.read_rows(rows, chunk_rows=5) != codes[rows]).nnz == 0
    assert store.read_rows(np.array([], dtype=np.int64)).shape == (0, 9)


def test_rows_outside_the_store_are_refused(store):
    with pytest.raises(CodeStoreError, match="outside"):
        store.read_rows(np.array([23]))


def test_index_hash_mismatch_names_the_store(tmp_path, store):
    with pytest.raises(CodeStoreError, match=r"codes\.zarr.*does not match"):
        CodeStore(tmp_path / "codes.zarr", index_hash="other")


def test_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(CodeStoreError, match="not a CSR code store"):
        CodeStore(tmp_path / "absent.zarr")


def test_a_folder_that_is_not_a_code_store_is_refused(tmp_path, codes):
    import zarr

    group = zarr.open_group(str(tmp_path / "partial.zarr"), mode="w")
    group.create_array("indptr", shape=(3,), dtype="int64")
    with pytest.raises(CodeStoreError, match=r"missing \['indices', 'values', 'n_rows'"):
        CodeStore(tmp_path / "partial.zarr")
    write_code_store(tmp_path / "c.zarr", codes, {"index_hash": "abc"})
    zarr.open_group(str(tmp_path / "c.zarr"), mode="a").attrs["n_rows"] = 5
    with pytest.raises(CodeStoreError, match="n_rows \\+ 1"):
        CodeStore(tmp_path / "c.zarr")
