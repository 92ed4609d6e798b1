import numpy as np
import pytest

from sail_core.columns import index_hash
from sail_core.evaluate.linear import FitSettings
from sail_core.evaluate.probes import ProbeSettings
from sail_core.mine.synthetic import planted_codes, synthetic_index
from sail_core.sae.codes import CodeStore, write_code_store

PLANTED = {"liver": 3, "brain": 7, "heart": 11}
GROUPS = {
    "sex": {"kind": "multiclass", "column": "gender", "classes": ["f", "m"]},
    "institute": {"kind": "multiclass", "column": "institute", "classes": "auto"},
    "organs_abdominal": {"kind": "presence", "classes": ["liver", "spleen", "pancreas"]},
    "organs_head_and_neck": {"kind": "presence", "classes": ["brain"]},
}


@pytest.fixture(scope="session")
def planted(tmp_path_factory):
    """A synthetic index (test = institutes A, D, E), codes with planted organ features, dense
    embeddings that mix the codes, and a loader of dense rows."""
    index = synthetic_index(2400, 60, seed=7)
    codes = planted_codes(index, 64, 8, PLANTED, seed=7)
    path = tmp_path_factory.mktemp("codes") / "codes.zarr"
    write_code_store(path, codes, {"index_hash": index_hash(index)})
    rng = np.random.default_rng(7)
    dense = codes @ rng.normal(size=(64, 16)) + rng.normal(scale=0.1, size=(index.height, 16))
    return {
        "planted": PLANTED,
        "groups": GROUPS,
        "index": index,
        "codes": codes,
        "store": CodeStore(path, index_hash=index_hash(index)),
        "load_dense": lambda rows: dense[np.asarray(rows)],
    }


@pytest.fixture
def probe_settings():
    return ProbeSettings(
        fit=FitSettings(
            c_grid=(0.01, 0.1, 1.0),
            default_c=1.0,
            penalties={"dense": "l2", "sparse": "l1"},
            max_iter=500,
            seed=0,
        ),
        max_train_rows=1000,
        min_class_rows=5,
        n_top_coefficients=20,
        dense_l2_normalise=True,
    )
