"""The served console: the websocket refuses pages from other origins, and the page loads nothing from outside."""
import asyncio
import re
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from rca_tui.serve import LocalServer, local_templates


def _exchange(tmp_path, path, headers=None, websocket=False):
    async def go():
        server = LocalServer("true", 0, "rca-tui", local_templates(tmp_path))
        async with TestClient(TestServer(await server._make_app())) as client:
            host = f"{client.host}:{client.port}"
            sent = {key: value.replace("HOST", host) for key, value in (headers or {}).items()}
            if websocket:
                socket = await client.ws_connect(path, headers=sent)
                await socket.close()
                return 101, ""
            response = await client.get(path, headers=sent)
            return response.status, await response.text()

    return asyncio.run(go())


@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1:1", None])
def test_a_websocket_from_another_origin_is_refused(tmp_path, origin):
    status, _ = _exchange(tmp_path, "/ws", {"Origin": origin} if origin else {})
    assert status == 403


def test_the_console_s_own_page_may_open_the_websocket(tmp_path):
    assert _exchange(tmp_path, "/ws", {"Origin": "http://HOST"}, websocket=True)[0] == 101


def test_the_page_requests_nothing_from_outside(tmp_path):
    status, page = _exchange(tmp_path, "/")
    assert status == 200 and "Roboto Mono" in page
    linked = re.findall(r"""(?:src|href|url)\(?=?["']([^"']+)""", page)
    assert linked and all(urlsplit(url).hostname in (None, "127.0.0.1") for url in linked), linked
    assert "googleapis" not in page
