"""The feature cache is keyed by the code that extracts the features: an edit there re-extracts them, so no fold
is trained on tensors the current code would not compute."""
from __future__ import annotations

import pytest

from engine.tamo import features


@pytest.mark.parametrize("edited", ["tamo/traces.py", "telemetry/ranking.py"])  # trace channels; the priors
def test_an_edit_to_the_feature_extraction_changes_the_cache_key(monkeypatch, tmp_path, edited):
    def code_version(*packages, edits=()):
        return str([path for path in edits if any(path.startswith(f"{package}/") for package in packages)])

    monkeypatch.setattr(features, "code_version", code_version)
    before = features.feature_key(tmp_path, "case-1")
    monkeypatch.setattr(features, "code_version", lambda *packages: code_version(*packages, edits=(edited,)))
    assert features.feature_key(tmp_path, "case-1") != before
