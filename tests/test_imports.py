"""The shape of the imports: the audit writer is a leaf, and the benchmark folder is never
imported by the product (read from the source with ast, so a lazy import inside a function counts)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("module", ["service", "merkle", "signing", "sealer", "verify", "proof"])
def test_the_audit_writer_imports_no_feature_package(module):
    """Every feature writes through portal.audit.service; were it to import a feature back (even
    lazily inside a function) the features would import each other in a circle. The sealer, the
    verifier and the proofs stay as small: the log's own modules and the database only."""
    allowed = {"portal.audit.models", "portal.database", "portal.audit.merkle", "portal.audit.signing"}
    allowed |= {"portal.audit.service", "portal.audit.sealer"}
    own = {name for name in imported_modules(PORTAL / "audit" / f"{module}.py") if name.split(".")[0] == "portal"}
    # "from portal.audit.models import AuditEvent" also names portal.audit.models.AuditEvent;
    # "from portal.audit import merkle" names the package, whose __init__ is a docstring.
    own.discard("portal.audit")
    features = {name for name in own if not any(name == a or name.startswith(a + ".") for a in allowed)}
    assert features == set(), f"portal.audit.{module} imports {sorted(features)}"


def test_the_portal_never_imports_the_benchmark_folder():
    """bench/ uses the portal (portal.demodata) for its loads; the product never imports bench/."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path) if name.split(".")[0] == "bench")
        for path in sorted(PORTAL.rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_only_seed_demo_demo_mode_and_bench_import_the_demo_package():
    """The request path never imports portal.demodata: the CLI imports it inside its command, the
    demo-mode views import only its demo_mode module, inside the view, and only when demo mode is on.
    The test kit (portal.testing), which no request imports, seeds the demo for tests."""
    allowed = {
        "portal/cli.py": {"portal.demodata.seed", "portal.demodata.clinic_day"},
        "portal/auth/views.py": {"portal.demodata.demo_mode"},
        "portal/notify/views.py": {"portal.demodata.demo_mode"},
        "portal/testing/database.py": {"portal.demodata.seed"},
        "portal/testing/people.py": {"portal.demodata.seed", "portal.demodata.people"},
    }
    found = {}
    for path in sorted(PORTAL.rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if name.startswith("portal/demodata/"):
            continue
        modules = {m.rsplit(".", 1)[0] if m.count(".") > 2 else m for m in imported_modules(path)}
        demo = {m for m in modules if m == "portal.demodata" or m.startswith("portal.demodata.")}
        if demo:
            found[name] = demo
    assert found == allowed
    # ... and inside functions, never at the top of the module.
    for name in allowed:
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        top = [n for n in tree.body if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("portal.demodata")]
        assert top == [], name


SERVE_PAGES = """
import json, sys
from portal import create_app

app = create_app({"TESTING": True, "DATABASE_URL": sys.argv[1], "SECRET_KEY": "x" * 32,
                  "INSTANCE_PATH": sys.argv[2], "DEMO_MODE": sys.argv[3] == "demo"})
client = app.test_client()
statuses = {path: client.get(path).status_code for path in sys.argv[4:]}
loaded = sorted(m for m in sys.modules if m == "bench" or m.startswith(("bench.", "portal.demodata")))
print(json.dumps({"statuses": statuses, "loaded": loaded}))
"""
PAGES = ["/", "/auth/sign-in", "/accessibility", "/privacy", "/card/1/summary", "/no-such-page"]


@pytest.mark.parametrize("mode", ["production", "demo"])
def test_serving_pages_loads_neither_the_demo_data_nor_bench(database_url, tmp_path, mode):
    """A fresh interpreter imports the app and serves pages (with demo mode on, the sign-in page
    lists the demo accounts): the generator and bench/ are never loaded, and without demo mode no
    part of portal.demodata is."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", SERVE_PAGES, database_url, str(tmp_path / "instance"), mode, *PAGES],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["statuses"]["/"] == 200 and served["statuses"]["/no-such-page"] == 404
    assert served["statuses"]["/auth/sign-in"] == 200
    if mode == "demo":
        assert set(served["loaded"]) <= {"portal.demodata", "portal.demodata.demo_mode", "portal.demodata.people"}
        assert "portal.demodata.demo_mode" in served["loaded"]  # the sign-in page did list them
    else:
        assert served["loaded"] == []
