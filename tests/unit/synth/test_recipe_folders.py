"""`eval fault-type --synthetic-seed`: the synthetic training folders are made from the dataset by a recorded
command, once, and a changed seed or generator makes new ones."""
from __future__ import annotations

from engine.evaluation.fault_type import recipe_folders
from engine.synth.provenance import how_made
from tests.unit.synth.conftest import DEMO, SERVICE


REAL_ROOTS = [("TrainTicket", SERVICE)]  # (system, root cause) of the real cases


def test_the_recipe_folders_are_made_once_per_seed_at_the_services_with_real_faults(tmp_path):
    folders = recipe_folders(DEMO, REAL_ROOTS, [5], tmp_path)
    assert len(folders) == 1 and folders[0].parent == tmp_path
    made_by = how_made(folders[0])
    assert "seed 5" in made_by and f"services {SERVICE}," in made_by and "system TrainTicket" in made_by
    written = (folders[0] / "cases.csv").stat().st_mtime_ns
    assert recipe_folders(DEMO, REAL_ROOTS, [5], tmp_path) == folders  # found, not made again
    assert (folders[0] / "cases.csv").stat().st_mtime_ns == written
    assert recipe_folders(DEMO, REAL_ROOTS, [6], tmp_path) != folders
