"""How many of a reasoner's replies were used as given, and how many failed the checks (the fallback's)."""
from __future__ import annotations

from engine.reasoners.base import Reasoner, ReasonerError, StepDecision, StepRequest, VoteDecision, VoteRequest


class ReplyTally:
    def __init__(self, reasoner: Reasoner):
        self.reasoner, self.name = reasoner, reasoner.name
        self.replies = self.rejected = 0

    def next_step(self, request: StepRequest) -> StepDecision:
        return self._counted(self.reasoner.next_step, request)

    def vote(self, request: VoteRequest) -> VoteDecision:
        return self._counted(self.reasoner.vote, request)

    def summary(self) -> dict[str, int]:
        return {"replies": self.replies, "used_as_given": self.replies - self.rejected, "rejected": self.rejected}

    def _counted(self, method, request):
        self.replies += 1
        try:
            return method(request)
        except ReasonerError:
            self.rejected += 1
            raise
