"""MkDocs hook: tables generated at every build from their sources, so the pages cannot go stale.

* ``<!-- zoo-table -->``: the zoo, from the manifests ``zoo_weights/*.json`` (the registry's
  source of truth); a manifest that cannot be read fails the build with its file name.
* ``<!-- recipes-table -->``: the training recipes, from ``snnzoo.training.recipes.RECIPES``.
* ``<!-- cli-help -->``: ``snnzoo --help`` and every sub-command's help, from the CLI's parser.
* ``<!-- readme: TITLE -->``: the README section whose heading starts with TITLE (one copy of the
  text, in the README where a fresh clone shows it).
"""
import re
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "zoo_weights"
README_MARKER = re.compile(r"<!-- readme: (.+?) -->")
MARKER = "<!-- zoo-table -->"
RECIPES_MARKER = "<!-- recipes-table -->"
CLI_MARKER = "<!-- cli-help -->"


def _percent(value):
    return "–" if value is None else f"{value:.2f} %"


def _weights(spec):
    if spec is None:
        return "none (architecture only)"
    if "file" in spec:
        return f"shipped (`{spec['file']}`)"
    return f"external ([origin]({spec['origin']}), converted on first use)"


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def zoo_rows(folder=ZOO):
    """One dict per manifest, sorted by name."""
    rows = []
    for path in sorted(folder.glob("*.json")):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise RuntimeError(f"zoo table: cannot read manifest {path}: {err}") from err
        accuracy = entry.get("accuracy") or {}
        rows.append({
            "name": entry["name"],
            "dataset": entry.get("dataset") or "–",
            "T": entry["time_steps"],
            "method": entry.get("method") or "–",
            "claimed": _percent(accuracy.get("claimed")),
            "measured": _percent(accuracy.get("measured")),
            "measured_by": accuracy.get("measured_by") or {},
            "weights": _weights(entry["weights"]),
        })
    if not rows:
        raise RuntimeError(f"zoo table: no manifest in {folder}")
    return rows


def zoo_table(folder=ZOO):
    """The Markdown table of the zoo, then how each measured accuracy was obtained."""
    rows = zoo_rows(folder)
    lines = ["| name | data set | T | method | claimed (paper) | measured here | weights |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| " + " | ".join(_cell(c) for c in (
            f"`{r['name']}`", r["dataset"], r["T"], r["method"], r["claimed"], r["measured"],
            r["weights"])) + " |")
    measured = [r for r in rows if r["measured_by"]]
    if measured:
        lines += ["", "How the measured accuracies were obtained (from the manifests):", ""]
        for r in measured:
            by = r["measured_by"]
            text = f"- `{r['name']}`: {r['measured']}"
            if by.get("command"):
                text += f"; evaluation: `{by['command']}`"
            if by.get("training"):
                text += f"; training: {by['training']}"
            if by.get("date"):
                text += f" ({by['date']})"
            lines.append(text)
    return "\n".join(lines)


def recipes_table():
    """The Markdown table of the training recipes."""
    from snnzoo.training.recipes import RECIPES

    lines = ["| recipe | method | data set | T | epochs | batch | optimiser | source |",
             "|---|---|---|---|---|---|---|---|"]
    for name in sorted(RECIPES):
        r = RECIPES[name]
        opt = ", ".join(f"{k} {v}" for k, v in r.optimizer.items() if k != "name")
        opt = f"{r.optimizer.get('name', '')} ({opt})" if opt else r.optimizer.get("name", "")
        if r.chaos:
            opt += f"; chaos z0 {r.chaos['z0']}, β {r.chaos['beta']}/{r.chaos['every']}"
        lines.append("| " + " | ".join(_cell(c) for c in (
            f"`{name}`", r.method, r.dataset, r.time_steps, r.epochs, r.batch_size, opt,
            r.source)) + " |")
    return "\n".join(lines)


def cli_help():
    """``snnzoo --help`` and the help of every sub-command, as Markdown."""
    import argparse
    import os

    from snnzoo.cli import build_parser

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal width: fix it for the page
    parser = build_parser()
    parts = ["```text", parser.format_help().rstrip(), "```"]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                parts += ["", f"### `snnzoo {name}`", "", "```text", sub.format_help().rstrip(),
                          "```"]
    return "\n".join(parts)


def readme_section(title):
    """The body of the README section whose ``## `` heading starts with ``title``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}[^\n]*\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    if match is None:
        raise RuntimeError(f"docs: README.md has no section '## {title}'")
    return match.group(1).strip()


def on_page_markdown(markdown, page, config, files, **kwargs):
    markdown = README_MARKER.sub(lambda m: readme_section(m.group(1)), markdown)
    for marker, make in ((MARKER, zoo_table), (RECIPES_MARKER, recipes_table),
                         (CLI_MARKER, cli_help)):
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown


def on_serve(server, config, builder, **kwargs):
    server.watch(str(ZOO))
    return server
