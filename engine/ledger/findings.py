"""One thing verification found wrong: where (block height, or None where no block is to blame), what, and how."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    height: int | None
    what: str
    detail: str

    def to_dict(self) -> dict:
        return {"height": self.height, "what": self.what, "detail": self.detail}
