"""Markup for the explorer's detail pane: a block, a transaction, a Merkle proof checked for real, a verify report."""
from __future__ import annotations

import json
import time

from textual.markup import escape

from engine.chain import merkle
from engine.chain.types import Block, Receipt, Transaction


def clock_text(timestamp_ms: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(timestamp_ms / 1000))


def block_markup(block: Block) -> str:
    header = block.header
    return "\n".join([
        f"[b]Block #{header.height}[/b]  {header.tx_count} tx  {clock_text(header.timestamp)} UTC",
        f"hash        {header.hash}", f"prev hash   {header.prev_hash}", f"merkle root {header.merkle_root}",
        f"state root  {header.state_root}",
    ])


def tx_markup(tx: Transaction, receipt: Receipt, height: int, names: dict[str, str]) -> str:
    status_colour = "$success" if receipt.ok else "$error"
    lines = [
        f"[b]{escape(tx.tx_type)}[/b]  [{status_colour}]{receipt.status}[/]  block #{height}",
        f"hash    {tx.hash}", f"sender  {escape(names.get(tx.sender, tx.sender))} ({tx.sender[:12]}…)",
        f"nonce   {tx.nonce}   gas limit {tx.gas_limit}  used {receipt.gas_used}  charged {receipt.gas_charged}",
    ]
    if receipt.revert_reason:
        lines.append(f"[$error]revert: {escape(receipt.revert_reason)}[/]")
    lines.append("[b]payload[/b]")
    lines.append(escape(json.dumps(tx.payload, indent=1, default=str)[:1500]))
    lines.append(f"[b]events[/b] ({len(receipt.events)})")
    lines += [f"• {escape(e.contract)}.{escape(e.name)} {escape(json.dumps(e.data, default=str)[:200])}"
              for e in receipt.events]
    return "\n".join(lines)


def proof_markup(proof: merkle.MerkleProof, stored_root: str, height: int) -> str:
    """The path from the tx's leaf to the root, each hop with its sibling, then the verdict of `verify_proof`."""
    path = merkle.proof_path(proof)
    ok = merkle.verify_proof(proof, stored_root)
    lines = [f"[b]Merkle proof[/b] of tx {proof.tx_hash[:12]}…", f"block #{height}, leaf {proof.index}",
             f"  leaf  {path[0][:16]}…"]
    for step, running in zip(proof.steps, path[1:]):
        lines.append(f"   │ + {step.side} {step.sibling[:12]}…")
        lines.append(f"   ▼ = {running[:16]}…")
    lines.append(f"  root  {path[-1][:16]}…")
    lines.append(f"stored  {stored_root[:16]}…")
    lines.append("[$success]✓ the proof reaches the block's Merkle root[/]" if ok
                 else "[$error]✗ the proof does NOT reach the block's Merkle root: tampered[/]")
    return "\n".join(lines)


def verify_markup(report: dict) -> str:
    head = (f"[$success]✓ chain verified[/]: {report['blocks']} blocks, {report['transactions']} txs re-executed "
            f"in {report['seconds']} s" if report["ok"] else
            f"[$error]✗ chain tampered[/]: {len(report['findings'])} findings over {report['blocks']} blocks")
    findings = [f"[$error]• block {f['height']}: {escape(f['what'])}[/] {escape(f['detail'])}"
                for f in report["findings"][:30]]
    return "\n".join([head, *findings])
