"""The RCA engine: ledger, contracts, agents, TAMO tools and failure attribution. It never imports the UI."""
from engine.config import apply_runtime_defaults

apply_runtime_defaults()  # before anything imports torch: libgomp and transformers read these once
