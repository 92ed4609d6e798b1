import pytest

from sail_core.embed.download import download_model


@pytest.mark.parametrize("revision", ["main", "v1.0", "abc123", None])
def test_only_a_pinned_commit_is_downloaded(tmp_path, revision):
    with pytest.raises(ValueError, match="org/model: revision must be a 40-character commit"):
        download_model("org/model", revision, tmp_path / "model")
    assert not (tmp_path / "model").exists()
