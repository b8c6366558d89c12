"""Which ranking the Probability Oracle starts from: the bundled TAMO checkpoint and the stacked ranker fitted on its
out-of-fold scores are on by default only for the systems the checkpoint was trained on; elsewhere (PetShop, an
unknown system) the statistical ranking stays as it was, and 'none' turns both off."""
from __future__ import annotations

import pytest

from engine.agents.tools import Toolbox, choose_ranker
from engine.config import DEFAULT_STACKER, TAMO_CHECKPOINT

needs_bundled = pytest.mark.skipif(not (TAMO_CHECKPOINT.is_file() and DEFAULT_STACKER.is_file()),
                                   reason="no bundled TAMO checkpoint / stacked ranker")


@needs_bundled
@pytest.mark.parametrize("system", ["OnlineBoutique", "TrainTicket"])
def test_the_bundled_tamo_and_stacker_are_on_for_the_systems_the_checkpoint_knows(system):
    choice = choose_ranker("default", "default", system)
    assert (choice.tamo_checkpoint, choice.stacker) == (TAMO_CHECKPOINT, DEFAULT_STACKER)
    assert choice.description == f"stacked ranker {DEFAULT_STACKER.name} over the heuristic signals and TAMO T2 " \
                                 f"({TAMO_CHECKPOINT.name})"


@pytest.mark.parametrize("system", ["PetShop", "Tiny"])
def test_a_system_the_checkpoint_was_not_trained_on_keeps_the_statistical_ranking(system):
    choice = choose_ranker("default", "default", system)
    assert choice.tamo_checkpoint is None and choice.stacker is None and not choice.artefacts
    assert choice.description.startswith("statistical ranking (TAMO off")


def test_none_turns_tamo_and_the_stacker_off():
    choice = choose_ranker("none", "default", "TrainTicket")
    assert (choice.tamo_checkpoint, choice.stacker) == (None, None)
    assert choice.description == "statistical ranking (TAMO off)"
    assert choose_ranker("default", "none", "PetShop").stacker is None


def test_the_toolbox_offers_tamo_tools_only_where_tamo_is_on(incident):
    tools = Toolbox(incident, "default", "default")  # system "Tiny": not in the bundled checkpoint's manifest
    assert not any(spec.name.startswith("tamo") for spec in tools.specs)
    assert "stacked" not in tools.rank_candidates() and tools.ranker.startswith("statistical ranking")
