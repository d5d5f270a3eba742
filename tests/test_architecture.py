"""ARCHITECTURE.md stays true: its floor table places every part of the package, and no module
imports from a floor above its own (read from the source with ``ast``, lazy imports inside
functions included)."""
import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "snnzoo"
# API.md lists FeedbackEquilibrium (an IDE layer, floor 2) under snnzoo.layers (floor 1): the
# layers package and its deprecated module alias re-export the IDE layers, nothing else goes up.
ALLOWED_UP = {("snnzoo/layers/__init__.py", "ide"), ("snnzoo/layers/feedback_equilibrium.py", "ide")}


def floors():
    """{unit: floor} from the table of ARCHITECTURE.md (a unit: sub-package or top module)."""
    table = {}
    for line in (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|([^|]*)\|", line)
        if m:
            for unit in re.findall(r"`([A-Za-z_]+)`", m.group(2)):
                table[unit] = int(m.group(1))
    return table


def _unit(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _own_unit(path):
    rel = path.relative_to(PACKAGE)
    return "__init__" if rel.as_posix() == "__init__.py" else rel.parts[0].removesuffix(".py")


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def test_the_table_places_every_part_of_the_package():
    table = floors()
    units = {_own_unit(p) for p in PACKAGE.rglob("*.py")}
    assert len(table) >= 15 and set(table.values()) == set(range(7)), table
    assert units - set(table) == set(), f"not placed in ARCHITECTURE.md: {sorted(units - set(table))}"
    assert set(table) - units == set(), f"ARCHITECTURE.md names what does not exist: {sorted(set(table) - units)}"


def test_no_module_imports_from_a_floor_above_its_own():
    table = floors()
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _own_unit(path)
        rel = path.relative_to(REPO).as_posix()
        for line, module in _imports(path):
            if module.startswith("snnzoo."):
                target = _unit(module)
                if table[target] > table[own] and (rel, target) not in ALLOWED_UP:
                    upward.append(f"{rel}:{line} ({own}, floor {table[own]}) imports {module} (floor {table[target]})")
    assert not upward, "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path):
    """The walk above finds imports at any depth (a function-level import going up counts)."""
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from snnzoo.zoo import loader\n    import snnzoo.cli\n")
    assert list(_imports(src)) == [(2, "snnzoo.zoo"), (3, "snnzoo.cli")]
    assert floors()["zoo"] > floors()["layers"]
