"""The results layout: where every stage writes, spelled once.

Each entry of `PATTERNS` is a path under the results root with Snakemake-style `{wildcard}`
fields. The rules take the patterns as they are (`Layout("results").sae_model`); the report, the
CLI and the adapters fill them (`.fill(encoder=..., sae=...)`) or glob them (`.glob(...)`, every
wildcard not given matching anything).
"""

from __future__ import annotations

import glob
import re
import string
from pathlib import Path

SLICES = "slices"
# a scan's slice store (and its slice table, with another suffix) in the slices folder
SCAN_STORE = "{modality}/{image_id}"
SAE_FILES = ("model.safetensors", "config.json", "metrics.json", "history.parquet")

PATTERNS = {
    # data
    "subjects": "meta/subjects.parquet",
    "split": "meta/split.parquet",
    "split_summary": "meta/split_summary.tsv",
    "quarantine": "meta/quarantine.parquet",
    "slice_index": f"{SLICES}/index.parquet",
    "slice_store": f"{SLICES}/{SCAN_STORE}.zarr",
    "slice_table": f"{SLICES}/{SCAN_STORE}.parquet",
    # embed
    "embedding_shard": "embeddings/{encoder}/shard-{shard}.zarr",
    # sae: trained runs and converted study checkpoints, each written by its own rule
    "trained_sae": "sae/{encoder}/{sae}",
    "imported_sae": "sae_imports/{encoder}/{sae}",
    "codes": "codes/{encoder}/{sae}.zarr",
    # mine
    "feature_stats": "features/{encoder}/{sae}/stats.parquet",
    "top_slices": "features/{encoder}/{sae}/top_slices.parquet",
    "enrichment": "features/{encoder}/{sae}/enrichment.parquet",
    "panels": "features/{encoder}/{sae}/panels",
    # evaluate
    "probes": "eval/{encoder}/{sae}/probes",
    "recovery_curves": "eval/{encoder}/{sae}/recovery/curves.parquet",
    "recovery_thresholds": "eval/{encoder}/{sae}/recovery/thresholds.parquet",
    "recovery_summary": "eval/{encoder}/{sae}/recovery/summary.parquet",
    "monosemanticity_features": "eval/{encoder}/{sae}/monosemanticity/features.parquet",
    "monosemanticity_null": "eval/{encoder}/{sae}/monosemanticity/null.parquet",
    "monosemanticity_scores": "eval/{encoder}/{sae}/monosemanticity/scores.parquet",
    "structure_detection": "eval/{encoder}/{sae}/monosemanticity/structure_detection.parquet",
    "fingerprint_per_reference": "eval/{encoder}/{sae}/fingerprint/per_reference.parquet",
    "fingerprint_summary": "eval/{encoder}/{sae}/fingerprint/summary.parquet",
    "fingerprint_retrieved": "eval/{encoder}/{sae}/fingerprint/retrieved.parquet",
    "ranking": "eval/ranking/{encoder}.parquet",
    "eval_summary": "eval/{encoder}/{sae}/summary.json",
    # label
    "labels": "labels/{encoder}/{sae}/{labeller}.parquet",
    "label_usage": "labels/{encoder}/{sae}/{labeller}.usage.json",
    "label_evaluation": "labels/{encoder}/{sae}/{labeller}.evaluation.parquet",
    "label_evaluation_summary": "labels/{encoder}/{sae}/{labeller}.evaluation.json",
    "label_cache": "labels/cache",
    # retrieval
    "retrieval_matches": "retrieval/{encoder}/{sae}/{labeller}/matches.parquet",
    "retrieval_results": "retrieval/{encoder}/{sae}/{labeller}/results.parquet",
    "retrieval_precision": "retrieval/{encoder}/{sae}/{labeller}/precision.parquet",
    "retrieval_summary": "retrieval/{encoder}/{sae}/{labeller}/summary.json",
    # universality
    "stability_twins": "universality/{encoder}/{sae}/stability/twins.parquet",
    "stability_features": "universality/{encoder}/{sae}/stability/features.parquet",
    "stability_summary": "universality/{encoder}/{sae}/stability/summary.json",
    "alignment": "universality/alignment/{encoder_a}/{sae_a}/{encoder_b}/{sae_b}",
    # report
    "report": "report/index.html",
    "example_slices": "report/figures/example_slices.png",
    "training_curves": "report/figures/{encoder}/{sae}/training_curves.png",
    "recovery_curve_figure": "report/figures/{encoder}/{sae}/recovery_curves.png",
    # one timing table per job, named by rule and wildcards (`job` is e.g. "probe/{encoder}/{sae}")
    "timing": "timings/{job}.tsv",
}

ALIGNMENT_FILES = ("features.parquet", "shared.parquet", "unique.parquet", "summary.json")


class Pattern(str):
    """A path pattern with `{wildcard}` fields, usable wherever a string path is."""

    @property
    def wildcards(self) -> list[str]:
        return [field for _, field, _, _ in string.Formatter().parse(self) if field]

    def fill(self, **wildcards: object) -> Path:
        missing = sorted(set(self.wildcards) - set(wildcards))
        if missing:
            raise KeyError(f"{self}: no value for {', '.join(missing)}")
        return Path(self.format(**wildcards))

    def partial(self, **wildcards: object) -> Pattern:
        """The pattern with some wildcards filled, the others left for Snakemake."""
        kept = {name: f"{{{name}}}" for name in self.wildcards if name not in wildcards}
        return Pattern(self.format(**wildcards, **kept))

    def parse(self, path: str | Path) -> dict[str, str]:
        """The wildcard values of a path that matches the pattern."""
        regex = "".join(
            re.escape(literal) + (f"(?P<{field}>[^/]+)" if field else "")
            for literal, field, _, _ in string.Formatter().parse(self)
        )
        found = re.fullmatch(regex, Path(path).as_posix())
        if found is None:
            raise ValueError(f"{path} is not a path of the form {self}")
        return found.groupdict()

    def join(self, name: str) -> Pattern:
        return Pattern(f"{self}/{name}")

    def glob(self, **wildcards: object) -> list[Path]:
        """Existing paths matching the pattern, each wildcard not given (or None) matching any
        one path component, sorted."""
        given = {k: v for k, v in wildcards.items() if v is not None}
        filled = self.format(**{name: given.get(name, "*") for name in self.wildcards})
        return sorted(Path(path) for path in glob.glob(filled))


class Layout:
    """The patterns of one results root (a folder of a run)."""

    def __init__(self, root: str | Path = "results"):
        self.root = Path(root)

    @classmethod
    def of_index(cls, index: str | Path) -> Layout:
        """The layout whose slice index is at `index`."""
        depth = len(Path(PATTERNS["slice_index"]).parts)
        return cls(Path(index).parents[depth - 1])

    def __getattr__(self, name: str) -> Pattern:
        if name not in PATTERNS:
            raise AttributeError(f"the results layout has no {name!r}")
        return Pattern(f"{self.root.as_posix()}/{PATTERNS[name]}")

    @property
    def slices(self) -> Path:
        return self.root / SLICES

    def sae_folder(self, imported: bool) -> Pattern:
        return self.imported_sae if imported else self.trained_sae

    def sae_file(self, name: str, imported: bool = False) -> Pattern:
        if name not in SAE_FILES:
            raise ValueError(f"an SAE folder holds {', '.join(SAE_FILES)}, not {name!r}")
        return self.sae_folder(imported).join(name)

    def alignment_file(self, name: str) -> Pattern:
        if name not in ALIGNMENT_FILES:
            raise ValueError(
                f"an alignment folder holds {', '.join(ALIGNMENT_FILES)}, not {name!r}"
            )
        return self.alignment.join(name)

    def job_timing(self, job: str) -> Pattern:
        return self.timing.partial(job=job)
