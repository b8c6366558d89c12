"""Incidents from real telemetry: the model, the loaders and the analysis the agents call."""
from engine.telemetry.dataset import list_cases, load_case

__all__ = ["list_cases", "load_case"]
