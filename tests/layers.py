"""The import contract of the package (issue 11), read from the source with ``ast``.

Layers, lowest first; a module may import its own layer and the layers below it, never one above:

    data <- signals <- strategies <- engine/run <- research <- report <- api <- cli

Core leaf modules (errors, paths, jsonplain, progress, metrics, bootstrap, _numba, constants, _callable and
the package root ``backtester`` itself) may be imported from anywhere. Every import counts, including those
inside functions (the lazy imports that keep ``hedge`` fast). ``python -m tests.layers [ROOT]`` prints the
violations (exit 1 when there are any); ``.ci/run`` runs it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("data", ("backtester.data",)),
    ("signals", ("backtester.signals",)),
    ("strategies", ("backtester.strategy", "backtester.strategies")),
    (
        "engine/run",
        (
            "backtester.engine",
            "backtester.costs",
            "backtester.run",
            "backtester.saved_runs",
            "backtester.now",
            "backtester.experiment",
        ),
    ),
    ("research", ("backtester.research",)),
    ("report", ("backtester.report",)),
    ("api", ("backtester.api",)),
    ("cli", ("backtester.cli",)),
]
LEAVES = (
    "errors", "paths", "jsonplain", "progress", "metrics", "bootstrap", "_numba", "constants", "_callable", "fsutil",
    "inert",
)  # fmt: skip
CORE = {"backtester", *(f"backtester.{m}" for m in LEAVES)}


def layer_of(module: str) -> int | None:
    """Rank of ``module`` (0 = data), or None for a core module or a module outside the package."""
    if module in CORE or not module.startswith("backtester"):
        return None
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file (relative imports resolved; ``from X import y``
    counts ``X.y`` when that is a module of the package, else ``X``)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                is_mod = (root / Path(*sub.split("."))).with_suffix(".py").is_file() or (
                    root / Path(*sub.split(".")) / "__init__.py"
                ).is_file()
                out.append((node.lineno, sub if is_mod else mod))
    return out


def violations(root: Path) -> list[str]:
    """Every upward import under ``root`` (the folder that holds the ``backtester`` package)."""
    root = Path(root)
    found = []
    for path in sorted((root / "backtester").rglob("*.py")):
        me = module_name(path, root)
        mine = layer_of(me)
        for line, mod in imports(path, root):
            theirs = layer_of(mod)
            if mine is None and me in CORE and mod.startswith("backtester") and mod not in CORE:
                found.append(f"{path.relative_to(root)}:{line}: core module {me} imports {mod}")
            elif mine is not None and theirs is not None and theirs > mine:
                found.append(
                    f"{path.relative_to(root)}:{line}: {me} ({LAYERS[mine][0]}) imports {mod} ({LAYERS[theirs][0]})"
                )
    return found


if __name__ == "__main__":
    bad = violations(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    print("\n".join(bad) or "import layers: ok")
    sys.exit(1 if bad else 0)
