import numpy as np
import pytest

from sail_core.data.windowing import (
    CT_WINDOWS,
    ct_window,
    normalise_study_type,
    window_ct,
    window_mri,
)


def test_table_has_the_studys_38_normalised_entries():
    assert len(CT_WINDOWS) == 38
    assert all(normalise_study_type(k) == k and k.startswith("ct ") for k in CT_WINDOWS)
    assert ct_window("ct head") == (40.0, 400.0)
    assert ct_window("ct thorax") == (-200.0, 1400.0)
    assert ct_window("ct abdomen-pelvis") == (50.0, 1000.0)
    assert ct_window("ct angiography head") == (100.0, 900.0)
    assert ct_window("ct spine") == (200.0, 2000.0)


def test_study_type_is_normalised_before_lookup():
    assert normalise_study_type("  CT   Polytrauma\tHead ") == "ct polytrauma head"
    assert ct_window("  CT   Polytrauma\tHead ") == (40.0, 400.0)


@pytest.mark.parametrize("study_type", ["ct foot", "mri head", "", None])
def test_unknown_study_type_is_a_clear_error(study_type):
    with pytest.raises(ValueError, match="unknown CT study type"):
        ct_window(study_type)


def test_ct_window_bounds_map_to_0_and_255_and_clip_outside():
    hu = np.array([-1000, -160, 240, 3000], dtype=np.int16)
    assert window_ct(hu, 40, 400).tolist() == [0, 0, 255, 255]


def test_ct_window_rounds_instead_of_truncating():
    # Window [0, 255]: identity on the grey levels, so 0.6 must round up to 1.
    values = np.array([0.4, 0.6, 100.5001, 254.6], dtype=np.float32)
    assert window_ct(values, 127.5, 255).tolist() == [0, 1, 101, 255]


def test_ct_window_does_not_stretch_to_the_volumes_own_range():
    # Soft tissue that never reaches the bounds keeps its place inside the window.
    hu = np.array([0, 10], dtype=np.int16)
    out = window_ct(hu, 40, 400)
    assert out.dtype == np.uint8
    assert out.tolist() == [round(160 / 400 * 255), round(170 / 400 * 255)]


def test_ct_window_rejects_non_positive_width():
    with pytest.raises(ValueError, match="width"):
        window_ct(np.zeros(3), 40, 0)


def test_mri_percentiles_use_non_zero_voxels_only():
    foreground = np.arange(1, 101, dtype=np.float32)
    volume = np.concatenate([np.zeros(1000, np.float32), foreground])
    out, (low, high) = window_mri(volume, (1.0, 99.0))
    assert (low, high) == pytest.approx(tuple(np.percentile(foreground, [1, 99])))
    assert out[:1000].max() == 0
    assert out[-1] == 255 and out[1000] == 0
    middle = volume[1050]
    assert out[1050] == round((middle - low) / (high - low) * 255)


def test_mri_without_contrast_is_an_error():
    with pytest.raises(ValueError, match="no non-zero voxel"):
        window_mri(np.zeros((4, 4, 4)))
    with pytest.raises(ValueError, match="no contrast"):
        window_mri(np.full((4, 4, 4), 7.0))
