import math

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from sail_core.mine.diverse import diverse_samples, max_min_order
from sail_core.mine.enrichment import enrichment


def test_max_min_order_skips_near_duplicates():
    vectors = sp.csr_matrix(
        np.array(
            [
                [1.0, 0.0, 0.0],
                [0.99, 0.1, 0.0],  # nearly the top slice again
                [0.0, 1.0, 0.0],
                [0.0, 0.0, 1.0],
            ]
        )
    )
    assert max_min_order(vectors, 3) == [0, 2, 3]
    assert max_min_order(vectors, 10) == [0, 2, 3, 1]
    assert max_min_order(sp.csr_matrix((0, 3)), 5) == []


def test_diverse_samples_order_within_each_feature():
    top = pl.DataFrame(
        {"feature": [0, 0, 0, 4, 4], "rank": [0, 1, 2, 0, 1], "row_id": [5, 6, 7, 1, 2]}
    )
    vectors = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1], [1, 1], [1, 1]], dtype=float))
    out = diverse_samples(top, vectors, 2)
    assert out["diverse_order"].to_list() == [0, None, 1, 0, 1]


def _index():
    liver = [True, True, True, False, True, False, False, False, False, False]
    return pl.DataFrame(
        {
            "row_id": np.arange(10),
            "modality": ["ct"] * 6 + ["mri"] * 4,
            "orientation": ["axial"] * 10,
            "gender": ["f", "m"] * 5,
            "age_bin": ["<40"] * 10,
            "structure_liver": liver,
            "region_liver": liver,
        }
    )


def test_enrichment_closed_form():
    top = pl.DataFrame({"feature": [3, 3, 3, 3], "row_id": [0, 1, 2, 3]})
    table = enrichment(top, _index(), np.ones(10, dtype=bool), min_count=2)
    liver = table.filter((pl.col("attribute") == "structure") & (pl.col("value") == "liver"))
    row = liver.row(0, named=True)
    assert (row["count"], row["n_top"], row["base_count"], row["base_total"]) == (3, 4, 4, 10)
    assert row["lift"] == pytest.approx((3 / 4) / (4 / 10))
    assert row["log_odds_ratio"] == pytest.approx(math.log(3.5 / 1.5) - math.log(4.5 / 6.5))
    ct = table.filter(pl.col("attribute") == "modality").row(0, named=True)
    assert (ct["value"], ct["count"], ct["lift"]) == ("ct", 4, pytest.approx(1 / 0.6))
    # every top slice is "<40" as is every base row: lift 1 is not over-representation
    assert table.filter(pl.col("attribute") == "age_bin").height == 0
    assert table.filter(pl.col("attribute") == "sex").height == 0  # 2 of 4 = base rate


def test_enrichment_base_rate_comes_from_the_masked_rows():
    top = pl.DataFrame({"feature": [0, 0], "row_id": [0, 1]})
    base = np.zeros(10, dtype=bool)
    base[:4] = True
    table = enrichment(top, _index(), base, min_count=1)
    assert table.filter(pl.col("value") == "liver").row(0, named=True)["base_rate"] == 0.75
