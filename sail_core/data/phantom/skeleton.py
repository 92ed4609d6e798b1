"""Bones of the template body: skull, spine, rib cage, shoulder girdle, pelvis and femurs."""

from __future__ import annotations

import numpy as np

from sail_core.data.phantom.frame import (
    SIDES,
    SPINE_LEVELS,
    Frame,
    Part,
    canal,
    cavity,
    spine_y,
    vertebral_body_half,
)
from sail_core.data.phantom.shapes import Cut, Difference, Ellipsoid, Union, cylinder

_RIB_END_ANGLE = (2.5, 2.65, 2.75, 2.8, 2.8, 2.75, 2.7, 2.5, 2.3, 2.1, 1.7, 1.3)
_RIB_START_ANGLE = 0.35
_STERNUM_Z = (335.0, 505.0)
_S1_Z = (115.0, 85.0)  # top and bottom of S1, the upper end of the sacrum
_UP = np.array([0.0, 0.0, 1.0])


def _bone(shape, structure: str) -> Part:
    return Part(shape, "marrow", structure, rim_tissue="cortical")


def skull(frame: Frame, head: Ellipsoid) -> tuple[Part, float]:
    """The skull vault and base; also returns the subject z of the skull base."""
    base_z = float(head.center[2] - 0.65 * head.radii[2])
    vault = Difference(
        Ellipsoid(head.center, head.radii - 2.0), Ellipsoid(head.center, head.radii - 9.0)
    )
    base = cylinder(head.center[:2], 0.75 * (head.radii[:2] - 12.0), base_z - 6.0, base_z + 4.0)
    shape = Union((Cut(vault, np.array([0.0, 0.0, base_z]), -_UP), base))
    return Part(shape, "cortical", "skull"), base_z


def _vertebra(frame: Frame, level: str, top: float, bottom: float) -> Part:
    """Body, the ring around the spinal canal, the spinous and both transverse processes."""
    height, middle = top - bottom, (top + bottom) / 2
    half_x, half_y = vertebral_body_half(middle)
    canal_y, canal_radius = canal(middle)
    lo, hi = bottom + 0.1 * height, top - 0.1 * height  # the rest is disc
    ring = Difference(
        frame.cylinder((0, canal_y), (canal_radius + 5, canal_radius + 5), lo, hi),
        frame.cylinder((0, canal_y), (canal_radius, canal_radius), lo - 1, hi + 1),
    )
    back = canal_y - canal_radius - 3
    spinous_length = {"C": 15.0, "T": 25.0, "L": 22.0}[level[0]]
    pieces = [
        frame.cylinder((0, spine_y(middle)), (half_x, half_y), lo, hi),
        ring,
        frame.tube([(0, back, middle), (0, back - spinous_length, middle - 0.35 * height)], 4),
    ]
    for _, sign in SIDES:
        root, tip = (sign * (canal_radius + 4), canal_y + 2), (sign * (half_x + 16), canal_y + 4)
        pieces.append(frame.tube([(*root, middle), (*tip, middle)], 4))
    return _bone(Union(tuple(pieces)), f"vertebrae_{level}")


def _discs(frame: Frame) -> Part:
    discs = []
    lower_levels = SPINE_LEVELS[1:] + (("S1", *_S1_Z),)
    for (_, _, z), (_, lower_top, lower_bottom) in zip(SPINE_LEVELS, lower_levels, strict=True):
        thickness = 0.2 * (lower_top - lower_bottom)
        lo, hi = z - thickness / 2, z + thickness / 2
        discs.append(frame.cylinder((0, spine_y(z)), vertebral_body_half(z), lo, hi))
    return Part(Union(tuple(discs)), "disc", "intervertebral_discs")


def spine(frame: Frame) -> list[Part]:
    """Vertebrae C1-L5, discs between them, the fluid-filled canal and the cord (down to L1)."""
    canal_path = [(0, canal(z)[0], z) for z in (700.0, 560.0, 420.0, 285.0, _S1_Z[0])]
    return [
        *(_vertebra(frame, *level) for level in SPINE_LEVELS),
        _discs(frame),
        Part(frame.tube(canal_path, 7.5), "csf"),
        Part(frame.tube(canal_path[:4], 5.0), "cord", "spinal_cord"),
    ]


def _sternum_front(z: float) -> float:
    centre_y, _, half_depth = cavity(z)
    return centre_y + half_depth + 7.0


def _rib(number: int, sign: float) -> list[tuple[float, float, float]]:
    """Template path of a rib: from its vertebra around the cavity wall, dropping as it runs
    forward; ribs 1-7 end near the sternum, the lower ones ever further back."""
    _, top, bottom = SPINE_LEVELS[6 + number]  # attached to vertebra T<number>
    z = (top + bottom) / 2
    centre_y, half_width, half_depth = cavity(z)
    angles = np.linspace(_RIB_START_ANGLE, _RIB_END_ANGLE[number - 1], 9)
    drop = (30.0 + 4.0 * number) * (angles - angles[0]) / (angles[-1] - angles[0])
    start = (sign * (vertebral_body_half(z)[0] + 14), canal(z)[0] + 4, z)
    arc = [
        (sign * (half_width + 4) * np.sin(a), centre_y - (half_depth + 4) * np.cos(a), z - d)
        for a, d in zip(angles, drop, strict=True)
    ]
    return [start, *arc]


def rib_cage(frame: Frame) -> list[Part]:
    """Ribs 1-12 on both sides, costal cartilages of ribs 1-10, and the sternum."""
    parts, cartilages = [], []
    for number in range(1, 13):
        for side, sign in SIDES:
            path = _rib(number, sign)
            parts.append(_bone(frame.tube(path, 5.0), f"rib_{side}_{number}"))
            if number > 10:
                continue
            end_z = path[-1][2]
            if number > 7:  # false ribs join the costal margin at the lower sternum
                end_z = _STERNUM_Z[0] + 10
            attach_z = float(np.clip(end_z, *_STERNUM_Z))
            attach = (sign * 16, _sternum_front(attach_z) - 4, attach_z)
            cartilages.append(frame.tube([path[-1], attach], 5.0))
    parts.append(Part(Union(tuple(cartilages)), "cartilage", "costal_cartilages"))
    knots = [
        [z, _sternum_front(z), half_x, half_y]
        for z, half_x, half_y in ((_STERNUM_Z[0], 12, 7), (420.0, 15, 7), (_STERNUM_Z[1], 24, 8))
    ]
    parts.append(_bone(frame.profile(knots), "sternum"))
    return parts


def shoulders(frame: Frame) -> list[Part]:
    parts = []
    notch_y = _sternum_front(_STERNUM_Z[1])
    for side, sign in SIDES:
        scapula = Union(
            (
                frame.organ((sign * 105, -88, 462), (42, 8, 65), shift_mm=3.0),
                frame.tube([(sign * 70, -97, 505), (sign * 150, -40, 548)], 6),
                Ellipsoid(frame.point(sign * 148, -25, 520), frame.point(10, 14, 16)),
            )
        )
        humerus = Union(
            (
                Ellipsoid(frame.point(sign * 168, -22, 522), np.full(3, frame.mm(22))),
                frame.tube([(sign * 170, -22, 505), (sign * 182, -16, 310)], 12),
            )
        )
        clavicle = frame.tube(
            [(sign * 18, notch_y - 2, 512), (sign * 75, 55, 535), (sign * 150, -10, 550)], 7
        )
        parts += [
            _bone(scapula, f"scapula_{side}"),
            _bone(humerus, f"humerus_{side}"),
            _bone(clavicle, f"clavicula_{side}"),
        ]
    return parts


def pelvis_and_femurs(frame: Frame) -> list[Part]:
    sacrum = frame.organ((0, -60, 50), (45, 22, 62), shift_mm=2.0)
    s1_floor = frame.point(0, 0, 82)
    parts = [
        _bone(Cut(sacrum, s1_floor, _UP), "sacrum"),
        _bone(Cut(sacrum, s1_floor, -_UP), "vertebrae_S1"),
    ]
    for side, sign in SIDES:
        head_centre = (sign * 88, 5, 0)
        si_joint, crest_back, crest_side, spine_front = (
            (sign * 40, -62, 85),
            (sign * 75, -65, 135),
            (sign * 110, -20, 150),
            (sign * 105, 35, 110),
        )
        acetabulum, symphysis = (sign * 78, 5, 18), (sign * 10, 55, -18)
        socket = Difference(
            Ellipsoid(frame.point(*head_centre), np.full(3, frame.mm(33))),
            Ellipsoid(frame.point(*head_centre), np.full(3, frame.mm(26))),
        )
        hip = Union(
            (
                frame.tube([si_joint, crest_back, crest_side, spine_front], 9),
                frame.tube([si_joint, acetabulum], 15),
                frame.tube([crest_side, acetabulum], 11),
                frame.tube([spine_front, acetabulum], 9),
                frame.tube([acetabulum, (sign * 40, 40, -12), symphysis], 9),
                frame.tube(
                    [
                        acetabulum,
                        (sign * 75, -20, -35),
                        (sign * 55, -15, -62),
                        (sign * 30, 35, -40),
                        symphysis,
                    ],
                    10,
                ),
                Cut(socket, frame.point(*head_centre), frame.normal((sign, 0, -0.7))),
            )
        )
        femur = Union(
            (
                Ellipsoid(frame.point(*head_centre), np.full(3, frame.mm(23))),
                frame.tube([head_centre, (sign * 112, 0, -32)], 14),
                Ellipsoid(frame.point(sign * 122, -8, -28), frame.point(16, 16, 20)),
                frame.tube([(sign * 112, 0, -40), (sign * 98, 8, -430)], 13),
            )
        )
        parts += [_bone(hip, f"hip_{side}"), _bone(femur, f"femur_{side}")]
    return parts
