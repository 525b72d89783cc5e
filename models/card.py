"""The model card (Markdown and self-contained HTML) and its plots, one per registered version."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from matplotlib.figure import Figure

from features.dictionary import get as feature

TEMPLATES = Path(__file__).resolve().parent / "templates"
SCORER_LABELS = {
    "model": "LightGBM (calibrated)",
    "efi": "eFI alone",
    "hfrs": "HFRS alone",
    "logistic": "Logistic regression",
}
PLOTS = ("calibration.png", "roc.png", "subgroup_auroc.png")


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def plot_calibration(curves: dict[str, Any], path: Path) -> None:
    """Observed against predicted risk in deciles of predicted risk, per cohort."""
    fig = Figure(figsize=(5.5, 5), dpi=100)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect")
    for cohort, marker in (("overall", "o"), ("housebound", "s")):
        bins = curves.get(cohort, {}).get("model", {}).get("calibration") or []
        if bins:
            ax.plot(
                [b["mean_predicted"] for b in bins],
                [b["observed_rate"] for b in bins],
                marker=marker,
                label=f"model, {cohort}",
            )
    ax.set_xlabel("predicted risk (decile mean)")
    ax.set_ylabel("observed rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("Calibration on the temporal hold-out")
    ax.legend(loc="upper left")
    fig.savefig(path)


def plot_roc(curves: dict[str, Any], path: Path, cohort: str = "housebound") -> None:
    """ROC curves of the model and the baselines in one cohort."""
    fig = Figure(figsize=(5.5, 5), dpi=100)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    for scorer, label in SCORER_LABELS.items():
        roc = curves.get(cohort, {}).get(scorer, {}).get("roc")
        if roc:
            ax.plot(roc["fpr"], roc["tpr"], label=label)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"ROC, {cohort} hold-out")
    if not ax.get_legend_handles_labels()[0]:
        # e.g. a small site's hold-out with outcomes of one kind only: no curve to draw
        ax.text(0.5, 0.5, "not estimable on this hold-out", ha="center", va="center")
    else:
        ax.legend(loc="lower right")
    fig.savefig(path)


def plot_subgroup_auroc(metrics: dict[str, Any], path: Path, cohort: str = "overall") -> None:
    """AUROC of the model and eFI alone in each subgroup level."""
    subgroups = metrics["cohorts"][cohort]["model"]["subgroups"]
    efi_sub = metrics["cohorts"][cohort]["efi"]["subgroups"]
    labels, model_auc, efi_auc = [], [], []
    for var, levels in subgroups.items():
        for level, vals in levels.items():
            labels.append(f"{var}: {level} (n={vals['n']})")
            model_auc.append(vals["auroc"] if vals["auroc"] is not None else 0.0)
            other = efi_sub.get(var, {}).get(level, {}).get("auroc")
            efi_auc.append(other if other is not None else 0.0)
    height = max(3.0, 0.3 * len(labels) + 1.0)
    fig = Figure(figsize=(7.5, height), dpi=100)
    ax = fig.subplots()
    pos = list(range(len(labels)))
    ax.barh([p + 0.2 for p in pos], model_auc, height=0.4, label="model")
    ax.barh([p - 0.2 for p in pos], efi_auc, height=0.4, label="eFI alone")
    ax.set_yticks(pos, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0.5, 1.0)
    ax.set_xlabel("AUROC (0 = not estimable)")
    ax.set_title(f"AUROC by subgroup, {cohort} hold-out")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)


def write_plots(metrics: dict[str, Any], plots_dir: Path) -> list[Path]:
    """Write the three PNGs; return their paths."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    plot_calibration(metrics["curves"], plots_dir / "calibration.png")
    plot_roc(metrics["curves"], plots_dir / "roc.png")
    plot_subgroup_auroc(metrics, plots_dir / "subgroup_auroc.png")
    return [plots_dir / name for name in PLOTS]


def _feature_rows(names: list[str]) -> list[dict[str, str]]:
    rows = []
    for name in names:
        desc, unit = "", ""
        try:
            feat = feature(name)
            desc, unit = feat.description, feat.unit
        except KeyError:
            pass
        rows.append({"name": name, "description": desc, "unit": unit})
    return rows


def sample_note(params: dict[str, Any]) -> str:
    """One sentence on the rows the trees grew on (the bounded training sample, fit.json)."""
    sample = params.get("sample") or {}
    if not sample:
        return "all fit-fold rows"
    used, available = sample["fit_rows_used"], sample["fit_rows_available"]
    bound = sample.get("max_fit_rows")
    if used >= available:
        limit = f" (bound: {bound:,} rows)" if bound else ""
        return f"all {available:,} fit-fold rows{limit}"
    return (
        f"{used:,} of the fit fold's {available:,} rows ({sample['fit_patients_used']:,} people; "
        f"at most {bound:,} rows): whole people in the order of a seeded hash, stratified by "
        "any outcome at the same rate, so the outcome rate is kept and no weights are needed"
    )


def card_context(metadata: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """Everything the templates show, pre-formatted."""
    perf = []
    for cohort, scorers in metrics["cohorts"].items():
        for scorer, m in scorers.items():
            top = m.get("top", {})
            perf.append(
                {
                    "cohort": cohort,
                    "scorer": SCORER_LABELS.get(scorer, scorer),
                    "n": m["n"],
                    "prevalence": _pct(m["prevalence"]),
                    "auroc": _fmt(m["auroc"]),
                    "auprc": _fmt(m["auprc"]),
                    "brier": _fmt(m["brier"]),
                    "slope": _fmt(m["calibration_slope"], 2),
                    "intercept": _fmt(m["calibration_intercept"], 2),
                    "ece": _fmt(m["ece"]),
                    "ppv5": _pct(top.get("top_5pct", {}).get("ppv")),
                    "sens5": _pct(top.get("top_5pct", {}).get("sensitivity")),
                    "ppv10": _pct(top.get("top_10pct", {}).get("ppv")),
                    "sens10": _pct(top.get("top_10pct", {}).get("sensitivity")),
                    "ppv20": _pct(top.get("top_20pct", {}).get("ppv")),
                    "sens20": _pct(top.get("top_20pct", {}).get("sensitivity")),
                }
            )
    net = []
    for cohort, scorers in metrics["cohorts"].items():
        for scorer, m in scorers.items():
            for t, vals in m.get("net_benefit", {}).items():
                net.append(
                    {
                        "cohort": cohort,
                        "scorer": SCORER_LABELS.get(scorer, scorer),
                        "threshold": t,
                        "model": _fmt(vals["model"], 4),
                        "treat_all": _fmt(vals["treat_all"], 4),
                    }
                )
    subgroups = []
    for cohort, scorers in metrics["cohorts"].items():
        for var, levels in scorers["model"]["subgroups"].items():
            for level, m in levels.items():
                efi = scorers["efi"]["subgroups"].get(var, {}).get(level, {})
                subgroups.append(
                    {
                        "cohort": cohort,
                        "variable": var,
                        "level": level,
                        "n": m["n"],
                        "prevalence": _pct(m["prevalence"]),
                        "auroc": _fmt(m["auroc"]),
                        "efi_auroc": _fmt(efi.get("auroc")),
                        "brier": _fmt(m["brier"]),
                        "mean_predicted": _pct(m["mean_predicted"]),
                        "slope": _fmt(m["calibration_slope"], 2),
                    }
                )
    params = metadata.get("params", {})
    lgbm = dict(params.get("settings", {}))
    if "max_bin" in params.get("lightgbm_params", {}):
        lgbm["max_bin"] = params["lightgbm_params"]["max_bin"]
    return {
        "meta": metadata,
        "performance": perf,
        "net_benefit": net,
        "subgroups": subgroups,
        "features": _feature_rows(metadata.get("feature_names", [])),
        "lgbm": lgbm,
        "sample": sample_note(params),
        "best_iteration": params.get("best_iteration"),
        "rows": params.get("rows", {}),
        "holdout": metrics.get("holdout", {}),
        "gate": metrics.get("gate", {}),
        "counts": metadata.get("training_counts", {}),
        "plots": PLOTS,
    }


def _env(autoescape: bool) -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html"]) if autoescape else False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def write_card(directory: Path, metadata: dict[str, Any], metrics: dict[str, Any]) -> None:
    """Write `plots/*.png`, `model_card.md` and `model_card.html` (plots embedded) into
    `directory`."""
    paths = write_plots(metrics, directory / "plots")
    ctx = card_context(metadata, metrics)
    md = _env(False).get_template("model_card.md.j2").render(**ctx)
    (directory / "model_card.md").write_text(md, encoding="utf-8")
    images = {p.name: base64.b64encode(p.read_bytes()).decode("ascii") for p in paths}
    html = _env(True).get_template("model_card.html.j2").render(**ctx, images=images)
    (directory / "model_card.html").write_text(html, encoding="utf-8")
