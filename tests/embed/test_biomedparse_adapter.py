"""The BiomedParse adapter against a stand-in backbone with the interface of the real FocalNet:
a forward pass that runs a last-stage LayerNorm `norm3` on (B, L, 1536) tokens."""

import pytest
import torch
from torch import nn

from sail_core.embed.biomedparse import biomedparse_encoder, load_biomedparse_backbone
from sail_core.embed.encoder import EncoderError
from sail_core.embed.reinit import seeded_random_model

CPU = torch.device("cpu")


class StandInBackbone(nn.Module):
    def __init__(self, channels: int = 1536, patch: int = 16):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, channels, patch, stride=patch)
        self.norm3 = nn.LayerNorm(channels)

    def forward(self, pixels):
        tokens = self.patch_embed(pixels).flatten(2).transpose(1, 2)
        normed = self.norm3(tokens)
        # like the real backbone, return a multi-scale dict, not the pooled features
        return {"res5": normed.transpose(1, 2).reshape(pixels.shape[0], -1, 4, 4)}


def stand_in_encoder(backbone):
    return biomedparse_encoder("biomedparse", backbone, 64, 1536, CPU, "fp32", {"model_id": "x"})


def test_embedding_is_the_token_mean_of_norm3():
    backbone = seeded_random_model(StandInBackbone, seed=0)
    encoder = stand_in_encoder(backbone)
    slices = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    embeddings = encoder.encode(slices)
    with torch.no_grad():
        pixels = encoder.preprocessing(slices)
        tokens = backbone.norm3(backbone.patch_embed(pixels).flatten(2).transpose(1, 2))
    assert embeddings.shape == (3, 1536)
    torch.testing.assert_close(embeddings, tokens.mean(dim=1))
    assert encoder.attrs()["pooling"] == "norm3_token_mean"


def test_features_of_one_batch_never_leak_into_the_next():
    encoder = stand_in_encoder(seeded_random_model(StandInBackbone, seed=0))
    first = encoder.encode(torch.zeros((1, 32, 32), dtype=torch.uint8))
    second = encoder.encode(torch.full((1, 32, 32), 255, dtype=torch.uint8))
    assert not torch.allclose(first, second)
    assert encoder.model._norm3_output is None


def test_backbone_without_norm3_is_refused():
    with pytest.raises(ValueError, match="norm3"):
        stand_in_encoder(nn.Conv2d(3, 8, 16))


def test_random_backbone_is_a_function_of_its_seed():
    def state(seed):
        return seeded_random_model(StandInBackbone, seed).state_dict()

    first, again, other = state(42), state(42), state(7)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["patch_embed.weight"], other["patch_embed.weight"])


def test_loader_names_the_encoder_when_the_clone_or_checkpoint_is_missing(tmp_path):
    with pytest.raises(EncoderError, match=r"encoder 'bp'.*not a BiomedParse v1 clone"):
        load_biomedparse_backbone("bp", tmp_path, "configs/x.yaml", tmp_path / "w.pt", None)
    (tmp_path / "modeling").mkdir()
    (tmp_path / "utilities").mkdir()
    with pytest.raises(EncoderError, match=r"encoder 'bp'.*checkpoint .* does not exist"):
        load_biomedparse_backbone("bp", tmp_path, "configs/x.yaml", tmp_path / "w.pt", None)
