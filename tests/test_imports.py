"""The shape of the imports: the audit writer is a leaf, and the benchmark folder is never
imported by the product (read from the source with ast, so a lazy import inside a function counts)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORTAL = ROOT / "portal"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function, relative imports resolved."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            names.update(arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str))
    return names


def test_the_audit_writer_imports_no_feature_package():
    """Every feature writes through portal.audit.service; were it to import a feature back (even
    lazily inside a function) the features would import each other in a circle."""
    allowed = {"portal.audit.models", "portal.database"}
    own = {name for name in imported_modules(PORTAL / "audit" / "service.py") if name.split(".")[0] == "portal"}
    # "from portal.audit.models import AuditEvent" also names portal.audit.models.AuditEvent
    features = {name for name in own if not any(name == a or name.startswith(a + ".") for a in allowed)}
    assert features == set(), f"the audit writer imports {sorted(features)}"
