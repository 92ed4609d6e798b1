import pytest
import torch

from sail_core.embed import precision
from sail_core.embed.encoder import EncoderError
from sail_core.embed.registry import resolve_spec

CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("flags", "fast"),
    [("fpu sse avx2 avx512f", False), ("fpu avx512f avx512_bf16", True), ("fpu amx_bf16 amx_tile", True)],
)  # fmt: skip
def test_auto_precision_follows_the_cpu_flags(tmp_path, monkeypatch, flags, fast):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert precision.cpu_has_fast_bf16(cpuinfo) is fast
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: fast)
    assert precision.resolve_precision("auto", CPU) == ("bf16" if fast else "fp32")


def test_explicit_precision_is_kept_and_unknown_refused():
    assert precision.resolve_precision("fp32", CPU) == "fp32"
    assert precision.resolve_precision("bf16", CPU) == "bf16"
    with pytest.raises(ValueError, match="fp16"):
        precision.resolve_precision("fp16", CPU)


def test_spec_defaults_are_filled_in():
    spec = resolve_spec("effnet", {"kind": "efficientnet_lite0", "dim": 1280})
    assert spec == {"kind": "efficientnet_lite0", "dim": 1280, "precision": "auto",
                    "batch_size": 32, "num_workers": 2, "image_size": 224}  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "message"),
    [({"kind": "clip", "dim": 3}, "unknown kind 'clip'"),
     ({"kind": "hf", "dim": 3, "image_size": 224}, "needs the key 'model_dir'"),
     ({"kind": "efficientnet_lite0", "dim": 1280, "precision": "fp8"}, "precision"),
     ({"kind": "efficientnet_lite0", "dim": 0}, "dim must be a positive integer"),
     ({"kind": "efficientnet_lite0", "dim": 1280, "pooling": "cls"}, "unknown key.*pooling")],
)  # fmt: skip
def test_bad_spec_is_an_error_naming_the_encoder(spec, message):
    with pytest.raises(EncoderError, match=f"encoder 'mine': .*{message}"):
        resolve_spec("mine", spec)
