"""The RCA engine: ledger, contracts, agents, TAMO tools and failure attribution. It never imports the UI."""
import os

# torch's OpenMP threads spin while they wait for work. On a 2-core box where another process holds one core, two
# spinning threads made one SLM forward pass 6x slower (11.9 s instead of 2.1 s, engine.attribution.bench).
# Passive waiting avoids that. libgomp reads this once, when torch is first imported, so it is set here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
