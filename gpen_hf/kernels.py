"""Blur kernels for the synthetic degradation: isotropic / anisotropic Gaussian and linear motion blur.

Every kernel is a float32 2-D array of odd size that sums to 1, so blurring keeps the mean brightness.
"""

from __future__ import annotations

import math

import numpy as np


def _odd(size: int) -> int:
    """Smallest odd integer >= ``size`` and >= 3."""
    size = max(3, int(size))
    return size if size % 2 == 1 else size + 1


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0) -> np.ndarray:
    """An (an)isotropic Gaussian kernel.

    Args:
        size: kernel width and height (made odd).
        sigma_x: standard deviation along the rotated x axis, in pixels.
        sigma_y: along the rotated y axis; ``None`` gives an isotropic kernel.
        theta: rotation of the axes in radians.
    """
    size = _odd(size)
    sigma_x = max(float(sigma_x), 1e-3)
    sigma_y = sigma_x if sigma_y is None else max(float(sigma_y), 1e-3)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    cov = rot @ np.diag([sigma_x**2, sigma_y**2]) @ rot.T
    inv = np.linalg.inv(cov)
    r = np.arange(size, dtype=np.float64) - size // 2
    xx, yy = np.meshgrid(r, r)
    grid = np.stack([xx, yy], axis=-1)
    kernel = np.exp(-0.5 * np.einsum("...i,ij,...j->...", grid, inv, grid))
    return (kernel / kernel.sum()).astype(np.float32)


def motion_kernel(length: float, angle_deg: float, size: int | None = None) -> np.ndarray:
    """A linear motion-blur kernel: a line of ``length`` pixels at ``angle_deg`` (0 = horizontal).

    The line is drawn with sub-pixel sampling so short and fractional lengths still blur smoothly.
    """
    length = max(float(length), 1.0)
    size = _odd(size if size is not None else math.ceil(length) + 2)
    kernel = np.zeros((size, size), dtype=np.float64)
    c = size // 2
    dx, dy = math.cos(math.radians(angle_deg)), -math.sin(math.radians(angle_deg))
    for t in np.linspace(-(length - 1) / 2, (length - 1) / 2, max(2, int(length * 4))):
        x, y = c + t * dx, c + t * dy
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        for xi, yi, w in ((x0, y0, (1 - fx) * (1 - fy)), (x0 + 1, y0, fx * (1 - fy)),
                          (x0, y0 + 1, (1 - fx) * fy), (x0 + 1, y0 + 1, fx * fy)):
            if 0 <= xi < size and 0 <= yi < size:
                kernel[yi, xi] += w
    return (kernel / kernel.sum()).astype(np.float32)
