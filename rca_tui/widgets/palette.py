"""Colours for things the CSS cannot reach (log lines, graph cells), read from the current theme's variables."""
from __future__ import annotations

from rich.style import Style
from textual.app import App

from engine.agents.roles import AGENT_KEYS
from rca_tui.formatting import short_agent

AGENT_VARIABLES = ("primary", "secondary", "accent", "warning", "success", "error", "foreground")
MUTED_VARIABLE = "foreground-muted"


def theme_style(app: App, variable: str, bold: bool = False, reverse: bool = False) -> Style:
    """A Rich style coloured by a theme variable (`primary`, `error`, ...); plain when the theme lacks it."""
    value = theme_variables(app).get(variable)
    return Style(color=_solid(value), bold=bold, reverse=reverse)


_VARIABLES_BY_THEME: dict[str, dict[str, str]] = {}


def theme_variables(app: App) -> dict[str, str]:
    """The theme's CSS variables, computed once per theme (computing them is far too slow per log line)."""
    if app.theme not in _VARIABLES_BY_THEME:
        _VARIABLES_BY_THEME[app.theme] = app.get_css_variables()
    return _VARIABLES_BY_THEME[app.theme]


SHORT_AGENTS = tuple(short_agent(key) for key in AGENT_KEYS)


def agent_style(app: App, agent: str) -> Style:
    """The agent's colour; `agent` may be the role key or its short name."""
    name = short_agent(agent)
    if name in SHORT_AGENTS:
        return theme_style(app, AGENT_VARIABLES[SHORT_AGENTS.index(name) % len(AGENT_VARIABLES)], bold=True)
    return theme_style(app, MUTED_VARIABLE)


def _solid(value: str | None) -> str | None:
    """Theme colours may carry alpha (`#rrggbbaa`) or be `ansi_*`; Rich wants a plain colour."""
    if not value:
        return None
    if value.startswith("#") and len(value) == 9:
        return value[:7]
    return value.replace("ansi_", "") if value.startswith("ansi_") else value
