"""`sail query "Axial CT of the skull and brain" --run results/`: retrieve slices by text.

Matches the query to the labelled features of a finished run with the offline sentence encoder,
ranks the slices of the chosen split by those features (one per scan), prints them with their
metadata and the precision@k of every constraint the query states (k = the number of slices
returned, beside its base rate in the split), and writes a panel PNG. Without --encoder/--sae it
answers with the labelled pretrained encoder that retrieved best on the run's held-out queries;
a random-init baseline only when named.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from dataclasses import replace
from pathlib import Path

import polars as pl

from sail_core.columns import SPLITS
from sail_core.data.index import read_index
from sail_core.data.store import SliceReader
from sail_core.embed.store import shard_attrs
from sail_core.io import atomic_output
from sail_core.layout import Layout
from sail_core.mine.panels import montage
from sail_core.retrieval.match import EmbeddingMatcher, load_text_encoder
from sail_core.retrieval.queries import query_from_text
from sail_core.retrieval.rank import SCORINGS
from sail_core.retrieval.run import (
    JOINT,
    RetrievalSettings,
    base_rates,
    candidates_from,
    precision_rows,
    run_queries,
)
from sail_core.sae.codes import CodeStore

PANEL_COLUMNS = 5
TILE_PX = 128
RANDOM_INIT = "random_init"


class RunLayoutError(ValueError):
    pass


def find_labels(run: Path, encoder: str | None, sae: str | None, labeller: str) -> list[Path]:
    """Label tables of the run matching the (optional) encoder and SAE, sorted."""
    labels = Layout(run).labels
    found = labels.glob(encoder=encoder, sae=sae, labeller=labeller)
    if not found:
        wanted = labels.partial(**{k: v for k, v in (("encoder", encoder), ("sae", sae)) if v})
        raise RunLayoutError(
            f"no {wanted.partial(labeller=labeller)}; "
            "run the pipeline first or check --run/--encoder/--sae/--labeller"
        )
    return found


def labelled_config(run: Path, labels: Path) -> tuple[str, str]:
    """(encoder, sae) of a label table of the run."""
    names = Layout(run).labels.parse(labels)
    return names["encoder"], names["sae"]


def encoder_kind(run: Path, encoder: str) -> str | None:
    """The `kind` recorded in the encoder's first embedding shard; None when there is none."""
    for shard in Layout(run).embedding_shard.glob(encoder=encoder):
        try:
            return shard_attrs(shard).get("kind")
        except (FileNotFoundError, ValueError, OSError):
            continue
    return None


def held_out_precision(run: Path, encoder: str, sae: str, labeller: str, scoring: str) -> float:
    """Mean precision@k of the run's evaluation queries with every stated constraint met
    (retrieval summary.json), NaN when the run has none."""
    path = Layout(run).retrieval_summary.fill(encoder=encoder, sae=sae, labeller=labeller)
    try:
        summary = json.loads(path.read_text())
        value = summary["mean_precision_at_k"][scoring][JOINT]["precision"]
    except (OSError, ValueError, KeyError, TypeError):
        return math.nan
    return float(value) if isinstance(value, int | float) else math.nan


def choose_labels(
    run: Path, encoder: str | None, sae: str | None, labeller: str, scoring: str
) -> tuple[Path, str]:
    """The label table to answer with and why: the named encoder/SAE as asked; otherwise the
    pretrained (not random-init) labelled config with the best held-out query precision."""
    found = find_labels(run, encoder, sae, labeller)
    if encoder:
        return found[0], "as named"
    configs = {path: labelled_config(run, path) for path in found}
    pretrained = [p for p in found if encoder_kind(run, configs[p][0]) != RANDOM_INIT]
    if not pretrained:
        names = ", ".join(sorted({encoder for encoder, _ in configs.values()}))
        raise RunLayoutError(
            f"{run}: only random-init encoders are labelled ({names}); name one with --encoder "
            "to query a random baseline"
        )
    scored = [(held_out_precision(run, *configs[p], labeller, scoring), p) for p in pretrained]
    best, path = min(
        scored,
        key=lambda item: (
            not math.isfinite(item[0]),
            -item[0] if math.isfinite(item[0]) else 0.0,
            item[1],
        ),
    )
    reason = (
        f"pretrained, best held-out query precision ({scoring}, all constraints) {best:.3f}"
        if math.isfinite(best)
        else "pretrained, no held-out query results to compare (first by name)"
    )
    return path, reason


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sail", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    query = commands.add_parser("query", help="retrieve slices for a clinical text query")
    query.add_argument("text", help='e.g. "Axial CT of the skull and brain"')
    query.add_argument("--run", type=Path, default=Path("results"), help="results folder")
    query.add_argument(
        "--encoder",
        help="encoder name (default: the labelled pretrained one best on held-out queries)",
    )
    query.add_argument("--sae", help="SAE name (default: as for --encoder)")
    query.add_argument("--labeller", default="offline", choices=("offline", "anthropic"))
    query.add_argument("--top", type=int, default=10, help="slices to return (one per scan)")
    query.add_argument("--scoring", default="weighted", choices=SCORINGS)
    query.add_argument("--split", default="test", choices=SPLITS)
    query.add_argument("--max-features", type=int, default=3)
    query.add_argument("--min-similarity", type=float, default=0.2)
    query.add_argument("--margin", type=float, default=0.1)
    query.add_argument(
        "--passed-only",
        action="store_true",
        help="match only features whose label passed the contrastive test",
    )
    query.add_argument("--out", type=Path, default=Path("panel.png"), help="panel PNG to write")
    return parser.parse_args(argv)


def write_panel(results: pl.DataFrame, index: pl.DataFrame, run: Path, title: str, out: Path):
    rows = results.join(index.select("row_id", "array_pos"), on="row_id", maintain_order="left")
    images = SliceReader(Layout(run).slices).read(rows)
    captions = [
        f"{r['rank']}. {r['modality']}/{r['image_id']} {r['orientation'][:3]} {r['index']}\n"
        f"{r['gender'] or '?'} {'' if r['age'] is None else int(r['age'])} s={r['score']:.3f}"
        for r in rows.iter_rows(named=True)
    ]
    panel = montage(images, captions, title, TILE_PX, PANEL_COLUMNS)
    with atomic_output(out) as tmp:
        panel.save(tmp, format="PNG")


def query_command(args: argparse.Namespace) -> int:
    labels_path, reason = choose_labels(
        args.run, args.encoder, args.sae, args.labeller, args.scoring
    )
    encoder, sae = labelled_config(args.run, labels_path)
    print(f"using {encoder}/{sae} ({reason}; choose with --encoder/--sae)")
    layout = Layout(args.run)
    index, index_hash = read_index(layout.slice_index)
    store = CodeStore(layout.codes.fill(encoder=encoder, sae=sae), index_hash)
    labels = pl.read_parquet(labels_path)
    evaluation = None
    if args.passed_only:
        evaluation = pl.read_parquet(
            layout.label_evaluation.fill(encoder=encoder, sae=sae, labeller=args.labeller)
        )
    matcher = EmbeddingMatcher(
        load_text_encoder(), args.max_features, args.min_similarity, args.margin, 0.95
    )
    query = query_from_text(args.text)
    settings = RetrievalSettings(args.split, args.top, (args.scoring,), chunk_rows=65536)
    out = run_queries(
        [query], matcher, candidates_from(labels, evaluation), labels, index, store, settings
    )
    print(f"{encoder} / {sae} / {args.labeller} labels; {args.split} split; {args.scoring} score")
    print(f"query: {query.text}")
    print(f"constraints read from the query: {', '.join(query.dimensions()) or 'none'}")
    if out.matches.is_empty():
        print("no labelled feature matches the query")
        return 1
    print("matched features:")
    for row in out.matches.iter_rows(named=True):
        print(f"  {row['feature']:>6}  {row['similarity']:.3f}  {row['label']}")
    precision = out.precision
    if 0 < out.results.height < args.top:
        print(
            f"{out.results.height} of the {args.top} slices asked for: only these scans of the "
            f"{args.split} split have a slice on which a matched feature fires; precision@"
            f"{out.results.height} below"
        )
        split_rows = index.filter(pl.col("split") == args.split)
        precision = pl.DataFrame(
            precision_rows(
                query,
                out.results,
                replace(settings, k=out.results.height),
                base_rates(query, split_rows),
            )
        )
    with pl.Config(
        tbl_rows=args.top, tbl_cols=-1, tbl_width_chars=160, tbl_hide_dataframe_shape=True
    ):
        print(out.results.drop("query", "scoring"))
        if precision.height:
            print(precision.select("dimension", "k", "precision_at_k", "base_rate", "lift"))
    write_panel(out.results, index, args.run, query.text, args.out)
    print(f"panel: {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        return query_command(args)
    except (RunLayoutError, FileNotFoundError, ValueError) as err:
        print(f"sail query: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
