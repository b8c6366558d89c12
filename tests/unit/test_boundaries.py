"""The engine never imports the UI (textual, rich, typer), and `rca-tui --help` stays light."""
import subprocess
import sys


def test_engine_imports_no_ui_library():
    code = ("import sys, pkgutil, importlib, engine\n"
            "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
            "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
            "print(sorted(n for n in ('textual', 'rich', 'typer') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_cli_help_does_not_import_heavy_libraries():
    code = ("import sys\nfrom rca_tui.cli.main import app\n"
            "print(sorted(n for n in ('torch', 'transformers', 'textual', 'engine.chain') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
