import polars as pl

from sail_core.data.dataset import age_bin


def test_age_bin_labels_match_their_boundaries():
    ages = pl.DataFrame({"age": [0.0, 39.9, 40.0, 59.9, 60.0, 79.9, 80.0, 95.0, None]})
    bins = ages.select(age_bin(pl.col("age")).alias("bin"))["bin"].to_list()
    assert bins == ["<40", "<40", "40-60", "40-60", "60-80", "60-80", ">=80", ">=80", None]
