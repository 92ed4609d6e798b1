"""Where the report finds the outputs of the other stages (the pipeline's results layout).

The report rule lists its inputs with these same functions, so the files the page reads are
exactly the files Snakemake makes sure exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sail_core.mine.panels import panel_name

FIGURES = "report/figures"


def sae_dir(encoder: str, sae: str, imported: bool) -> str:
    """Folder of an SAE under the results root: trained ones in sae/, converted study
    checkpoints in sae_imports/ (each written by its own rule)."""
    return f"{'sae_imports' if imported else 'sae'}/{encoder}/{sae}"


RETRIEVAL_FILES = ("summary.json", "matches.parquet", "precision.parquet", "results.parquet")


@dataclass(frozen=True)
class DataFiles:
    root: Path
    imported: frozenset[tuple[str, str]] = frozenset()  # (encoder, sae) of imported checkpoints

    @classmethod
    def of_index(cls, index: str | Path, imported=frozenset()) -> DataFiles:
        """The layout whose slice index is at `index` (results/slices/index.parquet)."""
        return cls(Path(index).parents[1], frozenset(imported))

    @property
    def split_summary(self) -> Path:
        return self.root / "meta/split_summary.tsv"

    @property
    def quarantine(self) -> Path:
        return self.root / "meta/quarantine.parquet"

    @property
    def index(self) -> Path:
        return self.root / "slices/index.parquet"

    @property
    def slices_dir(self) -> Path:
        return self.root / "slices"

    @property
    def example_slices(self) -> Path:
        return self.root / FIGURES / "example_slices.png"

    def ranking(self, encoder: str) -> Path:
        return self.root / f"eval/ranking/{encoder}.parquet"

    def sae_metrics(self, encoder: str, sae: str) -> Path:
        return self.root / sae_dir(encoder, sae, (encoder, sae) in self.imported) / "metrics.json"

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

    def _under(self, stage: str, relative: str) -> Path:
        return self.root / stage / self.encoder / self.sae / relative

    @property
    def metrics(self) -> Path:
        return self.root / sae_dir(self.encoder, self.sae, self.imported) / "metrics.json"

    @property
    def summary(self) -> Path:
        return self._under("eval", "summary.json")

    @property
    def recovery(self) -> Path:
        return self._under("eval", "recovery/summary.parquet")

    @property
    def feature_monosemanticity(self) -> Path:
        return self._under("eval", "monosemanticity/features.parquet")

    @property
    def stats(self) -> Path:
        return self._under("features", "stats.parquet")

    @property
    def enrichment(self) -> Path:
        return self._under("features", "enrichment.parquet")

    @property
    def panels(self) -> Path:
        return self._under("features", "panels")

    def panel(self, feature: int) -> Path:
        return self.panels / panel_name(feature)

    @property
    def labels(self) -> Path:
        return self._under("labels", f"{self.labeller}.parquet")

    @property
    def label_evaluation(self) -> Path:
        return self._under("labels", f"{self.labeller}.evaluation.parquet")

    @property
    def label_evaluation_summary(self) -> Path:
        return self._under("labels", f"{self.labeller}.evaluation.json")

    def retrieval(self, name: str) -> Path:
        return self._under("retrieval", f"{self.labeller}/{name}")

    @property
    def training_curves(self) -> Path:
        return self.root / FIGURES / self.encoder / self.sae / "training_curves.png"

    @property
    def recovery_curves(self) -> Path:
        return self.root / FIGURES / self.encoder / self.sae / "recovery_curves.png"

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
