"""Console fixtures: a database holding the deterministic story run, and an app on it."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.clock import FixedClock
from rca_tui.app import RcaApp
from tests.tui.story import seed_keys, story_db


@pytest.fixture(scope="session")
def story_template(tmp_path_factory) -> tuple[Path, str]:
    db = tmp_path_factory.mktemp("story") / "story.db"
    return db, story_db(db)


def copy_db(template: Path, db: Path) -> Path:
    """A private copy of a template database and its keys (tests may tamper with it)."""
    import shutil
    import sqlite3

    source = sqlite3.connect(template)
    source.backup(target := sqlite3.connect(db))
    source.close()
    target.close()
    shutil.copytree(str(template) + ".keys", str(db) + ".keys")
    return db


@pytest.fixture
def story(tmp_path: Path, story_template) -> tuple[Path, str]:
    """A private copy of the story database (tests may tamper with it) and the story's run id."""
    template, run_id = story_template
    return copy_db(template, tmp_path / "story.db"), run_id


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory) -> Path:
    from tests.tui.attributed import tiny_model

    return tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def faulty_template(tmp_path_factory) -> tuple[Path, str]:
    from tests.tui.attributed import faulty_run_db

    db = tmp_path_factory.mktemp("faulty") / "faulty.db"
    return db, faulty_run_db(db)


@pytest.fixture(scope="session")
def attributed_template(tmp_path_factory, faulty_template, tiny_llm) -> tuple[Path, str, dict]:
    from tests.tui.attributed import attribute_and_slash

    template, run_id = faulty_template
    db = copy_db(template, tmp_path_factory.mktemp("attributed") / "attributed.db")
    return db, run_id, attribute_and_slash(db, run_id, tiny_llm, tmp_path_factory.mktemp("cache"))


@pytest.fixture
def attributed(tmp_path: Path, attributed_template) -> tuple[RcaApp, str, dict]:
    """An app on a private copy of a fault-injected run that was attributed and slashed; its run id; the payload."""
    template, run_id, payload = attributed_template
    db = copy_db(template, tmp_path / "attributed.db")
    return RcaApp(db, clock=FixedClock(), offer_demo=False), run_id, payload


@pytest.fixture
def faulty(tmp_path: Path, faulty_template, tiny_llm, isolated_cache) -> tuple[RcaApp, str]:
    """An app on a private copy of a fault-injected run not yet attributed, attributing with the tiny model."""
    template, run_id = faulty_template
    db = copy_db(template, tmp_path / "faulty.db")
    app = RcaApp(db, clock=FixedClock(), offer_demo=False)
    app.attribution_model = str(tiny_llm)
    return app, run_id


@pytest.fixture
def app(story) -> RcaApp:
    db, _ = story
    return RcaApp(db, clock=FixedClock(), offer_demo=False)


@pytest.fixture
def empty_app(tmp_path: Path):
    db = tmp_path / "empty.db"
    seed_keys(db)
    return RcaApp(db, clock=FixedClock(), offer_demo=False)


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
