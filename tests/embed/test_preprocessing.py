import numpy as np
import pytest
import torch
from PIL import Image

from sail_core.embed.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing


def fixed_slice(size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    smooth = (np.sin(x / 5.0) * np.cos(y / 7.0) + 1) * 100
    noise = np.random.default_rng(0).integers(0, 50, (size, size))
    return (smooth + noise).astype(np.uint8)


def reference(slice_: np.ndarray, image_size: int, mean, std) -> np.ndarray:
    """Rescale, PIL bilinear (antialiased) resize, normalise, replicate to 3 channels."""
    rescaled = Image.fromarray(slice_.astype(np.float32) / 255.0)
    resized = np.asarray(rescaled.resize((image_size, image_size), Image.BILINEAR))
    channels = np.repeat(resized[None], 3, axis=0)
    return (channels - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]


@pytest.mark.parametrize("native", [64, 200, 512], ids=["upsample", "downsample", "large"])
def test_matches_an_independent_reference(native):
    slice_ = fixed_slice(native)
    out = Preprocessing(224)(torch.from_numpy(slice_)[None])
    assert out.shape == (1, 3, 224, 224) and out.dtype == torch.float32
    expected = reference(slice_, 224, IMAGENET_MEAN, IMAGENET_STD)
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-4)


def test_constant_slice_gives_the_per_channel_normalised_value():
    out = Preprocessing(16, mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 0.125))(
        torch.full((2, 8, 8), 51, dtype=torch.uint8)
    )
    for channel, (mean, std) in enumerate(zip((0.1, 0.2, 0.3), (0.5, 0.25, 0.125), strict=True)):
        torch.testing.assert_close(out[:, channel], torch.full((2, 16, 16), (0.2 - mean) / std))


def test_grey_is_replicated_to_three_equal_channels():
    out = Preprocessing(32)(torch.from_numpy(fixed_slice(48))[None])
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    grey = out[0] * std + mean
    torch.testing.assert_close(grey[0], grey[1])
    torch.testing.assert_close(grey[0], grey[2])


def test_rejects_anything_but_uint8_slices():
    with pytest.raises(ValueError, match="uint8"):
        Preprocessing(32)(torch.zeros((1, 8, 8)))
