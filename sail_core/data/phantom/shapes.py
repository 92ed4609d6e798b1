"""Solids in patient RAS millimetres and the voxel grid they are rasterised on.

Every solid answers `depth(x, y, z)`: a normalised distance that is 0 on its centre (point, line
or axis), 1 on its surface and larger outside, so a part can paint cortex near its surface and
marrow inside. Coordinates come as broadcastable 1-D axes of shape (n,1,1), (1,m,1), (1,1,k).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

OUTSIDE = np.inf


class Shape(Protocol):
    def bounds(self) -> tuple[np.ndarray, np.ndarray]: ...

    def depth(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Ellipsoid:
    center: np.ndarray
    radii: np.ndarray

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.center - self.radii, self.center + self.radii

    def depth(self, x, y, z):
        (cx, cy, cz), (rx, ry, rz) = self.center, self.radii
        return np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2)


@dataclass(frozen=True)
class Tube:
    """Round tube of constant radius around a polyline of (n, 3) points."""

    points: np.ndarray
    radius: float

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.points.min(axis=0) - self.radius, self.points.max(axis=0) + self.radius

    def depth(self, x, y, z):
        nearest = None
        for start, end in zip(self.points[:-1], self.points[1:], strict=True):
            dx, dy, dz = end - start
            px, py, pz = x - start[0], y - start[1], z - start[2]
            along = np.clip(
                (px * dx + py * dy + pz * dz) / max(dx * dx + dy * dy + dz * dz, 1e-9), 0, 1
            )
            squared = (px - along * dx) ** 2 + (py - along * dy) ** 2 + (pz - along * dz) ** 2
            nearest = squared if nearest is None else np.minimum(nearest, squared)
        return np.sqrt(nearest) / self.radius


@dataclass(frozen=True)
class Profile:
    """Elliptic cross-sections along z, linearly interpolated between knots (z increasing)."""

    z: np.ndarray
    center_x: np.ndarray
    center_y: np.ndarray
    half_x: np.ndarray
    half_y: np.ndarray

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = [np.min(self.center_x - self.half_x), np.min(self.center_y - self.half_y), self.z[0]]
        hi = [np.max(self.center_x + self.half_x), np.max(self.center_y + self.half_y), self.z[-1]]
        return np.array(lo), np.array(hi)

    def depth(self, x, y, z):
        def at(values):
            return np.interp(z, self.z, values)

        radial = np.sqrt(
            ((x - at(self.center_x)) / at(self.half_x)) ** 2
            + ((y - at(self.center_y)) / at(self.half_y)) ** 2
        )
        return np.where((z >= self.z[0]) & (z <= self.z[-1]), radial, OUTSIDE)


def cylinder(center_xy, half_xy, z_lo: float, z_hi: float) -> Profile:
    """An elliptic cylinder along z."""
    return Profile(
        z=np.array([z_lo, z_hi]),
        center_x=np.full(2, center_xy[0]),
        center_y=np.full(2, center_xy[1]),
        half_x=np.full(2, half_xy[0]),
        half_y=np.full(2, half_xy[1]),
    )


@dataclass(frozen=True)
class Union:
    parts: tuple[Shape, ...]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        los, his = zip(*(part.bounds() for part in self.parts), strict=True)
        return np.min(los, axis=0), np.max(his, axis=0)

    def depth(self, x, y, z):
        return np.minimum.reduce(
            [np.broadcast_to(p.depth(x, y, z), _shape(x, y, z)) for p in self.parts]
        )


@dataclass(frozen=True)
class Cut:
    """The part of `shape` on the side of a plane where (p - point) . normal <= 0."""

    shape: Shape
    point: np.ndarray
    normal: np.ndarray

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.shape.bounds()

    def depth(self, x, y, z):
        (px, py, pz), (nx, ny, nz) = self.point, self.normal
        kept = (x - px) * nx + (y - py) * ny + (z - pz) * nz <= 0
        return np.where(kept, self.shape.depth(x, y, z), OUTSIDE)


@dataclass(frozen=True)
class Difference:
    shape: Shape
    hole: Shape

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.shape.bounds()

    def depth(self, x, y, z):
        return np.where(self.hole.depth(x, y, z) <= 1, OUTSIDE, self.shape.depth(x, y, z))


def _shape(x, y, z) -> tuple[int, int, int]:
    return (x.shape[0], y.shape[1], z.shape[2])


@dataclass(frozen=True)
class Grid:
    """An axis-aligned voxel grid in RAS millimetres; `origin` is the centre of voxel (0, 0, 0)."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]

    @property
    def affine(self) -> np.ndarray:
        affine = np.diag([*self.spacing, 1.0])
        affine[:3, 3] = self.origin
        return affine

    def axis(self, dim: int) -> np.ndarray:
        return self.origin[dim] + self.spacing[dim] * np.arange(self.shape[dim])

    def coordinates(self, box: tuple[slice, slice, slice]) -> tuple[np.ndarray, ...]:
        x, y, z = (self.axis(dim)[box[dim]] for dim in range(3))
        return x[:, None, None], y[None, :, None], z[None, None, :]

    def box(self, lo: np.ndarray, hi: np.ndarray) -> tuple[slice, slice, slice] | None:
        """Index ranges of the voxels whose centres lie in [lo, hi]; None when there are none."""
        origin, spacing = np.asarray(self.origin), np.asarray(self.spacing)
        first = np.maximum(np.ceil((lo - origin) / spacing), 0).astype(int)
        stop = np.minimum(np.floor((hi - origin) / spacing) + 1, self.shape).astype(int)
        if np.any(first >= stop):
            return None
        return tuple(slice(int(a), int(b)) for a, b in zip(first, stop, strict=True))
