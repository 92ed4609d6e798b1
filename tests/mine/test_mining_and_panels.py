import numpy as np
import polars as pl
from PIL import Image

from sail_core.columns import index_hash
from sail_core.mine.mining import MiningSettings, mine_features
from sail_core.mine.panels import panel_name, write_panels
from sail_core.mine.synthetic import planted_codes, synthetic_index
from sail_core.sae.codes import CodeStore, write_code_store

LIVER = 5


def _mine(tmp_path):
    index = synthetic_index(900, 40, seed=1)
    codes = planted_codes(index, 32, 6, {"liver": LIVER, "brain": 6}, seed=1)
    write_code_store(tmp_path / "codes.zarr", codes, {"index_hash": index_hash(index)})
    store = CodeStore(tmp_path / "codes.zarr", index_hash=index_hash(index))
    settings = MiningSettings(
        ["train", "val", "test"], n_top=10, diverse_pool=20, n_diverse=5, min_count=2, chunk_rows=64
    )
    return index, mine_features(index, store, settings)


def test_mining_finds_the_planted_liver_feature(tmp_path):
    index, result = _mine(tmp_path)
    liver_rows = index.filter(pl.col("structure_liver"))
    stats = result.stats.filter(pl.col("feature") == LIVER).row(0, named=True)
    assert stats["n_fires"] == liver_rows.height
    top = result.top_slices.filter(pl.col("feature") == LIVER)
    assert top.height == 20 and top.filter(pl.col("in_top")).height == 10
    assert top.select("modality", "image_id").is_unique().all()
    assert sorted(top["diverse_order"].drop_nulls().to_list()) == [0, 1, 2, 3, 4]
    assert top.filter(pl.col("diverse_order") == 0)["rank"].to_list() == [0]
    assert set(top["row_id"]) <= set(liver_rows["row_id"])
    best = result.enrichment.filter(
        (pl.col("feature") == LIVER) & (pl.col("attribute") == "structure")
    ).row(0, named=True)
    assert (best["value"], best["count"]) == ("liver", 10)


class ConstantReader:
    def __init__(self):
        self.calls = 0

    def read(self, rows):
        self.calls += 1
        return np.full((rows.height, 32, 32), 128, dtype=np.uint8)


def test_panels_one_png_per_feature(tmp_path):
    index, result = _mine(tmp_path)
    top = result.top_slices.filter(pl.col("in_top") & pl.col("feature").is_in([LIVER, 6, 7]))
    reader = ConstantReader()
    out = tmp_path / "panels"
    out.mkdir()
    assert write_panels(top, index, reader, out, tile_px=40, columns=5, features_per_read=2) == 3
    assert reader.calls == 2
    with Image.open(out / panel_name(LIVER)) as image:
        assert image.width == 5 * 40
        assert image.height > 2 * 40
