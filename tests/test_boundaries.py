"""The layering, enforced: engine below (no Qt, no torch), app and trainer above it, neither importing the other."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_engine_imports_neither_qt_nor_torch():
    probe = ("import sys, faceid_gui.engine, faceid_gui.cli; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'torch', 'torchvision', 'trainer')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def _imports(folder: str) -> dict[str, set[str]]:
    """Every module each file under folder imports, relative imports resolved to absolute names."""
    found = {}
    for path in (ROOT / folder).rglob("*.py"):
        package = path.relative_to(ROOT).with_suffix("").parts[:-1]
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else ()
                module = ".".join((*base, node.module or ""))
                names |= {module.rstrip(".")} | {f"{module.rstrip('.')}.{a.name}" for a in node.names}
        found[str(path.relative_to(ROOT))] = names
    return found


def _offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{file}: {name}" for file, names in _imports(folder).items() for name in sorted(names)
            if name.split(".")[0] in forbidden or name.startswith(forbidden)]


def test_the_scan_sees_relative_imports():
    assert "faceid_gui.app.state.AppState" in _imports("faceid_gui/app")["faceid_gui/app/main.py"]


def test_trainer_never_imports_the_app():
    assert _offenders("trainer", ("faceid_gui.app", "PySide6")) == []


def test_app_and_engine_never_import_the_trainer():
    assert _offenders("faceid_gui", ("trainer", "torch")) == []


def test_engine_imports_nothing_above_it():
    assert _offenders("faceid_gui/engine", ("faceid_gui.app", "faceid_gui.cli", "PySide6", "trainer", "torch")) == []
