"""The slice store reader refuses stores it cannot read slices from, naming the scan."""

import numpy as np
import polars as pl
import pytest
import zarr

from sail_core.data.errors import BadScanError
from sail_core.data.slicing import SlicingParams, write_quarantined
from sail_core.data.store import SliceReader
from tests.fixtures import write_slice_store

ROW = pl.DataFrame(
    {"modality": ["ct"], "image_id": ["s0001"], "orientation": ["axial"], "array_pos": [0]}
)


def test_reads_what_the_writer_wrote(tmp_path):
    slices = np.arange(2 * 8 * 8, dtype=np.uint8).reshape(2, 8, 8)
    write_slice_store(tmp_path, "ct", "s0001", {"axial": slices}, ROW)
    np.testing.assert_array_equal(SliceReader(tmp_path, size=8).read(ROW), slices[:1])


def test_a_quarantined_scan_is_refused_with_its_reason(tmp_path):
    error = BadScanError("ct/s0001", "ct.nii.gz", "truncated gzip stream")
    write_quarantined(
        error,
        "ct",
        "s0001",
        SlicingParams(size=8),
        tmp_path / "ct/s0001.zarr",
        tmp_path / "ct/s0001.parquet",
    )
    with pytest.raises(ValueError, match=r"ct/s0001 .*quarantined \(truncated gzip stream\)"):
        SliceReader(tmp_path).read(ROW)


@pytest.mark.parametrize(
    ("dtype", "shape"), [(np.float32, (2, 8, 8)), (np.uint8, (2, 64))], ids=["float", "flat"]
)
def test_an_array_that_is_not_a_stack_of_uint8_slices_is_refused(tmp_path, dtype, shape):
    # deliberately malformed, so written by hand rather than by the slicing stage's writer
    group = zarr.open_group(tmp_path / "ct/s0001.zarr", mode="w")
    group.create_array("axial", data=np.zeros(shape, dtype))
    with pytest.raises(ValueError, match=r"ct/s0001 .*axial is .*not a stack of uint8 slices"):
        SliceReader(tmp_path).read(ROW)
