"""The lineage of every artifact: which run made it, from which parents, back to the raw text.

The store already records it (an artifact's `run` and `parents`); this module reads it as a graph:
- `build_graph(store)`: every artifact as a node (kind, the stage that made it, its lifecycle column, the run id),
  every parent -> child link as an edge;
- `chain(store, art_id)`: the artifact and all its ancestors in lifecycle order (raw text first), each step with
  its stage, run, the run's config (and the fields set away from the stage's defaults) and its key figures
  (pretrain validation loss / bits per byte, fine-tune test accuracy, align held-out reward accuracy, optimize
  speed-up, an eval report's headline), the corpus's sources, and the eval reports that scored the artifact;
- `graph_figure(graph, lang, highlight=...)`: a plotly figure of it (columns in lifecycle order, nodes coloured
  by kind, edges parent -> child), each node carrying its artifact id and run id (customdata) for the UI.

No torch, no gradio: the Pipeline tab and the model cards of `workbench.share` read it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .i18n import pick, say

# Lifecycle columns of the graph: (stage key, (ko, en)). Datasets (fine-tune / preference data) sit with the corpora.
COLUMNS: list[tuple[str, tuple[str, str]]] = [
    ("corpus", ("데이터", "Data")), ("tokenizer", ("토크나이저", "Tokenizer")), ("arch", ("아키텍처", "Architecture")),
    ("pretrain", ("사전학습", "Pretrain")), ("finetune", ("미세조정", "Fine-tune")), ("align", ("정렬", "Align")),
    ("optimize", ("최적화", "Optimize")), ("eval", ("평가", "Evaluate")),
]
COLUMN_OF = {k: i for i, (k, _) in enumerate(COLUMNS)}
COLUMN_OF["dataset"] = COLUMN_OF["corpus"]

# what each kind is called (for the legend) and its colour
KINDS: dict[str, tuple[tuple[str, str], str]] = {
    "corpus": (("말뭉치", "corpus"), "#8c564b"), "dataset": (("데이터셋", "dataset"), "#bcbd22"),
    "tokenizer": (("토크나이저", "tokenizer"), "#9467bd"), "arch": (("아키텍처", "arch"), "#7f7f7f"),
    "model": (("모델", "model"), "#1f77b4"), "adapter": (("어댑터", "adapter"), "#2ca02c"),
    "quantized": (("양자화 모델", "quantized model"), "#ff7f0e"), "eval": (("평가 보고서", "eval report"), "#d62728"),
}
# the stage an artifact of a kind comes from when neither its meta nor its run says
_KIND_STAGE = {"corpus": "corpus", "dataset": "dataset", "tokenizer": "tokenizer", "arch": "arch",
               "model": "pretrain", "adapter": "finetune", "quantized": "optimize", "eval": "eval"}
_RUN_STAGE = {"tokenizer-compare": "tokenizer"}

# headline metrics of an eval report, in the order they are shown (workbench/evaluate/run.py HEADLINE, all tasks)
EVAL_HEADLINES = ("accuracy", "acc_norm", "macro_f1", "pearson", "spearman", "bpb", "ppl", "chrf", "bleu", "rougeL",
                  "hangul_share")
# per stage: metric keys of meta["metrics"] in the order they matter (the first ones present are the key figures)
_METRIC_ORDER = {
    "pretrain": ("val/loss", "val/bpb", "val/ppl", "train/loss", "train/tokens_per_s"),
    "finetune": ("test/accuracy", "test/macro_f1", "test/loss", "test/bpb", "test/ppl", "val/accuracy", "val/loss",
                 "train/loss"),
    "align": ("test/reward_accuracy", "test/reward_margin", "test/logp_accuracy", "val/rewards/accuracies",
              "val/loss", "train/loss"),
}
_SUMMARY_KEYS = ("speedup", "size_ratio", "ppl_change_pct", "accuracy_change", "greedy_agreement", "agreement")
MAX_FIGURES = 6


@dataclass
class Node:
    id: int
    kind: str          # the store's kind
    shown_kind: str    # what the graph calls it: a model with quantization meta is "quantized"
    name: str
    path: str
    run: str | None
    stage: str
    column: int
    parents: list[int]
    exists: bool
    created: float
    meta: dict = field(repr=False, default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} (#{self.id})"


@dataclass
class Graph:
    nodes: dict[int, Node]
    edges: list[tuple[int, int]]    # (parent id, child id)
    runs: dict[str, Any]            # run id -> state.Run (the runs that made artifacts)

    def run_of(self, art_id: int) -> str | None:
        """The id of the run that made an artifact (None: published outside a run, e.g. by a script)."""
        n = self.nodes.get(int(art_id))
        return n.run if n else None

    def children(self, art_id: int) -> list[int]:
        return [c for p, c in self.edges if p == int(art_id)]


def _stage_of(kind: str, meta: dict, run) -> str:
    if kind in ("corpus", "dataset", "tokenizer", "arch", "eval"):
        return kind
    st = (meta or {}).get("stage") or (run.stage if run is not None else None)
    st = _RUN_STAGE.get(st, st)
    if st in COLUMN_OF:
        return st
    return _KIND_STAGE.get(kind, "pretrain")


def _shown_kind(kind: str, meta: dict) -> str:
    if kind == "model" and (meta or {}).get("quantization"):
        return "quantized"
    return kind if kind in KINDS else "model"


def build_graph(store) -> Graph:
    """Every artifact of the workspace and the parent -> child links between them."""
    arts = store.list_artifacts()
    runs = {}
    for rid in {a.run for a in arts if a.run}:
        r = store.get_run(rid)
        if r is not None:
            runs[rid] = r
    nodes = {}
    for a in arts:
        run = runs.get(a.run) if a.run else None
        stage = _stage_of(a.kind, a.meta, run)
        nodes[a.id] = Node(id=a.id, kind=a.kind, shown_kind=_shown_kind(a.kind, a.meta), name=a.name, path=a.path,
                           run=a.run, stage=stage, column=COLUMN_OF.get(stage, COLUMN_OF["pretrain"]),
                           parents=list(a.parents), exists=Path(a.path).exists(), created=a.created, meta=a.meta)
    edges = [(p, a.id) for a in arts for p in a.parents if p in nodes]
    return Graph(nodes, edges, runs)


# -- figures and config ------------------------------------------------------------------------------------------
def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def fmt_value(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, (list, dict)):
        s = json.dumps(v, ensure_ascii=False, default=str)
        return s if len(s) <= 80 else s[:77] + "…"
    s = str(v)
    return s if len(s) <= 80 else s[:77] + "…"


def eval_headline(metrics: dict) -> dict:
    """The headline metrics of one model's entry in an eval report, in the usual order."""
    return {k: metrics[k] for k in EVAL_HEADLINES if _num(metrics.get(k))}


def key_figures(node: Node, run=None) -> dict[str, Any]:
    """The few numbers that say how good an artifact is (from its meta and its run's summary)."""
    meta = node.meta or {}
    summ = (run.summary if run is not None else None) or {}
    out: dict[str, Any] = {}
    metrics = {k: v for k, v in (meta.get("metrics") or {}).items() if _num(v)}
    if node.stage == "eval" or node.kind == "eval":
        for m in meta.get("models") or []:
            who = m.get("model") or f"#{m.get('artifact_id')}"
            for k, v in eval_headline(m.get("metrics") or {}).items():
                out[f"{Path(str(who)).name} · {k}"] = v
        if meta.get("n"):
            out["n"] = meta["n"]
    elif node.stage == "optimize":
        q = meta.get("quantization") or {}
        if q.get("method"):
            out["method"] = q["method"]
        for k, v in summ.items():
            if _num(v) and any(s in k for s in _SUMMARY_KEYS):
                out[k] = v
    elif node.kind in ("corpus", "dataset"):
        for k in ("docs_in", "docs_out", "docs", "rows", "pairs"):
            if _num(meta.get(k)):
                out[k] = meta[k]
        for split, n in (meta.get("splits") or {}).items():
            if _num(n):
                out[f"{split} rows"] = n
            elif isinstance(n, dict) and _num(n.get("docs")):
                out[f"{split} docs"] = n["docs"]
    elif node.kind == "tokenizer":
        if _num(meta.get("vocab_size")):
            out["vocab_size"] = meta["vocab_size"]
        for k, v in (meta.get("heldout") or {}).items():
            if _num(v) and len(out) < 4:
                out[f"heldout {k}"] = v
    elif node.kind == "arch":
        for k in ("family", "vocab_size", "params"):
            if meta.get(k) is not None and not isinstance(meta[k], dict):
                out[k] = meta[k]
    order = _METRIC_ORDER.get(node.stage, ())
    for k in order:
        if k in metrics and len(out) < MAX_FIGURES:
            out[k] = metrics[k]
    for prefix in ("test/", "val/"):
        for k, v in metrics.items():
            if k.startswith(prefix) and k not in out and len(out) < MAX_FIGURES:
                out[k] = v
    if node.stage == "pretrain":
        params = meta.get("params")
        total = params.get("total") if isinstance(params, dict) else params
        if _num(total) and len(out) < MAX_FIGURES + 1:
            out["params"] = total
    return out


def _flat(d: Any, prefix: str = "") -> dict:
    if isinstance(d, dict):
        out = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}." if isinstance(v, dict) and v else f"{prefix}{k}"))
        return {k.rstrip("."): v for k, v in out.items()}
    return {prefix: d}


_DEFAULTS: dict[str, dict] = {}
# config fields that say what a step was even at their default (the method of a fine-tune, the model family)
ALWAYS_SHOWN = ("task", "method", "algorithm", "family", "arch.family", "max_steps", "vocab_size")


def _stage_defaults(stage_name: str) -> dict:
    """A stage's default config, flattened (so a step shows only what was set away from it)."""
    if stage_name not in _DEFAULTS:
        try:
            from . import stages
            _DEFAULTS[stage_name] = _flat(stages.get(stage_name).config().to_dict())
        except Exception:  # noqa: BLE001 - a stage that is gone or cannot be built: show every field instead
            _DEFAULTS[stage_name] = {}
    return _DEFAULTS[stage_name]


def key_config(run, limit: int = 12) -> dict[str, Any]:
    """What a step was (ALWAYS_SHOWN) and the fields of its run's config set away from the stage's defaults (what the
    person chose), at most `limit`."""
    if run is None or not run.config:
        return {}
    defaults = _stage_defaults(run.stage)
    flat = _flat(run.config)
    out = {k: flat[k] for k in ALWAYS_SHOWN if flat.get(k) not in (None, "", [], {})}
    for k, v in flat.items():
        if k in out or v in (None, "", [], {}) or (k in defaults and defaults[k] == v):
            continue
        out[k] = v
        if len(out) >= limit:
            break
    return out


def corpus_sources(node: Node, run=None) -> list[str]:
    """Where a corpus's raw text came from: its files, the bundled text or Hub dataset its run read."""
    from .artifacts import read_meta
    meta = {**read_meta(node.path), **(node.meta or {})} if node.exists else (node.meta or {})
    out: list[str] = []
    src = meta.get("sources")
    if isinstance(src, list):
        out += [str(s.get("path") or s.get("name") or s) if isinstance(s, dict) else str(s) for s in src]
    elif isinstance(src, dict):
        out += [str(s) for s in (src.get("files") or [])]
    if meta.get("source"):
        out.append(str(meta["source"]))
    cfg = (run.config if run is not None else None) or {}
    for i in cfg.get("inputs") or []:
        if str(i).strip() and str(i) not in out:
            out.append(str(i))
    hf = cfg.get("hf") or {}
    if isinstance(hf, dict) and hf.get("name"):
        out.append(f"Hugging Face dataset {hf['name']}" + (f" ({hf.get('config')})" if hf.get("config") else ""))
    return out[:20]


# -- the chain of one artifact ------------------------------------------------------------------------------------
@dataclass
class Step:
    node: Node
    run: Any                 # state.Run or None
    config: dict             # the run's whole config ({} when made outside a run)
    key_config: dict
    figures: dict
    sources: list[str]       # corpora: where the raw text came from

    @property
    def run_id(self) -> str | None:
        return self.node.run

    def as_dict(self) -> dict:
        n = self.node
        return {"artifact": n.id, "kind": n.kind, "shown_kind": n.shown_kind, "name": n.name, "path": n.path,
                "exists": n.exists, "stage": n.stage, "run": n.run,
                "run_status": self.run.status if self.run is not None else None, "parents": n.parents,
                "key_config": self.key_config, "figures": self.figures, "sources": self.sources,
                "config": self.config}


@dataclass
class Chain:
    target: Node
    steps: list[Step]        # raw text first, the target last
    evaluations: list[dict]  # eval reports whose parents include the target: {"id", "name", "run", "task", ...}

    @property
    def corpora(self) -> list[Step]:
        return [s for s in self.steps if s.node.kind == "corpus"]

    def as_dict(self) -> dict:
        return {"artifact": self.target.id, "steps": [s.as_dict() for s in self.steps],
                "evaluations": self.evaluations}


def evaluations_of(graph: Graph, art_id: int) -> list[dict]:
    """The eval reports that scored an artifact, newest first, with its headline figures in each."""
    out = []
    for c in graph.children(art_id):
        n = graph.nodes[c]
        if n.kind != "eval":
            continue
        mine = [m for m in (n.meta.get("models") or []) if m.get("artifact_id") == int(art_id)]
        figs = {}
        for m in mine or (n.meta.get("models") or [])[:1]:
            figs.update(eval_headline(m.get("metrics") or {}))
        out.append({"id": n.id, "name": n.name, "run": n.run, "task": n.meta.get("task"),
                    "benchmark": n.meta.get("benchmark"), "n": n.meta.get("n"), "figures": figs,
                    "created": n.created})
    return sorted(out, key=lambda e: -e["created"])


def chain(store, art_id: int | str, graph: Graph | None = None) -> Chain:
    """The artifact and every ancestor, in lifecycle order (the raw text first). Raises UserError if unknown."""
    from .errors import UserError
    graph = graph or build_graph(store)
    key = str(art_id).strip().lstrip("#")
    if not key.isdigit() or int(key) not in graph.nodes:
        raise UserError(say("no artifact #{a} in this workspace: pick one from the list",
                            "이 작업 공간에 산출물 #{a} 이(가) 없습니다. 목록에서 고르세요", a=art_id))
    target = graph.nodes[int(key)]
    seen, todo = [], [target.id]
    while todo:
        i = todo.pop(0)
        if i in seen or i not in graph.nodes:
            continue
        seen.append(i)
        todo.extend(graph.nodes[i].parents)
    depth: dict[int, int] = {}

    def d(i: int, path=()) -> int:
        if i not in depth:
            ps = [p for p in graph.nodes[i].parents if p in graph.nodes and p not in path]
            depth[i] = 1 + max((d(p, path + (i,)) for p in ps), default=-1)
        return depth[i]

    order = sorted(seen, key=lambda i: (d(i), graph.nodes[i].column, graph.nodes[i].created, i))
    steps = []
    for i in order:
        n = graph.nodes[i]
        run = graph.runs.get(n.run) if n.run else None
        steps.append(Step(node=n, run=run, config=(run.config if run is not None else {}) or {},
                          key_config=key_config(run), figures=key_figures(n, run),
                          sources=corpus_sources(n, run) if n.kind in ("corpus", "dataset") else []))
    return Chain(target=target, steps=steps, evaluations=evaluations_of(graph, target.id))


def chain_markdown(ch: Chain, lang: str = "en") -> str:
    """The chain as markdown: one numbered item per step (stage, artifact, run, key config, key figures)."""
    L = lambda ko, en: ko if lang == "ko" else en  # noqa: E731
    lines = []
    for i, s in enumerate(ch.steps, 1):
        n = s.node
        stage = pick(dict(COLUMNS).get(n.stage, (n.stage, n.stage)), lang) if n.stage != "dataset" else \
            L("데이터셋", "dataset")
        kind = pick(KINDS.get(n.shown_kind, ((n.kind, n.kind), ""))[0], lang)
        run = f"{L('실행', 'run')} `{s.run_id}`" if s.run_id else L("실행 기록 없음 (스크립트로 등록)",
                                                                  "no recorded run (registered by a script)")
        head = f"{i}. **{stage}** · {kind} **{n.name}** (#{n.id}) · {run}"
        if not n.exists:
            head += L(" · ⚠ 파일 없음", " · ⚠ files missing")
        lines.append(head)
        if s.sources:
            lines.append(f"    - {L('원본 텍스트', 'raw text')}: " + "; ".join(f"`{x}`" for x in s.sources))
        if s.key_config:
            lines.append(f"    - {L('설정', 'config')}: " + ", ".join(f"`{k}={fmt_value(v)}`"
                                                                     for k, v in s.key_config.items()))
        if s.figures:
            lines.append(f"    - {L('주요 수치', 'key figures')}: " + ", ".join(f"{k} **{fmt_value(v)}**"
                                                                         for k, v in s.figures.items()))
    if ch.evaluations:
        lines.append("")
        lines.append(f"**{L('평가', 'Evaluations')}**")
        for e in ch.evaluations:
            figs = ", ".join(f"{k} **{fmt_value(v)}**" for k, v in e["figures"].items())
            lines.append(f"- {e['name']} (#{e['id']}, {e.get('benchmark') or e.get('task')}, n={e.get('n')}): {figs}"
                         + (f" · {L('실행', 'run')} `{e['run']}`" if e.get("run") else ""))
    return "\n".join(lines)


# -- the figure -------------------------------------------------------------------------------------------------
def positions(graph: Graph) -> dict[int, tuple[float, float]]:
    """x = lifecycle column; y = place in the column (oldest on top)."""
    pos, by_col = {}, {}
    for n in sorted(graph.nodes.values(), key=lambda n: (n.created, n.id)):
        by_col.setdefault(n.column, []).append(n.id)
    for col, ids in by_col.items():
        for j, i in enumerate(ids):
            pos[i] = (float(col), -float(j))
    return pos


def graph_figure(graph: Graph, lang: str = "ko", highlight: Chain | None = None):
    """A plotly figure of the graph. Each node's customdata is [artifact id, run id or ""]."""
    import plotly.graph_objects as go

    fig = go.Figure()
    if not graph.nodes:
        fig.add_annotation(text=pick(("아직 산출물이 없습니다.", "No artifacts yet."), lang), showarrow=False,
                           x=0.5, y=0.5, xref="paper", yref="paper")
        fig.update_layout(height=240, xaxis_visible=False, yaxis_visible=False, margin=dict(l=10, r=10, t=10, b=10))
        return fig
    pos = positions(graph)
    on = {s.node.id for s in highlight.steps} if highlight else set()
    for hot in (False, True):  # chain edges drawn last, on top
        xs, ys = [], []
        for p, c in graph.edges:
            if (p in on and c in on) != hot:
                continue
            (x0, y0), (x1, y1) = pos[p], pos[c]
            xs += [x0, x1, None]
            ys += [y0, y1, None]
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
                                     line=dict(color="#d62728" if hot else "#bbb", width=3 if hot else 1)))
    for p, c in graph.edges:  # arrow heads: parent -> child
        (x0, y0), (x1, y1) = pos[p], pos[c]
        fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                           arrowhead=2, arrowsize=1.2, arrowwidth=1, standoff=9, startstandoff=9, text="",
                           arrowcolor="#d62728" if (p in on and c in on) else "#999")
    for kind, ((ko, en), color) in KINDS.items():
        ns = [n for n in graph.nodes.values() if n.shown_kind == kind]
        if not ns:
            continue
        hover = []
        for n in ns:
            figs = key_figures(n, graph.runs.get(n.run) if n.run else None)
            lines = [f"<b>{n.name}</b> (#{n.id})", f"{pick((ko, en), lang)} · {n.stage}",
                     f"{pick(('실행', 'run'), lang)}: {n.run or '–'}"]
            lines += [f"{k}: {fmt_value(v)}" for k, v in list(figs.items())[:4]]
            if not n.exists:
                lines.append(pick(("⚠ 파일 없음", "⚠ files missing"), lang))
            hover.append("<br>".join(lines))
        fig.add_trace(go.Scatter(
            x=[pos[n.id][0] for n in ns], y=[pos[n.id][1] for n in ns], mode="markers+text",
            name=pick((ko, en), lang), text=[n.name if len(n.name) <= 18 else n.name[:17] + "…" for n in ns],
            textposition="bottom center", hovertext=hover, hoverinfo="text",
            customdata=[[n.id, n.run or ""] for n in ns],
            marker=dict(size=[20 if n.id in on else 14 for n in ns], color=color,
                        symbol=["circle" if n.exists else "x" for n in ns],
                        line=dict(width=[3 if n.id in on else 1 for n in ns],
                                  color=["#d62728" if n.id in on else "#333" for n in ns]))))
    used = sorted({n.column for n in graph.nodes.values()})
    rows = max(1, max(-y for _, y in pos.values()) + 1)
    fig.update_layout(height=int(min(900, 240 + 70 * rows)), margin=dict(l=10, r=10, t=30, b=40),
                      legend=dict(orientation="h", x=0, y=-0.02, yanchor="top"), plot_bgcolor="white",
                      xaxis=dict(tickmode="array", tickvals=used, ticktext=[pick(COLUMNS[c][1], lang) for c in used],
                                 range=[min(used) - 0.5, max(used) + 0.5], side="top", showgrid=False,
                                 zeroline=False),
                      yaxis=dict(visible=False, range=[-rows + 0.4, 0.6]))
    return fig


def artifact_choices(graph: Graph, kinds: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    """(label, id) of every artifact (of `kinds`), newest first, for a picker."""
    ns = sorted(graph.nodes.values(), key=lambda n: (-n.created, -n.id))
    return [(f"{n.name} · {n.shown_kind} · #{n.id}", str(n.id)) for n in ns if not kinds or n.kind in kinds]
