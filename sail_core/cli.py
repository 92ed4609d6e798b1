"""`sail query "Axial CT of the skull and brain" --run results/`: retrieve slices by text.

Matches the query to the labelled features of a finished run with the offline sentence encoder,
ranks the slices of the chosen split by those features (one per scan), prints them with their
metadata and the precision@k of every constraint the query states, and writes a panel PNG.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import polars as pl

from sail_core.columns import SPLITS
from sail_core.data.index import read_index
from sail_core.data.store import SliceReader
from sail_core.io import atomic_output
from sail_core.mine.panels import montage
from sail_core.retrieval.match import EmbeddingMatcher, load_text_encoder
from sail_core.retrieval.queries import query_from_text
from sail_core.retrieval.rank import SCORINGS
from sail_core.retrieval.run import RetrievalSettings, candidates_from, run_queries
from sail_core.sae.codes import CodeStore

PANEL_COLUMNS = 5
TILE_PX = 128


class RunLayoutError(ValueError):
    pass


def find_labels(run: Path, encoder: str | None, sae: str | None, labeller: str) -> list[Path]:
    """Label tables of the run matching the (optional) encoder and SAE, sorted."""
    found = sorted(run.glob(f"labels/{encoder or '*'}/{sae or '*'}/{labeller}.parquet"))
    if not found:
        raise RunLayoutError(
            f"{run}: no labels/{encoder or '<encoder>'}/{sae or '<sae>'}/{labeller}.parquet; "
            "run the pipeline first or check --run/--encoder/--sae/--labeller"
        )
    return found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sail", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    query = commands.add_parser("query", help="retrieve slices for a clinical text query")
    query.add_argument("text", help='e.g. "Axial CT of the skull and brain"')
    query.add_argument("--run", type=Path, default=Path("results"), help="results folder")
    query.add_argument("--encoder", help="encoder name (default: the first labelled one)")
    query.add_argument("--sae", help="SAE name (default: the first labelled one)")
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
    images = SliceReader(run / "slices").read(rows)
    captions = [
        f"{r['rank']}. {r['modality']}/{r['image_id']} {r['orientation'][:3]} {r['index']}\n"
        f"{r['gender'] or '?'} {'' if r['age'] is None else int(r['age'])} s={r['score']:.3f}"
        for r in rows.iter_rows(named=True)
    ]
    panel = montage(images, captions, title, TILE_PX, PANEL_COLUMNS)
    with atomic_output(out) as tmp:
        panel.save(tmp, format="PNG")


def query_command(args: argparse.Namespace) -> int:
    labels_path, *others = find_labels(args.run, args.encoder, args.sae, args.labeller)
    encoder, sae = labels_path.parent.parent.name, labels_path.parent.name
    if others:
        choices = ", ".join(f"{p.parent.parent.name}/{p.parent.name}" for p in others)
        print(f"using {encoder}/{sae}; also labelled (choose with --encoder/--sae): {choices}")
    index, index_hash = read_index(args.run / "slices" / "index.parquet")
    store = CodeStore(args.run / "codes" / encoder / f"{sae}.zarr", index_hash)
    labels = pl.read_parquet(labels_path)
    evaluation = None
    if args.passed_only:
        evaluation = pl.read_parquet(labels_path.with_name(f"{args.labeller}.evaluation.parquet"))
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
    with pl.Config(
        tbl_rows=args.top, tbl_cols=-1, tbl_width_chars=160, tbl_hide_dataframe_shape=True
    ):
        print(out.results.drop("query", "scoring"))
        if out.precision.height:
            print(out.precision.select("dimension", "k", "precision_at_k"))
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
