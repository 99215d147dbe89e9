"""Pure image functions shared by stages 2-4: heatmaps in batch, feathered compositing, SSIM/PSNR/L1.

Each works on numpy and on jax.numpy arrays (inside jitted steps); images are float in [0, 1], NHWC.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

COLOUR_GAIN_RANGE = (0.5, 2.0)  # how far `match_colour` may stretch a face's contrast


def batch_heatmaps(points: jax.Array, resolution: int, sigma: float | None = None) -> jax.Array:
    """(B, 68, 2) points (x, y) in pixels -> (B, R, R, 68) Gaussian heatmaps, peak 1 (jitted version of
    `faceobf.landmarks.landmark_heatmaps`)."""
    sigma = sigma if sigma is not None else max(1.0, resolution / 64)
    grid = jnp.arange(resolution, dtype=jnp.float32)
    gx = jnp.exp(-((grid[None, None, :] - points[..., 0:1]) ** 2) / (2 * sigma**2))  # (B, 68, R) over x
    gy = jnp.exp(-((grid[None, None, :] - points[..., 1:2]) ** 2) / (2 * sigma**2))  # (B, 68, R) over y
    return jnp.einsum("bky,bkx->byxk", gy, gx)


def _gaussian_kernel(size: int, sigma: float) -> jax.Array:
    x = jnp.arange(size, dtype=jnp.float32) - (size - 1) / 2
    k = jnp.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def _blur(x: jax.Array, size: int, sigma: float) -> jax.Array:
    """Separable Gaussian blur of (B, H, W, C), 'SAME' padding with edge values."""
    k = _gaussian_kernel(size, sigma)
    pad = size // 2
    c = x.shape[-1]
    xp = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    kh = jnp.tile(k[:, None, None, None], (1, 1, 1, c))  # (size, 1, 1, C) HWIO depthwise
    kw = jnp.tile(k[None, :, None, None], (1, 1, 1, c))
    dn = ("NHWC", "HWIO", "NHWC")
    y = jax.lax.conv_general_dilated(xp, kh, (1, 1), "VALID", dimension_numbers=dn, feature_group_count=c)
    return jax.lax.conv_general_dilated(y, kw, (1, 1), "VALID", dimension_numbers=dn, feature_group_count=c)


def feather(mask: jax.Array, radius: float = 2.0) -> jax.Array:
    """(B, H, W) binary mask -> (B, H, W, 1) alpha that fades in over ~`radius` px inside the mask and
    is exactly 0 outside it, so compositing never touches a context pixel."""
    m = jnp.asarray(mask, jnp.float32)[..., None]
    size = int(2 * round(3 * radius) + 1)
    return m * jnp.clip(2.0 * _blur(m, size, radius) - 1.0, 0.0, 1.0) ** 0.5 if radius > 0 else m


def composite(generated: jax.Array, original: jax.Array, mask: jax.Array, radius: float = 2.0) -> jax.Array:
    """The generated face inside the feathered mask, the untouched original outside it."""
    alpha = feather(mask, radius)
    return alpha * generated + (1.0 - alpha) * original


def match_colour(drawn: jax.Array, faces: jax.Array, masks: jax.Array) -> jax.Array:
    """`drawn` (B, R, R, 3) with each channel's mean and spread inside `masks` (B, R, R) set to those of `faces`."""
    m = masks[..., None]
    count = m.sum(axis=(1, 2), keepdims=True) + 1e-6

    def stats(x):
        mean = (x * m).sum(axis=(1, 2), keepdims=True) / count
        return mean, jnp.sqrt(((x - mean) ** 2 * m).sum(axis=(1, 2), keepdims=True) / count + 1e-6)

    (mean_d, std_d), (mean_f, std_f) = stats(drawn), stats(faces)
    gain = jnp.clip(std_f / std_d, *COLOUR_GAIN_RANGE)
    return jnp.clip((drawn - mean_d) * gain + mean_f, 0.0, 1.0)


def composite_face(generated: jax.Array, original: jax.Array, mask: jax.Array, radius: float = 2.0,
                   colour_match: bool = False) -> jax.Array:
    """`composite` of a generator's face; with `colour_match`, the face first given the original's colour statistics
    inside the mask (`match_colour`): skin tone and light as the person's own, whatever the generator drew."""
    if colour_match:
        generated = match_colour(generated, original, mask)
    return composite(generated, original, mask, radius)


def ssim_map(a: jax.Array, b: jax.Array, size: int = 11, sigma: float = 1.5) -> jax.Array:
    """Per-pixel SSIM (Wang et al., 2004) of images in [0, 1], averaged over channels: (B, H, W)."""
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = _blur(a, size, sigma), _blur(b, size, sigma)
    var_a = _blur(a * a, size, sigma) - mu_a**2
    var_b = _blur(b * b, size, sigma) - mu_b**2
    cov = _blur(a * b, size, sigma) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(axis=-1)


def image_metrics(pred: jax.Array, target: jax.Array, mask: jax.Array) -> dict[str, jax.Array]:
    """Per-image SSIM, PSNR (dB) and L1 over the whole image and inside the mask: dict of (B,) arrays."""
    m = jnp.asarray(mask, jnp.float32)
    s = ssim_map(pred, target)
    err = jnp.abs(pred - target).mean(axis=-1)
    sq = ((pred - target) ** 2).mean(axis=-1)
    area = jnp.maximum(m.sum(axis=(1, 2)), 1.0)
    mse_whole, mse_mask = sq.mean(axis=(1, 2)), (sq * m).sum(axis=(1, 2)) / area
    psnr = lambda mse: 10.0 * jnp.log10(1.0 / jnp.maximum(mse, 1e-10))
    return {
        "ssim": s.mean(axis=(1, 2)),
        "ssim_mask": (s * m).sum(axis=(1, 2)) / area,
        "psnr": psnr(mse_whole),
        "psnr_mask": psnr(mse_mask),
        "l1": err.mean(axis=(1, 2)),
        "l1_mask": (err * m).sum(axis=(1, 2)) / area,
    }


def fill_mask(images: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """The trivial baseline: the mask filled with one colour (e.g. the mean face colour)."""
    m = np.asarray(mask, np.float32)[..., None]
    return np.asarray(images, np.float32) * (1 - m) + m * np.asarray(colour, np.float32)


def laplacian_detail(image: np.ndarray, box: tuple[int, int, int, int] | None = None) -> float:
    """Fine detail of an image (uint8 or float in [0, 255]): the standard deviation of the 3x3 Laplacian of its grey
    levels inside `box` (left, top, right, bottom; default the whole image). A redraw's detail over the detail of the
    face it replaced is chapter 3's detail ratio: 1 keeps the photo's sharpness, a smeared face is near 0."""
    import cv2

    grey = cv2.cvtColor(np.asarray(image, np.float32), cv2.COLOR_RGB2GRAY) if np.ndim(image) == 3 else np.asarray(image, np.float32)
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)
    if box is not None:
        left, top, right, bottom = (int(round(v)) for v in box)
        lap = lap[max(0, top) : max(0, bottom), max(0, left) : max(0, right)]
    return float(lap.std()) if lap.size else float("nan")
