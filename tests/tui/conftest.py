"""Console fixtures: a database holding the deterministic story run, and an app on it."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.clock import FixedClock
from rca_tui.app import RcaApp
from tests.tui.story import counted_run_ids, seed_keys, story_db


@pytest.fixture(scope="session")
def story_template(tmp_path_factory) -> tuple[Path, str]:
    db = tmp_path_factory.mktemp("story") / "story.db"
    return db, story_db(db)


@pytest.fixture
def story(tmp_path: Path, story_template) -> tuple[Path, str]:
    """A private copy of the story database (tests may tamper with it) and the story's run id."""
    import shutil
    import sqlite3

    template, run_id = story_template
    db = tmp_path / "story.db"
    source = sqlite3.connect(template)
    source.backup(target := sqlite3.connect(db))
    source.close()
    target.close()
    shutil.copytree(str(template) + ".keys", str(db) + ".keys")
    return db, run_id


@pytest.fixture
def app(story) -> RcaApp:
    db, _ = story
    with counted_run_ids():
        return RcaApp(db, clock=FixedClock(), offer_demo=False)


@pytest.fixture
def empty_app(tmp_path: Path):
    db = tmp_path / "empty.db"
    seed_keys(db)
    with counted_run_ids():
        yield RcaApp(db, clock=FixedClock(), offer_demo=False)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests on a fresh event loop (no asyncio plugin is a dependency of the project)."""
    import asyncio
    import inspect

    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True
