"""Procedural dermoscopy-like images with exact lesion masks.

Each image is a function of ``(seed, index)`` alone, so any subset can be regenerated. What makes
it hard enough to rank models and losses: textured skin of varied tone, irregular lesion outlines
with soft borders and colour variegation, low-contrast lesions, dark hairs crossing the lesion,
the dark circular vignette of a dermoscope (dark like a lesion, but not one), lesions cut by the
image border, and specular highlights.
"""

from __future__ import annotations

import cv2
import numpy as np

SKIN_TONES = np.array(
    [[236, 200, 180], [224, 172, 150], [198, 140, 110], [170, 110, 80], [120, 80, 60]],
    dtype=np.float32,
)
LESION_COLOURS = np.array(
    [[150, 95, 60], [110, 65, 40], [70, 40, 30], [40, 25, 25], [95, 95, 120], [170, 110, 90]],
    dtype=np.float32,
)


def smooth_noise(rng: np.random.Generator, size: tuple[int, int], cells: int) -> np.ndarray:
    """Band-limited noise in about [-1, 1]: a ``cells``x``cells`` grid, cubic-upsampled."""
    grid = rng.standard_normal((cells + 3, cells + 3)).astype(np.float32)
    big = cv2.resize(
        grid,
        (size[1] + 2 * size[1] // cells, size[0] + 2 * size[0] // cells),
        interpolation=cv2.INTER_CUBIC,
    )
    oy, ox = size[0] // cells, size[1] // cells
    return np.clip(big[oy : oy + size[0], ox : ox + size[1]] / 1.5, -1.5, 1.5)


def _lesion_field(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Signed 'distance' to an irregular outline: > 0 inside, in units of the lesion radius."""
    scale = min(h, w)
    radius = scale * rng.uniform(0.14, 0.38)
    # Centre mostly inside, sometimes near an edge so the lesion is cut by the border.
    if rng.random() < 0.2:
        cy, cx = (
            rng.uniform(0.05, 0.95) * h,
            rng.choice([rng.uniform(0.0, 0.15), rng.uniform(0.85, 1.0)]) * w,
        )
        radius *= 1.4
    else:
        cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    aspect = rng.uniform(0.6, 1.0)
    dy, dx = yy - cy, xx - cx
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / aspect
    r = np.hypot(u, v)
    theta = np.arctan2(v, u)
    # Irregular outline: a few low harmonics (asymmetry) and some high ones (jagged border).
    outline = np.ones_like(theta)
    irregularity = rng.uniform(0.05, 0.35)
    for k in range(2, 10):
        outline += (
            irregularity / k**0.8 * rng.standard_normal() * np.cos(k * theta + rng.uniform(0, 6.3))
        )
    outline = np.clip(outline, 0.35, None)
    # Small-scale wobble of the border from 2-D noise.
    wobble = 0.08 * smooth_noise(rng, (h, w), 12)
    return (outline * radius - r) / radius + wobble


def generate_sample(
    index: int, seed: int = 0, size: tuple[int, int] = (128, 128)
) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic dermoscopy image and its mask.

    Args:
        index: which image of the series.
        seed: the series; ``(seed, index)`` fixes the result.
        size: ``(H, W)``.

    Returns:
        ``image`` uint8 (H, W, 3) RGB and ``mask`` uint8 (H, W) in {0, 1}.
    """
    h, w = int(size[0]), int(size[1])
    if h < 8 or w < 8:
        raise ValueError(f"synthetic images need H, W >= 8, got {size}")
    rng = np.random.default_rng([seed, index])

    # Skin: a tone, large soft blotches and fine grain.
    tone = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.08, 3)
    skin = np.empty((h, w, 3), np.float32)
    skin[:] = tone
    skin += 14 * smooth_noise(rng, (h, w), 4)[..., None] * rng.uniform(0.5, 1.5)
    skin += 6 * smooth_noise(rng, (h, w), 24)[..., None]
    skin += rng.normal(0, 3, (h, w, 1))

    # Lesion: soft-bordered irregular shape, variegated colour, darker where it is thicker.
    field = _lesion_field(rng, h, w)
    mask = (field > 0).astype(np.uint8)
    softness = rng.uniform(0.03, 0.25)
    alpha = 1.0 / (1.0 + np.exp(-field / softness))
    contrast = rng.uniform(0.55, 1.0)  # low values give faint lesions
    alpha *= contrast
    colours = LESION_COLOURS[rng.choice(len(LESION_COLOURS), size=3, replace=False)]
    mix = (smooth_noise(rng, (h, w), 5) + 1.5) / 3.0
    mix2 = np.clip(smooth_noise(rng, (h, w), 7), 0, 1) * rng.uniform(0, 1)
    lesion = colours[0] * (1 - mix[..., None]) + colours[1] * mix[..., None]
    lesion = lesion * (1 - mix2[..., None]) + colours[2] * mix2[..., None]
    lesion *= (1 - 0.25 * np.clip(field, 0, 1))[..., None]
    # Lesions are darker than the skin around them (by 20-60 % in luminance).
    ratio = lesion.mean() / max(float(tone.mean()), 1.0)
    target = rng.uniform(0.4, 0.8)
    if ratio > target:
        lesion *= target / ratio
    # Dots and globules inside the lesion.
    dots = np.zeros((h, w), np.float32)
    for _ in range(rng.integers(0, 25)):
        y, x = rng.integers(0, h), rng.integers(0, w)
        if field[y, x] > 0.1:
            cv2.circle(dots, (int(x), int(y)), int(rng.integers(1, max(2, h // 60) + 1)), 1.0, -1)
    lesion *= (1 - 0.5 * dots)[..., None]
    img = skin * (1 - alpha[..., None]) + lesion * alpha[..., None]

    # Specular highlights (bright spots from the immersion fluid), on skin or lesion.
    for _ in range(rng.integers(0, 4)):
        y, x = rng.integers(0, h), rng.integers(0, w)
        spot = np.zeros((h, w), np.float32)
        cv2.circle(spot, (int(x), int(y)), int(rng.integers(1, max(2, h // 25))), 1.0, -1)
        spot = cv2.GaussianBlur(spot, (0, 0), 1.0)
        img += 120 * spot[..., None]

    # Hairs: dark curved strands that cross skin and lesion alike; not part of the mask.
    hairs = np.zeros((h, w), np.float32)
    n_hairs = rng.integers(0, 12) if rng.random() < 0.6 else 0
    for _ in range(n_hairs):
        p0 = rng.uniform(-0.1, 1.1, 2) * (w, h)
        p2 = rng.uniform(-0.1, 1.1, 2) * (w, h)
        p1 = (p0 + p2) / 2 + rng.normal(0, 0.2 * min(h, w), 2)
        t = np.linspace(0, 1, 40)[:, None]
        pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
        thickness = int(rng.integers(1, max(2, min(h, w) // 90) + 1))
        cv2.polylines(
            hairs,
            [pts.astype(np.int32)],
            False,
            float(rng.uniform(0.6, 1.0)),
            thickness,
            lineType=cv2.LINE_AA,
        )
    hair_colour = np.array([40, 28, 22], np.float32)
    img = img * (1 - hairs[..., None]) + hair_colour * hairs[..., None]

    # Dermoscope vignette: dark outside a circle, with a soft edge (in some images only).
    if rng.random() < 0.5:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cy, cx = h / 2 + rng.normal(0, h * 0.03), w / 2 + rng.normal(0, w * 0.03)
        r = np.hypot((yy - cy) / (h / 2), (xx - cx) / (w / 2))
        edge = rng.uniform(0.95, 1.3)
        dark = 1.0 / (1.0 + np.exp(-(r - edge) / 0.04))
        img = img * (1 - dark[..., None]) + 8.0 * dark[..., None]

    # Global illumination and camera noise.
    img *= rng.uniform(0.85, 1.1)
    img += rng.normal(0, 2.5, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), mask
