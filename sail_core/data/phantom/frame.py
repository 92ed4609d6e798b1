"""The template body and its mapping onto one subject.

Template millimetres describe an average adult in patient RAS coordinates (+x = patient right,
+y = anterior, +z = superior) with the origin midway between the femoral heads. A `Frame` scales
the template to one subject (height along z, breadth across x and y) and jitters organ sizes and
positions, so that every subject differs while left/right and front/back stay anatomical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sail_core.data.phantom.shapes import Ellipsoid, Profile, Shape, Tube

SIDES = (("right", 1.0), ("left", -1.0))
"""(side, sign of x): patient right is +x in RAS."""


@dataclass(frozen=True)
class Part:
    """One solid painted with a tissue, and (optionally) labelled as a TotalSegmentator structure.

    Later parts paint over earlier ones. `rim_tissue` paints the outer shell of the solid (cortex
    of a bone); `outline` marks the skin surface used to size the field of view.
    """

    shape: Shape
    tissue: str
    structure: str | None = None
    rim_tissue: str | None = None
    outline: bool = False


# Template knots: z (mm) -> value, interpolated linearly.
_SPINE_Z = np.array([115.0, 285.0, 420.0, 560.0, 700.0])
_SPINE_Y = np.array([-40.0, -50.0, -55.0, -35.0, -15.0])
_BODY_Z = np.array([115.0, 285.0, 560.0, 690.0])
_BODY_HALF_X = np.array([25.0, 21.0, 15.0, 12.0])
_BODY_HALF_Y = np.array([19.0, 17.0, 13.0, 10.0])
_CANAL_RADIUS = np.array([9.0, 8.0, 7.0, 8.0])

# Thoracic and abdominal cavity inside the muscular wall: z, centre y, half width, half depth.
CAVITY = np.array(
    [
        [-40.0, 10.0, 100.0, 70.0],
        [40.0, 8.0, 130.0, 85.0],
        [120.0, 5.0, 130.0, 90.0],
        [200.0, 0.0, 130.0, 92.0],
        [300.0, -5.0, 138.0, 95.0],
        [380.0, -10.0, 140.0, 95.0],
        [450.0, -12.0, 135.0, 92.0],
        [520.0, -12.0, 110.0, 80.0],
        [560.0, -10.0, 55.0, 45.0],
    ]
)

# Outer surface of the trunk muscles (skin minus subcutaneous fat): z, centre y, half x, half y.
TRUNK = np.array(
    [
        [-75.0, 5.0, 140.0, 90.0],
        [-30.0, 5.0, 160.0, 100.0],
        [40.0, 5.0, 165.0, 105.0],
        [120.0, 5.0, 155.0, 105.0],
        [180.0, 5.0, 150.0, 108.0],
        [250.0, 0.0, 152.0, 110.0],
        [330.0, -5.0, 160.0, 114.0],
        [400.0, -8.0, 168.0, 115.0],
        [480.0, -10.0, 172.0, 110.0],
        [545.0, -10.0, 175.0, 100.0],
        [575.0, -10.0, 120.0, 70.0],
    ]
)

SPINE_LEVELS: tuple[tuple[str, float, float], ...] = tuple(
    (f"{letter}{i + 1}", top - i * (top - bottom) / count, top - (i + 1) * (top - bottom) / count)
    for letter, count, top, bottom in (
        ("C", 7, 690.0, 560.0),
        ("T", 12, 560.0, 285.0),
        ("L", 5, 285.0, 115.0),
    )
    for i in range(count)
)
"""(level, template z of its top, template z of its bottom), cranial to caudal."""


def mirror(points, sign: float) -> list[tuple[float, float, float]]:
    """Right-side template points, or their mirror images on the left when `sign` is -1."""
    return [(sign * x, y, z) for x, y, z in points]


def spine_y(z: float) -> float:
    return float(np.interp(z, _SPINE_Z, _SPINE_Y))


def vertebral_body_half(z: float) -> tuple[float, float]:
    return float(np.interp(z, _BODY_Z, _BODY_HALF_X)), float(np.interp(z, _BODY_Z, _BODY_HALF_Y))


def canal(z: float) -> tuple[float, float]:
    """Centre y and radius of the spinal canal at template height z."""
    radius = float(np.interp(z, _BODY_Z, _CANAL_RADIUS))
    return spine_y(z) - vertebral_body_half(z)[1] - radius - 2.0, radius


def cavity(z: float) -> tuple[float, float, float]:
    """Centre y, half width and half depth of the body cavity at template height z."""
    return tuple(float(np.interp(z, CAVITY[:, 0], CAVITY[:, i])) for i in (1, 2, 3))


class Frame:
    """One subject's proportions; every template coordinate goes through it."""

    def __init__(self, rng: np.random.Generator, sex: str):
        self.rng = rng
        self.sex = sex
        male = sex == "m"
        self.height = rng.normal(1.03 if male else 0.97, 0.03)
        self.breadth = rng.normal(1.04 if male else 0.96, 0.04)
        self.fat_mm = rng.uniform(8.0, 28.0) + (0.0 if male else 6.0)

    @property
    def scale(self) -> np.ndarray:
        return np.array([self.breadth, self.breadth, self.height])

    def point(self, x: float, y: float, z: float) -> np.ndarray:
        return np.array([x, y, z]) * self.scale

    def path(self, points) -> np.ndarray:
        return np.asarray(points, dtype=float) * self.scale

    def normal(self, direction) -> np.ndarray:
        """A plane normal of the template, mapped so the plane stays the same anatomical plane."""
        mapped = np.asarray(direction, dtype=float) / self.scale
        return mapped / np.linalg.norm(mapped)

    def mm(self, length: float) -> float:
        return length * self.breadth

    def organ(self, center, radii, shift_mm: float = 5.0, size_sd: float = 0.08) -> Ellipsoid:
        """A jittered ellipsoid: position moves by about `shift_mm`, size by about `size_sd`."""
        size = np.exp(self.rng.normal(0.0, size_sd))
        return Ellipsoid(
            center=self.point(*center) + self.rng.normal(0.0, shift_mm, 3),
            radii=np.asarray(radii, dtype=float) * self.scale * size,
        )

    def tube(self, points, radius: float, shift_mm: float = 0.0) -> Tube:
        offset = self.rng.normal(0.0, shift_mm, 3) if shift_mm else np.zeros(3)
        return Tube(points=self.path(points) + offset, radius=self.mm(radius))

    def cylinder(self, center_xy, half_xy, z_lo: float, z_hi: float) -> Profile:
        """An elliptic cylinder along z."""
        (cx, cy), (hx, hy) = center_xy, half_xy
        return self.profile([[z_lo, cy, hx, hy], [z_hi, cy, hx, hy]], center_x=cx)

    def profile(self, knots, grow_mm: float = 0.0, center_x: float = 0.0) -> Profile:
        """A Profile from template rows (z, centre y, half x, half y), its surface moved out by
        `grow_mm` subject millimetres (a fat layer)."""
        z, cy, hx, hy = np.asarray(knots, dtype=float).T
        return Profile(
            z=z * self.height,
            center_x=np.full(len(z), center_x * self.breadth),
            center_y=cy * self.breadth,
            half_x=hx * self.breadth + grow_mm,
            half_y=hy * self.breadth + grow_mm,
        )
