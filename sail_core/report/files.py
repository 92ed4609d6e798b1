"""The files the report reads, named by what they hold; their paths come from the results
layout (`sail_core.layout`).

The report rule lists its inputs with these same objects, so the files the page reads are
exactly the files Snakemake makes sure exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sail_core.layout import Layout
from sail_core.mine.panels import panel_name

RETRIEVAL_FILES = {
    "summary.json": "retrieval_summary",
    "matches.parquet": "retrieval_matches",
    "precision.parquet": "retrieval_precision",
    "results.parquet": "retrieval_results",
}


@dataclass(frozen=True)
class DataFiles:
    root: Path
    imported: frozenset[tuple[str, str]] = frozenset()  # (encoder, sae) of imported checkpoints

    @classmethod
    def of_index(cls, index: str | Path, imported=frozenset()) -> DataFiles:
        """The files of the run whose slice index is at `index`."""
        return cls(Layout.of_index(index).root, frozenset(imported))

    @property
    def layout(self) -> Layout:
        return Layout(self.root)

    @property
    def split_summary(self) -> Path:
        return Path(self.layout.split_summary)

    @property
    def quarantine(self) -> Path:
        return Path(self.layout.quarantine)

    @property
    def index(self) -> Path:
        return Path(self.layout.slice_index)

    @property
    def slices_dir(self) -> Path:
        return self.layout.slices

    @property
    def example_slices(self) -> Path:
        return Path(self.layout.example_slices)

    def ranking(self, encoder: str) -> Path:
        return self.layout.ranking.fill(encoder=encoder)

    def sae_metrics(self, encoder: str, sae: str) -> Path:
        return self.sae(encoder, sae, "").metrics

    def sae(self, encoder: str, sae: str, labeller: str) -> SaeFiles:
        return SaeFiles(self.root, encoder, sae, labeller, (encoder, sae) in self.imported)


@dataclass(frozen=True)
class SaeFiles:
    """The outputs about one (encoder, SAE config) and its labels from one labeller."""

    root: Path
    encoder: str
    sae: str
    labeller: str
    imported: bool = False

    @property
    def name(self) -> str:
        return f"{self.encoder}/{self.sae}"

    def _file(self, pattern: str) -> Path:
        return getattr(Layout(self.root), pattern).fill(
            encoder=self.encoder, sae=self.sae, labeller=self.labeller
        )

    def _sae_file(self, name: str) -> Path:
        pattern = Layout(self.root).sae_file(name, self.imported)
        return pattern.fill(encoder=self.encoder, sae=self.sae)

    @property
    def metrics(self) -> Path:
        return self._sae_file("metrics.json")

    @property
    def history(self) -> Path:
        return self._sae_file("history.parquet")

    @property
    def summary(self) -> Path:
        return self._file("eval_summary")

    @property
    def recovery(self) -> Path:
        return self._file("recovery_summary")

    @property
    def feature_monosemanticity(self) -> Path:
        return self._file("monosemanticity_features")

    @property
    def stats(self) -> Path:
        return self._file("feature_stats")

    @property
    def enrichment(self) -> Path:
        return self._file("enrichment")

    @property
    def panels(self) -> Path:
        return self._file("panels")

    def panel(self, feature: int) -> Path:
        return self.panels / panel_name(feature)

    @property
    def labels(self) -> Path:
        return self._file("labels")

    @property
    def label_evaluation(self) -> Path:
        return self._file("label_evaluation")

    @property
    def label_evaluation_summary(self) -> Path:
        return self._file("label_evaluation_summary")

    def retrieval(self, name: str) -> Path:
        return self._file(RETRIEVAL_FILES[name])

    @property
    def training_curves(self) -> Path:
        return self._file("training_curves")

    @property
    def recovery_curves(self) -> Path:
        return self._file("recovery_curve_figure")

    def stability(self, name: str) -> Path:
        return self._file(f"stability_{name.split('.')[0]}")

    def alignment(self, other: SaeFiles, name: str) -> Path:
        """`name` of the alignment of this SAE (first in name order) with `other`."""
        return (
            Layout(self.root)
            .alignment_file(name)
            .fill(encoder_a=self.encoder, sae_a=self.sae, encoder_b=other.encoder, sae_b=other.sae)
        )

    def inputs(self) -> list[Path]:
        """Every file or folder the atlas section of this SAE reads."""
        return [
            self.metrics,
            self.summary,
            self.feature_monosemanticity,
            self.stats,
            self.enrichment,
            self.panels,
            self.labels,
            self.label_evaluation,
            self.label_evaluation_summary,
            *(self.retrieval(name) for name in RETRIEVAL_FILES),
            self.training_curves,
            self.recovery_curves,
        ]


def atlas_inputs(
    root: Path,
    selected: list[tuple[str, str]],
    labeller: str,
    configs_of: Callable[[str], list[str]],
    slice_stores: list[str],
    imported: frozenset[tuple[str, str]] = frozenset(),
) -> dict[str, list[str]]:
    """Every input of the atlas, by group: the slice index, data facts, slice stores (for the
    thumbnails), the rankings and metrics of all configs of the encoders of the `selected`
    (encoder, sae) pairs (`configs_of(encoder)` names them), and the outputs of each selected SAE
    with the labels of `labeller`. `imported` names the (encoder, sae) pairs converted from
    study checkpoints."""
    data = DataFiles(root, frozenset(imported))
    saes = [data.sae(encoder, sae, labeller) for encoder, sae in selected]
    encoders = sorted({encoder for encoder, _ in selected})
    paths = {
        "index": [data.index],
        "data": [data.split_summary, data.quarantine, data.example_slices],
        "slices": slice_stores,
        "rankings": [data.ranking(encoder) for encoder in encoders],
        "config_metrics": [
            data.sae_metrics(encoder, sae) for encoder in encoders for sae in configs_of(encoder)
        ],
        "saes": [path for files in saes for path in files.inputs()],
    }
    return {name: [str(path) for path in group] for name, group in paths.items()}
