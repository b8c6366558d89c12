"""`rca-tui chain …`: blocks, block, tx, proof, verify, bench."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rca_tui.cli.common import DbOption, ExitCode, JsonOption, emit_json, fail, out, print_table, resolve_db

app = typer.Typer(help="Block explorer and ledger checks.", no_args_is_help=True)


def _session(db: Path | None):
    from engine.runs.session import Session

    return Session(resolve_db(db))


@app.command()
def blocks(db: DbOption = None, json_out: JsonOption = False,
           limit: Annotated[int, typer.Option(help="Newest N blocks.")] = 20) -> None:
    """Blocks, newest first: height, hash, prev hash, Merkle root, tx count, time."""
    from engine.runs.session import iso_time

    session = _session(db)
    rows = session.blocks(limit)
    if json_out:
        emit_json(rows)
        return
    for row in rows:
        row["hash"], row["prev_hash"], row["merkle_root"] = (row[k][:16] for k in ("hash", "prev_hash", "merkle_root"))
        row["time"] = iso_time(row["timestamp"])
    print_table(rows, ["height", "hash", "prev_hash", "merkle_root", "tx_count", "time"], title="Blocks")


@app.command()
def block(height: int, db: DbOption = None, json_out: JsonOption = False) -> None:
    """One block with its transactions."""
    session = _session(db)
    found = session.block(height)
    if found is None:
        fail(f"no block at height {height} (tip is {session.height})", ExitCode.NOT_FOUND)
    names = session.names()
    data = {**found.to_dict(), "transactions": [
        {"hash": tx.hash, "tx_type": tx.tx_type, "sender": names.get(tx.sender, tx.sender), "nonce": tx.nonce,
         "gas_limit": tx.gas_limit} for tx in found.transactions]}
    if json_out:
        emit_json(data)
        return
    out(f"block #{height} hash {data['hash']}\n  prev {data['prev_hash']}\n  merkle {data['merkle_root']}")
    print_table(data["transactions"], ["hash", "tx_type", "sender", "nonce", "gas_limit"], title=f"Block #{height}")


@app.command()
def tx(tx_hash: Annotated[str, typer.Argument(metavar="HASH", help="Full hash or a unique prefix.")],
       db: DbOption = None, json_out: JsonOption = False) -> None:
    """One transaction: type, sender, nonce, gas, payload, receipt, events."""
    session = _session(db)
    full = _resolve_tx(session, tx_hash)
    transaction, receipt, height = session.tx(full)
    names = session.names()
    data = {**transaction.to_dict(), "sender_name": names.get(transaction.sender), "block_height": height,
            "receipt": receipt.to_dict()}
    emit_json(data) if json_out else print_table([{"field": k, "value": v} for k, v in data.items()],
                                                 ["field", "value"], title=f"tx {full[:16]}")


@app.command()
def proof(tx_hash: Annotated[str, typer.Argument(metavar="TX_HASH")], db: DbOption = None,
          json_out: JsonOption = False) -> None:
    """Merkle inclusion proof of a transaction, verified against the block's stored root."""
    from engine.chain.merkle import proof_path, verify_proof

    session = _session(db)
    full = _resolve_tx(session, tx_hash)
    merkle_proof, stored_root, height = session.proof(full)
    ok = verify_proof(merkle_proof, stored_root)
    data = {**merkle_proof.to_dict(), "block_height": height, "stored_root": stored_root, "verified": ok,
            "path": proof_path(merkle_proof)}
    if json_out:
        emit_json(data)
    else:
        out(f"tx {full} in block #{height}, position {merkle_proof.index}")
        for level, node in enumerate(data["path"]):
            out(f"  {'leaf' if level == 0 else f'level {level}'}: {node}")
        out(f"  stored root: {stored_root}  {'✓ verified' if ok else '✗ does NOT match'}")
    if not ok:
        raise typer.Exit(int(ExitCode.VERIFY_FAILED))


@app.command()
def verify(db: DbOption = None, json_out: JsonOption = False,
           expect_genesis: Annotated[str | None, typer.Option(help="Block 0 must have this hash.")] = None,
           expect_head: Annotated[str | None, typer.Option(help="The newest block must have this hash.")] = None,
           ) -> None:
    """Re-check the whole chain from genesis, read-only: seals, links, Merkle roots, signatures, nonces,
    re-executed receipts and state roots, and the genesis and head pinned beside the keys."""
    from engine.runs.session import verify_database

    report = verify_database(resolve_db(db, create=False), expect_genesis, expect_head)
    if json_out:
        emit_json(report.to_dict())
    else:
        out(f"checked {report.blocks} blocks, {report.transactions} txs in {report.seconds:.2f} s")
        for finding in report.findings:
            where = "" if finding.height is None else f"block {finding.height}: "
            out(f"  {where}{finding.what}: {finding.detail}")
        out("chain OK" if report.ok else f"chain FAILED verification ({len(report.findings)} findings)")
    if not report.ok:
        raise typer.Exit(int(ExitCode.VERIFY_FAILED))


@app.command()
def bench(txs: Annotated[int, typer.Option("--txs", help="Signed transfers to push through.")] = 5000,
          block_size: Annotated[int, typer.Option(help="Transactions per block.")] = 500,
          verify_chain: Annotated[bool, typer.Option("--verify/--no-verify", help="Also time `chain verify`.")]
          = True,
          json_out: JsonOption = False) -> None:
    """Throughput of admission + execution + mining, and of full-chain verification (temporary database)."""
    import tempfile

    from engine.ledger.bench import bench_ledger

    with tempfile.TemporaryDirectory() as tmp:
        result = bench_ledger(Path(tmp) / "bench.db", txs, block_size, verify_chain)
    if json_out:
        emit_json(result)
        return
    t = result["throughput"]
    out(f"{t['transactions']} signed transfers: {t['tx_per_second']} tx/s admitted+executed+mined "
        f"({t['signature_backend']}; with a free core each {t['tx_per_second_on_free_cores']} tx/s); sealing "
        f"{100 * t['sealing_share']:.1f} % of it ({t['tx_per_second_without_sealing']} tx/s without)")
    out(f"raw signature checks: {t['raw_verify_per_second']} /s (one process; {t['raw_verify_per_cpu_second']} per "
        "CPU second)")
    if verify_chain:
        v = result["verify"]
        out(f"chain verify: {v['tx_per_second']} tx/s, {v['ratio_to_raw_signature_checks']} of raw "
            f"({v['signature_processes']} signature processes beside this one; with a free core each "
            f"{v['tx_per_second_on_free_cores']} tx/s, {v['ratio_on_free_cores']} of raw)")
    out(f"load average {result['load_average_before'][0]:.2f} before, {result['load_average_after'][0]:.2f} after")


def _resolve_tx(session, prefix: str) -> str:
    matches = session.find_txs(prefix, limit=2)
    if not matches:
        fail(f"no transaction with hash starting {prefix!r}", ExitCode.NOT_FOUND)
    if len(matches) > 1 and matches[0] != prefix:
        fail(f"hash prefix {prefix!r} is ambiguous; give more characters", ExitCode.USAGE)
    return matches[0]
