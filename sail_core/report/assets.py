"""The page's inline style sheet and script (no external resources, no frameworks)."""

STYLE = """
:root { --ink: #1d2430; --muted: #5b6573; --line: #dde2e8; --panel: #f6f8fa;
        --accent: #1f5fa8; --good: #2e7d32; --bad: #c62828; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #fff; }
header.top { background: #14213d; color: #fff; padding: 18px 32px; }
header.top h1 { margin: 0; font-size: 22px; font-weight: 600; }
header.top p { margin: 4px 0 0; color: #c9d3e3; }
nav.toc { padding: 10px 32px; border-bottom: 1px solid var(--line); background: var(--panel);
          position: sticky; top: 0; z-index: 2; }
nav.toc a { margin-right: 18px; color: var(--accent); text-decoration: none; font-weight: 500; }
main a { color: var(--accent); }
a.fid { text-decoration: none; }
main { max-width: 1240px; margin: 0 auto; padding: 8px 32px 48px; }
section.block { border-bottom: 1px solid var(--line); padding: 8px 0 24px; }
h2 { font-size: 20px; margin: 26px 0 6px; }
h3 { font-size: 16px; margin: 22px 0 8px; color: #243b5e; }
h4 { font-size: 14px; margin: 16px 0 6px; }
.small { color: var(--muted); font-size: 12.5px; }
.missing { color: #8a5300; background: #fff6e5; border-left: 3px solid #e0a030;
           padding: 6px 10px; }
table { border-collapse: collapse; margin: 4px 0 10px; font-size: 13px; }
table.grid th, table.grid td { border-bottom: 1px solid var(--line); padding: 4px 10px;
                               text-align: left; }
table.grid th { background: var(--panel); font-weight: 600; }
table.grid tbody tr:hover { background: #f0f4fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.selected { background: #e8f1fb; font-weight: 600; }
table.kv td, table.kv th { padding: 1px 8px 1px 0; text-align: left; }
table.kv th { color: var(--muted); font-weight: 500; font-size: 12px; }
dl.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr));
          gap: 10px; margin: 10px 0 6px; }
.kpi { background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
       padding: 8px 12px; }
.kpi dt { color: var(--muted); font-size: 12px; }
.kpi dd { margin: 2px 0 0; font-size: 18px; font-weight: 600;
          font-variant-numeric: tabular-nums; }
.kpi dd.note { font-size: 11.5px; font-weight: 400; color: var(--muted); }
figure { margin: 8px 0 14px; }
.columns { display: flex; flex-wrap: wrap; gap: 0 48px; align-items: flex-start; }
figcaption { color: var(--muted); font-size: 12.5px; }
img.wide { max-width: 100%; height: auto; }
.searchbar { display: flex; gap: 12px; align-items: center; margin: 10px 0;
             position: sticky; top: 40px; background: #fff; padding: 6px 0; z-index: 1; }
.searchbar input { flex: 0 1 420px; padding: 7px 10px; font-size: 14px;
                   border: 1px solid #b8c2cf; border-radius: 5px; }
.count { color: var(--muted); }
.feature { border: 1px solid var(--line); border-radius: 6px; margin: 10px 0;
           padding: 10px 12px; }
.feature header { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap;
                  margin-bottom: 6px; }
.fid { font-weight: 700; color: var(--accent); font-variant-numeric: tabular-nums; }
.label { font-weight: 600; }
.unlabelled { color: var(--muted); font-weight: 400; font-style: italic; }
.badge { font-size: 11px; border-radius: 10px; padding: 1px 8px; background: #e3ebf6;
         color: #28456f; }
.badge.offline { background: #fdf0d8; color: #7a4a00; }
.badge.muted { background: #eef0f3; color: var(--muted); }
.feature[hidden] { display: none; }
.feature-body { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: flex-start; }
img.panel { max-width: 100%; height: auto; border: 1px solid var(--line); }
.facts { flex: 1 1 360px; min-width: 0; display: flex; flex-wrap: wrap; gap: 4px 28px;
         align-items: flex-start; }
.query-block { margin: 12px 0 18px; padding-left: 10px; border-left: 3px solid var(--line); }
.query { font-weight: 400; color: var(--muted); }
ul.matches { margin: 4px 0; padding-left: 18px; }
.strip { display: flex; flex-wrap: wrap; gap: 6px; }
.thumb { margin: 0; border: 3px solid; border-radius: 4px; padding: 1px; }
.thumb img { display: block; }
.thumb figcaption { font-size: 10px; width: 0; min-width: 100%; white-space: nowrap;
                    overflow: hidden; text-overflow: ellipsis; }
.strips { display: flex; flex-wrap: wrap; gap: 0 36px; }
.strips p { margin: 6px 0 4px; }
.thumb.relevant { border-color: var(--good); }
.thumb.irrelevant { border-color: var(--bad); }
.noimg { width: 64px; height: 64px; background: var(--panel); }
"""

# Filters every feature list by the words typed in its search box (all words must occur; a
# word like #12 matches feature 12 only). The first filter may come from ?q=... or #q=...
SCRIPT = """
(function () {
  "use strict";
  function initialQuery() {
    var fromSearch = new URLSearchParams(window.location.search).get("q");
    if (fromSearch) { return fromSearch; }
    var hash = window.location.hash;
    return hash.indexOf("#q=") === 0 ? decodeURIComponent(hash.slice(3)) : "";
  }
  function matches(card, words) {
    var text = card.getAttribute("data-search");
    var feature = card.getAttribute("data-feature");
    return words.every(function (word) {
      return /^#\\d+$/.test(word) ? word.slice(1) === feature : text.indexOf(word) >= 0;
    });
  }
  var query = initialQuery();
  document.querySelectorAll("input.feature-search").forEach(function (box) {
    var cards = document.getElementById(box.getAttribute("data-list"))
      .querySelectorAll(".feature");
    var count = document.getElementById(box.getAttribute("data-count"));
    function apply() {
      var words = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
      var shown = 0;
      cards.forEach(function (card) {
        var visible = matches(card, words);
        card.hidden = !visible;
        if (visible) { shown += 1; }
      });
      count.textContent = shown + " of " + cards.length + " shown";
    }
    box.addEventListener("input", apply);
    box.value = query;
    apply();
  });
})();
"""
