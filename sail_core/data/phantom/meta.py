"""Demographics and acquisition metadata, with vocabularies like TotalSegmentator's meta.csv."""

from __future__ import annotations

import numpy as np

INSTITUTES = tuple("ABCDEFGHIJ")
_OFTEN_HELD_OUT = ("A", "D", "E")
_HELD_OUT_SHARE = 0.25
"""A quarter of the scans come from A, D and E (the institutes a study-like split tests on)."""

MANUFACTURER_OF_INSTITUTE = {
    "A": "siemens", "B": "siemens", "C": "ge", "D": "philips", "E": "siemens",
    "F": "ge", "G": "philips", "H": "siemens", "I": "philips", "J": "ge",
}  # fmt: skip
CT_SCANNERS = {
    "siemens": ("SOMATOM Definition Flash", "SOMATOM Force", "Sensation 64"),
    "ge": ("Revolution CT", "LightSpeed VCT"),
    "philips": ("IQon Spectral CT", "Brilliance 64"),
}
MRI_SCANNERS: dict[str, dict[str, float]] = {
    "siemens": {"Skyra": 3.0, "Avanto_fit": 1.5, "Aera": 1.5, "Prisma_fit": 3.0},
    "ge": {"SIGNA Artist": 1.5, "DISCOVERY MR750": 3.0},
    "philips": {"Achieva": 1.5, "Ingenia": 3.0},
}
KVP = (80.0, 100.0, 120.0, 140.0)
_KVP_WEIGHTS = (0.1, 0.25, 0.5, 0.15)
SEQUENCE_TIMING_MS = {
    "GR": ((1.2, 4.8), (3.0, 10.0)),
    "SE": ((80.0, 120.0), (2000.0, 6000.0)),
    "IR": ((40.0, 70.0), (3000.0, 8000.0)),
}
"""Scanning sequence -> (echo time range, repetition time range)."""
MRI_SOURCES = ("in_house", "public")
DATASET_SPLITS, _DATASET_SPLIT_WEIGHTS = ("train", "val", "test"), (0.8, 0.1, 0.1)


def roster(
    n: int, study_weights: dict[str, float], rng: np.random.Generator
) -> list[tuple[str, str, str]]:
    """(gender, institute, study type) for n scans, shuffled: balanced sexes; a quarter of the
    scans from A/D/E and the rest spread evenly over the other institutes; study types in
    proportion to their weights, so even a small dataset covers the common ones."""
    held_out = round(n * _HELD_OUT_SHARE) if n > 1 else 0
    others = [i for i in INSTITUTES if i not in _OFTEN_HELD_OUT]
    institutes = [_OFTEN_HELD_OUT[k % len(_OFTEN_HELD_OUT)] for k in range(held_out)]
    institutes += [others[k % len(others)] for k in range(n - held_out)]
    genders = [("m", "f")[k % 2] for k in range(n)]
    studies = _apportion(study_weights, n, rng)
    columns = (genders, institutes, studies)
    return list(zip(*([column[i] for i in rng.permutation(n)] for column in columns), strict=True))


def _apportion(weights: dict[str, float], n: int, rng: np.random.Generator) -> list[str]:
    """n names, each about n * weight / total times (largest remainders, random tie-break)."""
    names = list(weights)
    quota = n * np.array([weights[name] for name in names]) / sum(weights.values())
    counts = np.floor(quota).astype(int)
    order = sorted(range(len(names)), key=lambda i: (-(quota[i] - counts[i]), rng.random()))
    counts[order[: n - counts.sum()]] += 1
    return [name for name, count in zip(names, counts, strict=True) for _ in range(count)]


def common_fields(
    image_id: str, gender: str, institute: str, study_type: str, rng: np.random.Generator
) -> dict:
    """The leading columns shared by CT and MRI meta.csv."""
    return {
        "image_id": image_id,
        "age": int(rng.integers(18, 91)),
        "gender": gender,
        "institute": institute,
        "study_type": study_type,
        "split": DATASET_SPLITS[rng.choice(3, p=_DATASET_SPLIT_WEIGHTS)],
        "manufacturer": MANUFACTURER_OF_INSTITUTE[institute],
    }


def ct_scanner(manufacturer: str, study_type: str, rng: np.random.Generator) -> tuple[str, float]:
    """Scanner model and tube voltage (head scans at 120 kVp, as is routine)."""
    models = CT_SCANNERS[manufacturer]
    kvp = 120.0 if study_type == "ct head" else KVP[rng.choice(len(KVP), p=_KVP_WEIGHTS)]
    return models[rng.integers(len(models))], kvp


def mri_scanner(manufacturer: str, rng: np.random.Generator) -> tuple[str, float]:
    """Scanner model and its field strength in tesla."""
    models = sorted(MRI_SCANNERS[manufacturer])
    model = models[rng.integers(len(models))]
    return model, MRI_SCANNERS[manufacturer][model]


def sequence_timing(sequence: str, rng: np.random.Generator) -> tuple[float, float]:
    """Echo and repetition time in ms, rounded as DICOM headers usually are."""
    (te_lo, te_hi), (tr_lo, tr_hi) = SEQUENCE_TIMING_MS[sequence]
    return round(float(rng.uniform(te_lo, te_hi)), 2), round(float(rng.uniform(tr_lo, tr_hi)), 1)
