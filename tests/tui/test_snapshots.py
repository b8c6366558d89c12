"""Every screen at 80×24 and 120×40, on the deterministic story run (fixed clock, seeded keys, run ids from the
database). Update with `--snapshot-update` only after looking at the SVGs in tests/tui/__snapshots__/."""
from __future__ import annotations

import pytest

from tests.tui.helpers import settle

SCREENS = {
    "console": (),
    "explorer": ("2", "tab", "p"),
    "graph": ("3",),
    "replay": ("4", "right_square_bracket") + ("right_square_bracket",) * 14,
    "runs": ("5",),
    "help": ("f1",),
}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare, app, screen, size):
    async def run_before(pilot):
        await settle(pilot)
        for key in SCREENS[screen]:
            await pilot.press(key)
            await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
