"""Skin, muscles, organs and vessels of the template body (template millimetres, RAS)."""

from __future__ import annotations

import numpy as np

from sail_core.data.phantom.frame import (
    CAVITY,
    SIDES,
    TRUNK,
    Frame,
    Part,
    canal,
    mirror,
    vertebral_body_half,
)
from sail_core.data.phantom.shapes import Cut, Ellipsoid, Union

_NECK = np.array([[540.0, -10.0, 56.0, 60.0], [700.0, -10.0, 56.0, 60.0]])
_THIGH = np.array([[-450.0, 0.0, 62.0, 66.0], [-60.0, 0.0, 80.0, 85.0]])
_THIGH_CENTRE_X = 95.0
_ARM = [(172.0, -18.0, 520.0), (182.0, -14.0, 300.0)]

# Right-side template geometry; the left side mirrors it. Ellipsoids: (centre, radii).
_GLUTEI = {
    "gluteus_maximus": ((75, -70, 10), (55, 30, 75)),
    "gluteus_medius": ((110, -35, 95), (28, 30, 50)),
    "gluteus_minimus": ((100, -15, 70), (18, 20, 30)),
}
_ILIOPSOAS = [(30, -40, 280), (50, -30, 150), (65, 5, 60), (78, 30, 5), (95, 15, -50)]
_AUTOCHTHON_SEGMENTS = (((680.0, 560.0), 12.0), ((560.0, 285.0), 17.0), ((285.0, 90.0), 22.0))

_UPPER_ABDOMEN = {  # structure: (tissue, centre, radii), painted in this order
    "stomach": ("stomach", (-45, 25, 300), (45, 38, 55)),
    "liver": ("liver", (50, 5, 300), (90, 85, 70)),
    "gallbladder": ("bile", (60, 55, 250), (15, 15, 28)),
    "spleen": ("spleen", (-88, -40, 300), (30, 45, 50)),
}
_COLON = [
    (75, 20, 120), (85, 5, 200), (80, 10, 255), (40, 55, 235), (-30, 55, 240), (-80, 10, 275),
    (-85, -5, 200), (-80, 0, 130), (-50, 20, 90), (-15, 10, 70), (0, -25, 45), (0, -30, -25),
]  # fmt: skip
_PANCREAS = [(25, 15, 250), (-10, 5, 268), (-70, -25, 285)]
_DUODENUM = [(30, 25, 290), (50, 15, 265), (48, 10, 225), (10, 5, 212), (-20, 8, 228)]
_KIDNEY_Z = {"right": 232, "left": 248}  # the liver pushes the right kidney down
_ADRENAL_Z = {"right": 300, "left": 308}
_CYST_CHANCE = 0.2

_IVC_START, _BIFURCATION = (22, -18, 130), (-8, -10, 150)
_VESSELS = {  # structure: (radius, path); veins first, so an artery wins where they touch
    "inferior_vena_cava": (11, [_IVC_START, (25, -22, 230), (28, -12, 320), (18, 15, 375)]),
    "iliac_vena_right": (9, [_IVC_START, (50, -2, 80), (70, 22, 15)]),
    "iliac_vena_left": (9, [_IVC_START, (-20, -12, 115), (-55, -2, 75), (-72, 22, 15)]),
    "portal_vein_and_splenic_vein": (6, [(35, 0, 275), (0, -5, 268), (-60, -25, 285)]),
    "superior_vena_cava": (9, [(25, 20, 485), (22, 22, 415)]),
    "brachiocephalic_vein_right": (7, [(60, 10, 538), (25, 20, 490)]),
    "brachiocephalic_vein_left": (7, [(-60, 10, 538), (-20, 25, 505), (25, 20, 490)]),
    "aorta": (11, [(5, 25, 425), (8, 22, 470), (0, 5, 492), (-18, -25, 480), (-22, -38, 430), (-22, -36, 340), (-15, -18, 260), _BIFURCATION]),
    "iliac_artery_right": (7, [_BIFURCATION, (30, 0, 110), (60, 15, 60), (75, 30, 10)]),
    "iliac_artery_left": (7, [_BIFURCATION, (-40, 0, 110), (-62, 15, 60), (-75, 30, 10)]),
    "brachiocephalic_trunk": (7, [(3, 8, 490), (15, 10, 530)]),
    "subclavian_artery_right": (5, [(15, 10, 530), (60, -5, 546), (125, -15, 546)]),
    "subclavian_artery_left": (5, [(-12, -5, 490), (-25, -10, 530), (-60, -10, 546), (-125, -15, 546)]),
    "common_carotid_artery_right": (5, [(15, 10, 530), (32, -5, 660)]),
    "common_carotid_artery_left": (5, [(-8, 0, 492), (-32, -5, 660)]),
}  # fmt: skip
_PULMONARY_VEINS = ([(-10, -8, 405), (45, -15, 410)], [(-10, -8, 405), (-60, -15, 410)])
_ESOPHAGUS = [(-2, 2, 665), (-3, -5, 560), (-2, -28, 470), (-6, -30, 380), (-25, -8, 320), (-40, 15, 305)]  # fmt: skip
_TRACHEA = [(0, 18, 665), (0, 12, 560), (0, 3, 455)]


def skin_and_wall(frame: Frame, head: Ellipsoid) -> list[Part]:
    """Subcutaneous fat under the skin, the muscles inside it, and the fatty body cavity."""
    fat = frame.fat_mm
    skin = [
        frame.profile(TRUNK, grow_mm=fat),
        frame.profile(_NECK, grow_mm=0.4 * fat),
        *(frame.tube(mirror(_ARM, sign), 40.0 + 0.5 * fat) for _, sign in SIDES),
        *(frame.profile(_THIGH, fat, sign * _THIGH_CENTRE_X) for _, sign in SIDES),
    ]
    wall = [
        frame.profile(TRUNK),
        frame.profile(_NECK),
        *(frame.tube(mirror(_ARM, sign), 36.0) for _, sign in SIDES),
        *(frame.profile(_THIGH, center_x=sign * _THIGH_CENTRE_X) for _, sign in SIDES),
    ]
    return [
        *(Part(shape, "fat", outline=True) for shape in skin),
        Part(head, "soft", outline=True),
        *(Part(shape, "muscle") for shape in wall),
        Part(frame.profile(CAVITY), "visceral_fat"),
    ]


def muscles(frame: Frame) -> list[Part]:
    """Back muscles along the spine, iliopsoas and the three glutei, on both sides."""
    parts = []
    for side, sign in SIDES:
        back = []
        for (z_hi, z_lo), radius in _AUTOCHTHON_SEGMENTS:
            heights = (z_hi, (z_hi + z_lo) / 2, z_lo)
            path = [(sign * (vertebral_body_half(z)[0] + 10), canal(z)[0] - 4, z) for z in heights]
            back.append(frame.tube(path, radius))
        parts.append(Part(Union(tuple(back)), "muscle", f"autochthon_{side}"))
        parts.append(
            Part(frame.tube(mirror(_ILIOPSOAS, sign), 17.0, 3.0), "muscle", f"iliopsoas_{side}")
        )
        for name, (centre, radii) in _GLUTEI.items():
            parts.append(
                Part(frame.organ(mirror([centre], sign)[0], radii), "muscle", f"{name}_{side}")
            )
    return parts


def lungs_and_heart(frame: Frame) -> list[Part]:
    """Five lung lobes split by the fissures, pulmonary veins, heart and left atrial appendage."""
    right = frame.organ((68, -5, 410), (62, 88, 130))
    left = frame.organ((-70, -5, 405), (58, 88, 128))
    fissure_point = frame.point(0, -5, 395)
    oblique = frame.normal((0, 0.9, 1))  # the oblique fissure falls from back-top to front-bottom
    horizontal_point, up = frame.point(0, 0, 415), frame.normal((0, 0, 1))
    right_upper_middle = Cut(right, fissure_point, -oblique)
    pulmonary_veins = Union(tuple(frame.tube(path, 6) for path in _PULMONARY_VEINS))
    return [
        Part(Cut(right, fissure_point, oblique), "lung", "lung_lower_lobe_right"),
        Part(Cut(right_upper_middle, horizontal_point, -up), "lung", "lung_upper_lobe_right"),
        Part(Cut(right_upper_middle, horizontal_point, up), "lung", "lung_middle_lobe_right"),
        Part(Cut(left, fissure_point, oblique), "lung", "lung_lower_lobe_left"),
        Part(Cut(left, fissure_point, -oblique), "lung", "lung_upper_lobe_left"),
        Part(pulmonary_veins, "blood", "pulmonary_vein"),
        Part(frame.organ((-22, 25, 390), (55, 45, 58)), "blood", "heart"),
        Part(frame.organ((-58, 28, 425), (12, 10, 12), 2.0), "blood", "atrial_appendage_left"),
    ]


def abdominal_organs(frame: Frame) -> list[Part]:
    """Bowel, upper abdominal organs, kidneys (sometimes with a cyst), adrenals, bladder and,
    in men, the prostate."""
    parts = [
        Part(frame.organ((0, 35, 175), (85, 50, 60)), "bowel", "small_bowel"),
        Part(frame.tube(_COLON, 18.0, 5.0), "colon", "colon"),
        *(
            Part(frame.organ(centre, radii), tissue, name)
            for name, (tissue, centre, radii) in _UPPER_ABDOMEN.items()
        ),
        Part(frame.tube(_PANCREAS, 12.0, 4.0), "pancreas", "pancreas"),
        Part(frame.tube(_DUODENUM, 11.0, 4.0), "bowel", "duodenum"),
    ]
    for side, sign in SIDES:
        kidney = frame.organ((sign * 70, -45, _KIDNEY_Z[side]), (27, 27, 55))
        parts.append(Part(kidney, "kidney", f"kidney_{side}"))
        if frame.rng.random() < _CYST_CHANCE:
            offset = np.array([sign * 0.4, 0.0, 0.3]) * kidney.radii
            cyst = Ellipsoid(kidney.center + offset, np.full(3, 0.35 * kidney.radii[0]))
            parts.append(Part(cyst, "cyst", f"kidney_cyst_{side}"))
        adrenal = frame.organ((sign * 45, -30, _ADRENAL_Z[side]), (8, 6, 16), 2.0)
        parts.append(Part(adrenal, "adrenal", f"adrenal_gland_{side}"))
    bladder = frame.organ((0, 45, 30), (40, 35, 30), size_sd=0.15)  # filling varies
    parts.append(Part(bladder, "urine", "urinary_bladder"))
    if frame.sex == "m":
        parts.append(Part(frame.organ((0, 25, -22), (20, 16, 17), 2.0), "prostate", "prostate"))
    return parts


def vessels(frame: Frame) -> list[Part]:
    return [
        Part(frame.tube(path, radius), "blood", name) for name, (radius, path) in _VESSELS.items()
    ]


def neck_organs(frame: Frame) -> list[Part]:
    """Esophagus (down to the stomach), trachea and the two thyroid lobes."""
    thyroid = Union(tuple(frame.organ((sign * 18, 20, 600), (9, 8, 20), 1.5) for _, sign in SIDES))
    return [
        Part(frame.tube(_ESOPHAGUS, 6.0), "muscle", "esophagus"),
        Part(frame.tube(_TRACHEA, 9.0), "airway", "trachea"),
        Part(thyroid, "thyroid", "thyroid_gland"),
    ]


def brain(frame: Frame, head: Ellipsoid, skull_base_z: float) -> list[Part]:
    """The brain inside the skull vault, with fluid-filled lateral ventricles."""
    inside_skull = Ellipsoid(head.center, head.radii - 10.0)
    above_base = (np.array([0.0, 0.0, skull_base_z + 3.0]), np.array([0.0, 0.0, -1.0]))
    ventricles = Union(
        tuple(
            Ellipsoid(head.center + frame.point(sign * 8, 3, 15), frame.point(5, 22, 10))
            for _, sign in SIDES
        )
    )
    return [Part(Cut(inside_skull, *above_base), "brain", "brain"), Part(ventricles, "csf")]
