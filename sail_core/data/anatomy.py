"""TotalSegmentator class names (CT v2.0.1: 117, MRI v2.0.0: 50) and their anatomical regions.

Regions make CT and MRI comparable: CT splits the spine into single vertebrae and the lungs into
lobes, MRI has one `vertebrae` mask and one mask per lung; both map to the same region columns.
`SPINE_LEVEL_OF` keeps the finer cervical/thoracic/lumbar level for CT vertebrae.
"""

from __future__ import annotations

_SIDES = ("left", "right")

_VERTEBRAE_CT = (
    ["vertebrae_S1"]
    + [f"vertebrae_L{i}" for i in range(5, 0, -1)]
    + [f"vertebrae_T{i}" for i in range(12, 0, -1)]
    + [f"vertebrae_C{i}" for i in range(7, 0, -1)]
)
_RIBS = [f"rib_{side}_{i}" for side in _SIDES for i in range(1, 13)]
_GLUTEI = [f"gluteus_{m}_{side}" for m in ("maximus", "medius", "minimus") for side in _SIDES]

CT_STRUCTURES: tuple[str, ...] = tuple(
    [
        "spleen", "kidney_right", "kidney_left", "gallbladder", "liver", "stomach", "pancreas",
        "adrenal_gland_right", "adrenal_gland_left", "lung_upper_lobe_left",
        "lung_lower_lobe_left", "lung_upper_lobe_right", "lung_middle_lobe_right",
        "lung_lower_lobe_right", "esophagus", "trachea", "thyroid_gland", "small_bowel",
        "duodenum", "colon", "urinary_bladder", "prostate", "kidney_cyst_left",
        "kidney_cyst_right", "sacrum",
    ]
    + _VERTEBRAE_CT
    + [
        "heart", "aorta", "pulmonary_vein", "brachiocephalic_trunk", "subclavian_artery_right",
        "subclavian_artery_left", "common_carotid_artery_right", "common_carotid_artery_left",
        "brachiocephalic_vein_left", "brachiocephalic_vein_right", "atrial_appendage_left",
        "superior_vena_cava", "inferior_vena_cava", "portal_vein_and_splenic_vein",
        "iliac_artery_left", "iliac_artery_right", "iliac_vena_left", "iliac_vena_right",
        "humerus_left", "humerus_right", "scapula_left", "scapula_right", "clavicula_left",
        "clavicula_right", "femur_left", "femur_right", "hip_left", "hip_right", "spinal_cord",
    ]
    + _GLUTEI
    + ["autochthon_left", "autochthon_right", "iliopsoas_left", "iliopsoas_right", "brain",
       "skull"]
    + _RIBS
    + ["sternum", "costal_cartilages"]
)  # fmt: skip

MRI_STRUCTURES: tuple[str, ...] = (
    "spleen", "kidney_right", "kidney_left", "gallbladder", "liver", "stomach", "pancreas",
    "adrenal_gland_right", "adrenal_gland_left", "lung_left", "lung_right", "esophagus",
    "small_bowel", "duodenum", "colon", "urinary_bladder", "prostate", "sacrum", "vertebrae",
    "intervertebral_discs", "spinal_cord", "heart", "aorta", "inferior_vena_cava",
    "portal_vein_and_splenic_vein", "iliac_artery_left", "iliac_artery_right", "iliac_vena_left",
    "iliac_vena_right", "humerus_left", "humerus_right", "scapula_left", "scapula_right",
    "clavicula_left", "clavicula_right", "femur_left", "femur_right", "hip_left", "hip_right",
    *_GLUTEI, "autochthon_left", "autochthon_right", "iliopsoas_left", "iliopsoas_right", "brain",
)  # fmt: skip

_EXPLICIT_REGIONS = {
    "spleen": "spleen",
    "liver": "liver",
    "gallbladder": "gallbladder",
    "stomach": "stomach",
    "pancreas": "pancreas",
    "esophagus": "esophagus",
    "trachea": "airways",
    "thyroid_gland": "thyroid",
    "small_bowel": "bowel",
    "duodenum": "bowel",
    "colon": "bowel",
    "urinary_bladder": "urinary_bladder",
    "prostate": "prostate",
    "sacrum": "sacrum",
    "vertebrae_S1": "sacrum",
    "vertebrae": "spine",
    "intervertebral_discs": "spine",
    "spinal_cord": "spinal_cord",
    "heart": "heart",
    "atrial_appendage_left": "heart",
    "pulmonary_vein": "heart",
    "brain": "brain",
    "skull": "skull",
    "sternum": "rib_cage",
    "costal_cartilages": "rib_cage",
    "portal_vein_and_splenic_vein": "portal_venous_system",
}

_PREFIX_REGIONS = (
    ("kidney", "kidneys"),
    ("adrenal_gland", "adrenal_glands"),
    ("lung", "lungs"),
    ("vertebrae_", "spine"),
    ("rib_", "rib_cage"),
    ("aorta", "aorta"),
    ("brachiocephalic", "supra_aortic_vessels"),
    ("subclavian", "supra_aortic_vessels"),
    ("common_carotid", "supra_aortic_vessels"),
    ("superior_vena_cava", "venae_cavae"),
    ("inferior_vena_cava", "venae_cavae"),
    ("iliac_", "iliac_vessels"),
    ("humerus", "upper_limbs"),
    ("scapula", "shoulder_girdle"),
    ("clavicula", "shoulder_girdle"),
    ("femur", "femurs"),
    ("hip_", "pelvic_bones"),
    ("gluteus", "gluteal_muscles"),
    ("autochthon", "paraspinal_muscles"),
    ("iliopsoas", "iliopsoas"),
)


def _region(structure: str) -> str:
    if structure in _EXPLICIT_REGIONS:
        return _EXPLICIT_REGIONS[structure]
    for prefix, region in _PREFIX_REGIONS:
        if structure.startswith(prefix):
            return region
    raise KeyError(f"no anatomical region for structure {structure!r}")


REGION_OF: dict[str, str] = {
    s: _region(s) for s in sorted(set(CT_STRUCTURES) | set(MRI_STRUCTURES))
}

SPINE_LEVEL_OF: dict[str, str] = {
    v: {"C": "cervical_spine", "T": "thoracic_spine", "L": "lumbar_spine", "S": "sacrum"}[v[10]]
    for v in _VERTEBRAE_CT
}
