"""`rca-tui serve`: textual-serve limited to this machine.

The websocket drives a console that can sign transactions, so it only accepts a browser page served from here
(same-origin, local host); any other site a browser has open is refused. The page loads nothing from outside:
textual-serve's template asks Google for its font, ours uses the copy textual-serve ships.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import textual_serve
from aiohttp import web
from textual_serve.server import Server

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
OUTSIDE_FONT = '''    <link
      rel="stylesheet"
      href="https://fonts.googleapis.com/css?family=Roboto%20Mono"
    />'''
BUNDLED_FONT = '''    <style>
      @font-face { font-family: "Roboto Mono";
        src: url("{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf") format("truetype"); }
    </style>'''


def origin_is_local(origin: str | None, host: str) -> bool:
    """The page that opened the websocket came from this server (`host` as the request names it) on this machine."""
    if not origin:
        return False
    parts = urlsplit(origin)
    return parts.hostname in LOCAL_HOSTS and parts.netloc == host


class LocalServer(Server):
    def __init__(self, command: str, port: int, title: str, templates: Path):
        super().__init__(command, host="127.0.0.1", port=port, title=title, templates_path=templates)

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        if not origin_is_local(request.headers.get("Origin"), request.host):
            return web.Response(status=403, text="this console only accepts its own page on 127.0.0.1")
        return await super().handle_websocket(request)


def local_templates(directory: Path) -> Path:
    """textual-serve's page template with the outside font replaced by the bundled one."""
    page = (Path(textual_serve.__file__).parent / "templates" / "app_index.html").read_text()
    if OUTSIDE_FONT not in page:
        raise RuntimeError("textual-serve's page template changed; check it for outside requests")
    (directory / "app_index.html").write_text(page.replace(OUTSIDE_FONT, BUNDLED_FONT))
    return directory


def serve(command: str, port: int) -> None:
    with tempfile.TemporaryDirectory(prefix="rca-tui-serve-") as scratch:
        LocalServer(command, port, "rca-tui", local_templates(Path(scratch))).serve()
