"""Remappable keys: a TOML file maps binding ids (`app.demo`, `runs.attribute`, see `rca-tui keys`) to keys.

    # ~/.config/rca-tui/keymap.toml (or $RCA_TUI_KEYMAP)
    "app.demo" = "ctrl+d"          # a quoted id ...
    runs.attribute = ["a", "b"]    # ... or a dotted one; a list (or "a,b") binds several keys

The console hands the result to Textual's `App.set_keymap`, so the footers, F1 help and the command palette show the
new keys. A file that cannot be read, is not TOML, names an unknown id or gives something other than keys is
rejected as a whole: every problem is reported (file and id) and the default keys stay.

`read_keymap` is plain data in, plain data out (no Textual); `binding_catalogue` imports the console's screens.
"""
from __future__ import annotations

import difflib
import importlib
import pkgutil
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class KeyBinding:
    """One remappable binding: its id, its default key(s) as a keymap file writes them, where it works, what it does."""
    id: str
    key: str
    where: str
    description: str
    help: str
    display: str | None = None  # the binding's own key_display ("⏎", "/"), not part of a listing row

    def row(self) -> dict:
        return {name: value for name, value in asdict(self).items() if name != "display"}


def binding_catalogue() -> list[KeyBinding]:
    """Every binding with an id in the console (the app, each screen, each widget), in module order."""
    from textual.binding import Binding
    from textual.dom import DOMNode

    import rca_tui.screens
    import rca_tui.widgets

    modules = [importlib.import_module("rca_tui.app")]
    for package in (rca_tui.screens, rca_tui.widgets):
        modules += [importlib.import_module(f"{package.__name__}.{info.name}")
                    for info in pkgutil.iter_modules(package.__path__)]
    found: dict[str, KeyBinding] = {}
    for module in modules:
        for cls in vars(module).values():
            if not (isinstance(cls, type) and issubclass(cls, DOMNode) and cls.__module__ == module.__name__):
                continue
            where = "everywhere" if cls.__name__ == "RcaApp" else cls.__name__
            for binding in cls.__dict__.get("BINDINGS", []):
                if isinstance(binding, Binding) and binding.id and binding.id not in found:
                    found[binding.id] = KeyBinding(binding.id, binding.key, where, binding.description,
                                                   binding.tooltip or binding.description, binding.key_display)
    return list(found.values())


def read_keymap(path: Path, known_ids: set[str]) -> tuple[dict[str, str], list[str]]:
    """The keymap in `path` as {binding id: "key,key"} and the problems found; with any problem the keymap is
    empty (the defaults stay). A missing file is no keymap and no problem."""
    if not path.exists():
        return {}, []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [f"{path}: cannot be read ({exc})"]
    except tomllib.TOMLDecodeError as exc:
        return {}, [f"{path}: not valid TOML ({exc})"]
    keymap: dict[str, str] = {}
    problems: list[str] = []
    for binding_id, value in _flatten(data).items():
        if binding_id not in known_ids:
            close = difflib.get_close_matches(binding_id, sorted(known_ids), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(f"{path}: unknown binding id {binding_id!r} ({hint}`rca-tui keys` lists them)")
            continue
        keys = _keys(value)
        if keys is None:
            problems.append(f"{path}: {binding_id} = {value!r}: expected a key such as \"x\" or \"ctrl+r\", "
                            f"a list of keys, or \"x,ctrl+r\"")
            continue
        keymap[binding_id] = ",".join(keys)
    return ({} if problems else keymap), problems


def _flatten(data: dict, prefix: str = "") -> dict[str, object]:
    """`app.demo = "x"` parses as {"app": {"demo": "x"}}; `"app.demo" = "x"` as {"app.demo": "x"}: both are app.demo."""
    flat: dict[str, object] = {}
    for name, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _keys(value: object) -> list[str] | None:
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else None
    if not items or not all(isinstance(item, str) for item in items):
        return None
    keys = [item.strip() for item in items]
    if not all(keys) or any(" " in key for key in keys):
        return None
    return keys


def starter_file(catalogue: list[KeyBinding]) -> str:
    """A keymap file with every binding commented out at its default key, grouped by where it works."""
    lines = ["# rca-tui keymap: uncomment a line and change its key (several: [\"a\", \"ctrl+a\"]).",
             "# Key names as Textual writes them: \"x\", \"ctrl+r\", \"f5\", \"slash\", \"enter\", \"space\"."]
    where = None
    for binding in catalogue:
        if binding.where != where:
            where = binding.where
            lines += ["", f"# {where}"]
        lines.append(f'# "{binding.id}" = "{binding.key}"  # {binding.description}')
    return "\n".join(lines) + "\n"
