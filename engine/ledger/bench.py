"""Ledger throughput: signed transfers admitted + executed + mined per second, and chain verification speed."""
from __future__ import annotations

import os
import random
import time
from pathlib import Path

from engine.chain import crypto
from engine.chain.crypto import PrivateKey
from engine.ledger.anchor import Anchor
from engine.ledger.chain import Chain
from engine.ledger.signatures import signature_processes
from engine.ledger.verify import Expected, verify_chain
from engine.clock import FixedClock
from engine.store.db import open_db

BENCH_ACCOUNTS = 64


def build_funded_chain(db_path: Path, accounts: int = BENCH_ACCOUNTS) -> tuple[Chain, list[PrivateKey]]:
    keys = [PrivateKey.from_seed(f"bench-{i}") for i in range(accounts)]
    chain = Chain(open_db(db_path), Anchor.beside(db_path), clock=FixedClock())
    authority = PrivateKey.from_seed("bench-authority")
    chain.create_genesis({k.address: 10**12 for k in keys}, authority.address, [])
    return chain, keys


def signed_transfers(chain: Chain, keys: list[PrivateKey], count: int, seed: int = 7) -> list:
    rng = random.Random(seed)
    txs = []
    first_nonce = {key.address: chain.next_nonce(key.address) for key in keys}
    for i in range(count):
        key = keys[i % len(keys)]
        target = keys[rng.randrange(len(keys))].address
        payload = {"to": target, "amount": rng.randint(1, 1000)}
        txs.append(chain.build_tx(key, "token.transfer", payload, nonce=first_nonce[key.address] + i // len(keys)))
    return txs


def bench_throughput(db_path: Path, count: int, block_size: int = 500) -> dict:
    """Admission + execution + mining of `count` signed transfers, `block_size` per block. The CPU of the main
    process and of the process checking signatures ahead of it are apart: the busier of them says what the rate
    would be with a free core each (`tx_per_second_on_free_cores`), on a machine others load."""
    chain, keys = build_funded_chain(db_path)
    started = time.perf_counter()
    txs = signed_transfers(chain, keys, count)
    signing = time.perf_counter() - started
    started, cpu_started = time.perf_counter(), os.times()
    for _, rejected in chain.mine_batches(txs[start:start + block_size] for start in range(0, count, block_size)):
        if rejected:
            raise RuntimeError(f"the bench's own transfers were refused: {rejected[0]}")
    elapsed, (main, workers) = time.perf_counter() - started, _cpu_since(cpu_started)
    raw, raw_cpu = _raw_verify_rates(txs)
    sealing = _sealing_seconds(chain, chain.height, db_path.parent / "sealing-probe")
    return {"transactions": count, "block_size": block_size, "blocks": chain.height,
            "signature_backend": crypto.BACKEND, "sign_per_second": round(count / signing, 1),
            "seconds": round(elapsed, 3), "tx_per_second": round(count / elapsed, 1),
            "cpu_seconds": round(main + workers, 3), "main_process_cpu_seconds": round(main, 3),
            "signature_processes_cpu_seconds": round(workers, 3),
            "tx_per_cpu_second": round(count / (main + workers), 1),
            "tx_per_second_on_free_cores": round(count / max(main, workers / signature_processes()), 1),
            "raw_verify_per_second": raw, "raw_verify_per_cpu_second": raw_cpu, "sealing_seconds": round(sealing, 4),
            "sealing_share": round(sealing / elapsed, 4),
            "tx_per_second_without_sealing": round(count / (elapsed - sealing), 1)}


def _cpu_since(started: os.times_result) -> tuple[float, float]:
    """CPU seconds since `started` of this process, and of the child processes that ended meanwhile."""
    ended = os.times()
    return (ended.user + ended.system - started.user - started.system,
            ended.children_user + ended.children_system - started.children_user - started.children_system)


def _raw_verify_rates(txs: list) -> tuple[float, float]:
    """libsecp256k1 alone, on one thread: one signature check per tx, nothing else; per second and per CPU
    second."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for tx in txs:
        crypto.verify(tx.public_key, tx.signature, tx.signing_digest())
    return (round(len(txs) / (time.perf_counter() - started), 1),
            round(len(txs) / (time.process_time() - cpu_started), 1))


def _sealing_seconds(chain: Chain, blocks: int, probe: Path) -> float:
    """What sealing adds to mining `blocks` blocks: looking up the events to commit, one signature over the block
    hash and their root, and one write of the pinned head (into a probe anchor, so the real pin stays put)."""
    anchor = Anchor(probe)
    anchor.pin_genesis(chain.tip_hash, chain.tip_hash)
    started = time.perf_counter()
    for height in range(1, blocks + 1):
        chain.seal(chain.tip_hash, chain.pending_commitment()[2])
        anchor.advance(height, chain.tip_hash)
    return time.perf_counter() - started


def bench_verify(db_path: Path) -> dict:
    """`cpu_seconds` counts this process and the worker processes that checked signatures; the busiest of them
    says what the rate would be with a free core each (`tx_per_second_on_free_cores`), on a machine others load."""
    started = os.times()
    report = verify_chain(open_db(db_path), Expected(pin=Anchor.beside(db_path).pin()))
    main, workers = _cpu_since(started)
    busiest = max(main, workers / max(report.signature_processes, 1))
    return {**report.to_dict(), "signature_backend": crypto.BACKEND, "cpu_seconds": round(main + workers, 3),
            "main_process_cpu_seconds": round(main, 3), "signature_processes_cpu_seconds": round(workers, 3),
            "tx_per_cpu_second": round(report.transactions / (main + workers), 1),
            "tx_per_second_on_free_cores": round(report.transactions / busiest, 1)}


def bench_ledger(db_path: Path, count: int, block_size: int, verify: bool) -> dict:
    """Mining, then (with `verify`) verifying the chain it mined, each against the raw signature-check rate of the
    same run: one process, one libsecp256k1 check per tx and nothing else."""
    result = {"load_average_before": list(os.getloadavg()), "throughput": bench_throughput(db_path, count, block_size)}
    if verify:
        raw, verified = result["throughput"], bench_verify(db_path)
        verified.pop("findings")
        verified["ratio_to_raw_signature_checks"] = round(verified["tx_per_second"] / raw["raw_verify_per_second"], 3)
        verified["ratio_on_free_cores"] = round(verified["tx_per_second_on_free_cores"]
                                                / raw["raw_verify_per_cpu_second"], 3)
        result["verify"] = verified
    result["load_average_after"] = list(os.getloadavg())
    return result
