import polars as pl

from sail_core.data.store import SliceReader
from sail_core.label.evidence import FeatureEvidence, SampleMeta
from sail_core.label.offline import OfflineLabeller
from sail_core.label.run import SelectionSettings, choose_features, label_selection

LABELLER = OfflineLabeller(consistency=0.8, region_share=0.6)


def sample(modality="ct", orientation="axial", sex="m", age=70.0, regions=(("liver", 1),)):
    return SampleMeta(modality, orientation, sex, age, regions, None, 1.0)


def label(*samples):
    return LABELLER.label_one(FeatureEvidence(0, samples))


def test_a_consistent_feature_is_named_by_what_its_slices_share():
    liver_spleen = (("liver", 1), ("spleen", 1))
    named = label(*[sample(sex=s, regions=liver_spleen) for s in "mfmfm"])
    assert named.label == "Axial CT of the liver and spleen in older patients"
    assert named.key_structures == ("liver", "spleen")
    assert (named.modality, named.orientation, named.sex, named.age_group) == (
        "ct",
        "axial",
        "any",
        "older",
    )


def test_only_consistent_dimensions_are_stated():
    mixed = [sample("mri", "coronal", "f", 30.0)] + [sample(sex="f", age=35.0)] * 4
    assert label(*mixed).label == "Axial CT of the liver in younger female patients"
    split = [sample("mri", "coronal")] * 2 + [sample()] * 3
    assert label(*split).label == "CT and MRI of the liver in older male patients"
    unknown_age = [sample(age=None)] + [sample()] * 4
    assert label(*unknown_age).label == "Axial CT of the liver in male patients"


def test_regions_are_ranked_by_presence_then_structures_and_capped_at_three():
    regions = (("rib_cage", 12), ("lungs", 2), ("heart", 1), ("aorta", 1), ("spine", 3))
    named = label(*[sample(regions=regions)] * 5)
    assert named.key_structures == ("rib_cage", "spine", "lungs")
    assert named.label == "Axial CT of the rib cage, spine and lungs in older male patients"
    assert label(*[sample(regions=(), age=50.0)] * 5).label == "Axial CT in male patients"


def test_offline_labels_of_the_tiny_run_are_marked_and_name_the_planted_organ(world, tmp_path):
    settings = SelectionSettings(
        "frequency_enrichment", 8, 4, 5, 3, ("train",), True, "monosemanticity_10", 0
    )
    selection, picks = choose_features(
        world["stats"], world["top_slices"], world["enrichment"], None, settings
    )
    reader = SliceReader(world["run"] / "slices").read
    labels, usage = label_selection(selection, picks, world["index"], LABELLER, reader, 64)
    assert labels.height == 12 and set(labels["labeller"]) == {"offline"}
    assert "no language model" in usage["note"]
    liver = labels.filter(pl.col("feature") == 3).row(0, named=True)
    assert liver["label"].startswith("Axial CT of the liver")
    assert liver["n_samples"] == 5 and liver["top_activation"] >= liver["mean_sample_activation"]
