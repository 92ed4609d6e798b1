"""Language-driven retrieval: per query the matched features, precision@k per constraint and
the retrieved slices."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from sail_core.report.files import SaeFiles
from sail_core.report.html import Html, element, image, join, number, table, unavailable
from sail_core.report.sources import Missing, load_json, load_table, nested


@dataclass(frozen=True)
class RetrievalTables:
    summary: dict | Missing
    matches: pl.DataFrame | Missing
    precision: pl.DataFrame | Missing
    results: pl.DataFrame | Missing

    @classmethod
    def read(cls, files: SaeFiles) -> RetrievalTables:
        path = files.retrieval("results.parquet")
        results = load_table(path)
        # a run where no query matched a feature writes a table without rows and columns
        if isinstance(results, pl.DataFrame) and results.height:
            results = load_table(path, ("query", "scoring", "rank", "row_id"))
        return cls(
            summary=load_json(files.retrieval("summary.json")),
            matches=load_table(
                files.retrieval("matches.parquet"), ("query", "order", "feature", "label")
            ),
            precision=load_table(
                files.retrieval("precision.parquet"),
                ("query", "scoring", "dimension", "precision_at_k"),
            ),
            results=results,
        )


def _precision_grid(precision: pl.DataFrame, keys: list[str]) -> Html:
    """One row per combination of `keys` (e.g. query and scoring), one column per constraint
    (a dash where the query states none)."""
    dimensions = precision["dimension"].unique(maintain_order=True).to_list()
    base = precision["base_rate"] if "base_rate" in precision.columns else None
    precision = precision.with_columns(
        base_rate=base if base is not None else pl.lit(None, dtype=pl.Float64)
    )
    grid = []
    for key, part in precision.group_by(keys, maintain_order=True):
        cells = {
            d: _with_base(p, b)
            for d, p, b in part.select("dimension", "precision_at_k", "base_rate").iter_rows()
        }
        grid.append([*key, *(cells.get(d) for d in dimensions)])
    return table([*keys, *dimensions], grid)


def _with_base(precision: object, base_rate: object) -> str:
    """'0.800 (base 0.300)': a precision with the share of the split meeting the constraint."""
    if base_rate is None:
        return number(precision)
    return f"{number(precision)} (base {number(base_rate)})"


def _mean_cell(values: dict) -> str:
    cell = _with_base(values.get("precision"), values.get("base_rate"))
    return f"{cell}, lift {number(values.get('lift'), 2)}" if "lift" in values else cell


def _mean_grid(summary: dict, order: list[str]) -> Html:
    """Mean precision per scoring and constraint, constraints in `order` first."""
    means = summary.get("mean_precision_at_k")
    if not isinstance(means, dict) or not means:
        return unavailable("Mean precision", "the retrieval summary holds no mean precision")
    dimensions = {}
    for per_dimension in means.values():
        for dimension, value in per_dimension.items():
            dimensions.setdefault(dimension, nested(value, "n_queries"))
    dimensions = {d: dimensions[d] for d in order if d in dimensions} | dimensions
    header = [f"{d} ({number(n)})" for d, n in dimensions.items()]
    rows = [
        [scoring, *(_mean_cell(per_dimension.get(d) or {}) for d in dimensions)]
        for scoring, per_dimension in means.items()
    ]
    return table(["scoring", *header], rows)


def _relevance(row: dict) -> tuple[bool, str]:
    checks = {k.removeprefix("relevant_"): v for k, v in row.items() if k.startswith("relevant_")}
    stated = {k: v for k, v in checks.items() if v is not None}
    text = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in stated.items())
    return bool(stated) and all(stated.values()), text


def _slice_strip(results: pl.DataFrame, images: dict[int, bytes] | Missing) -> Html:
    if isinstance(images, Missing):
        return unavailable("Thumbnails", images.reason)
    tiles = []
    for row in results.sort("rank").iter_rows(named=True):
        relevant, checks = _relevance(row)
        scan = f"{row.get('modality')}/{row.get('image_id')}"
        where = f"{scan} {row.get('orientation')} {row.get('index')}"
        who = f"{row.get('gender') or '?'}, {number(row.get('age'))} y"
        png = images.get(row["row_id"])
        tiles.append(
            element(
                "figure",
                image(png, where) if png else element("div", "no image", class_="noimg"),
                element("figcaption", f"{row.get('rank')}. {where}"),
                class_="thumb " + ("relevant" if relevant else "irrelevant"),
                title=f"{where} · {who} · score {number(row.get('score'))} · {checks}",
            )
        )
    return element("div", tiles, class_="strip")


def _query_block(
    name: str,
    tables: RetrievalTables,
    images: dict[int, bytes] | Missing,
    feature_link: Callable[[int], str],
) -> Html:
    matches = (
        pl.DataFrame()
        if isinstance(tables.matches, Missing)
        else tables.matches.filter(pl.col("query") == name).sort("order")
    )
    text = matches["text"][0] if matches.height else None
    matched = (
        element(
            "ul",
            [
                element(
                    "li",
                    element("a", f"#{m['feature']}", href=feature_link(m["feature"]), class_="fid"),
                    f" {m['label']} ",
                    element("span", f"similarity {number(m.get('similarity'))}", class_="small"),
                )
                for m in matches.iter_rows(named=True)
            ],
            class_="matches",
        )
        if matches.height
        else element("p", "No labelled feature matched this query.", class_="small")
    )
    strips = []
    if not isinstance(tables.results, Missing) and tables.results.height:
        results = tables.results.filter(pl.col("query") == name)
        for (scoring,), part in results.group_by("scoring", maintain_order=True):
            strips.append(
                element(
                    "div",
                    element("p", f"{scoring} scoring", class_="small"),
                    _slice_strip(part, images),
                )
            )
    return element(
        "div",
        element("h4", name, element("span", f" — {text}", class_="query") if text else None),
        matched,
        element("div", strips, class_="strips"),
        class_="query-block",
    )


def retrieval_section(
    tables: RetrievalTables,
    images: dict[int, bytes] | Missing,
    feature_link: Callable[[int], str],
) -> Html:
    """`feature_link(feature)` is the address of a feature's card."""
    if isinstance(tables.precision, Missing):
        return unavailable("Language retrieval", tables.precision.reason)
    summary = {} if isinstance(tables.summary, Missing) else tables.summary
    k = number(summary.get("k"))
    overview = []
    if summary:
        overview.append(
            element(
                "p",
                f"Matcher {summary.get('matcher', '?')}, {summary.get('split', '?')} split, "
                f"{number(summary.get('n_candidate_features'))} candidate features, "
                f"{number(summary.get('n_queries'))} queries; without a match: "
                f"{', '.join(summary.get('queries_without_match') or []) or 'none'}.",
                class_="small",
            )
        )
    queries = tables.precision["query"].unique(maintain_order=True).to_list()
    return join(
        overview,
        element(
            "h4",
            f"Mean precision@{k} per constraint (number of queries stating it), with the base "
            "rate of the constraint in the searched split and the lift (precision / base rate); "
            "all: every stated constraint met",
        ),
        _mean_grid(summary, tables.precision["dimension"].unique(maintain_order=True).to_list()),
        element("h4", f"Precision@{k} per query and constraint"),
        _precision_grid(tables.precision, ["query", "scoring"]),
        element("h4", "Queries, matched features and retrieved slices"),
        element(
            "p",
            "Green: the slice satisfies every constraint the query states; red: at least one "
            "is missed (hover a slice for details).",
            class_="small",
        ),
        [_query_block(name, tables, images, feature_link) for name in queries],
    )
