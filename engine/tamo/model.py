"""The three TAMO tools as one trainable bundle: training, inference, checkpoints with config + case list."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.config import TAMO_MEMBERS
from engine.tamo.batch import Batch, make_batch
from engine.tamo.dataset import LabelledCase
from engine.tamo.features import CHANNELS, FEATURE_VERSION, PRIOR_SIGNALS, CaseFeatures
from engine.tamo.signatures import SIGNATURES
from engine.tamo.t1_fusion import DualBranchDiffusion
from engine.tamo.t2_causal import FrequencyAttention
from engine.tamo.t3_classify import ClassifierEnsemble, GraphClassifier, class_weighted_bce

CHECKPOINT_VERSION = 4  # 4: T2's token holds no log words nor call-graph degrees
Progress = Callable[[int, int, str], None]
# the modules that decide what train_model (and a trained model's inference) makes of given feature tensors
TRAINING_CODE = ("tamo/model.py", "tamo/batch.py", "tamo/t1_fusion.py", "tamo/t2_causal.py", "tamo/t3_classify.py")


@dataclass
class TrainConfig:
    seed: int = 0
    t1_steps: int = 250
    t2_steps: int = 300
    t3_steps: int = 300  # per T3 member
    t3_members: int = 3  # T3 classifiers trained from different seeds, averaged
    members: int = TAMO_MEMBERS  # whole TAMOs from seeds seed, seed + 1, ..., their outputs averaged
    lr: float = 3e-3
    weight_decay: float = 1e-3
    use_t1: bool = True  # False: T2 / T3 read the raw concatenated channels (ablation)
    domain: str = "frequency"  # or "time" (ablation)
    modalities: tuple[str, ...] = ("metrics", "traces", "logs")


@dataclass
class Inference:
    ranking: list[tuple[str, float]]
    causal_edges: list[tuple[str, str, float]]
    fault_types: dict[str, float]
    seconds: float = 0.0


@dataclass
class TamoModel:
    config: TrainConfig
    t1: DualBranchDiffusion  # untrained (and unused) when config.use_t1 is False
    t2: FrequencyAttention
    t3: ClassifierEnsemble
    fault_types: list[str]
    trained_on: list[str] = field(default_factory=list)
    train_seconds: float = 0.0

    def fused(self, batch: Batch) -> torch.Tensor:
        return self.t1.fused(batch.series, batch.semantics) if self.config.use_t1 else batch.series

    @torch.no_grad()
    def forward(self, batch: Batch):
        for module in (self.t1, self.t2, self.t3):
            module.eval()
        fused = self.fused(batch)
        logits, _, causal = self.t2(fused, batch.prior, batch.adjacency, batch.mask)
        root_prob = torch.softmax(logits, dim=-1)
        type_logits = self.t3(fused, batch.series, batch.signature, batch.prior, root_prob, causal, batch.adjacency,
                              batch.mask)
        return root_prob, causal, torch.sigmoid(type_logits)

    def infer(self, features: CaseFeatures) -> Inference:
        started = time.perf_counter()
        with single_thread():
            root_prob, causal, type_prob = self.forward(make_batch([features], self.config.modalities))
        n = len(features.entities)
        scores = root_prob[0, :n].numpy()
        ranking = sorted(zip(features.entities, scores.round(4).tolist()), key=lambda pair: (-pair[1], pair[0]))
        probs = type_prob[0] / type_prob[0].sum()
        return Inference(ranking, causal_edges(features.entities, causal[0, :n, :n].numpy()),
                         dict(zip(self.fault_types, probs.numpy().round(4).tolist())),
                         time.perf_counter() - started)

    def state(self) -> dict:
        """Everything a checkpoint holds of this model (model_from_state reads it back)."""
        return {
            "version": CHECKPOINT_VERSION, "feature_version": FEATURE_VERSION, "channels": list(CHANNELS),
            "prior_signals": list(PRIOR_SIGNALS), "signatures": list(SIGNATURES),
            "train_config": asdict(self.config), "t1_config": self.t1.config, "t2_config": self.t2.config,
            "t3_config": self.t3.config, "t1": self.t1.state_dict(), "t2": self.t2.state_dict(),
            "t3": self.t3.state_dict(), "fault_types": self.fault_types, "trained_on": self.trained_on,
            "train_seconds": self.train_seconds,
        }

    def save(self, path: Path) -> Path:
        return save_state(self.state(), path)


def save_state(state: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def model_from_state(state: dict, path: Path) -> TamoModel:
    """The model a checkpoint's `state` describes; a ValueError naming `path` when it was written by other feature
    code."""
    expected = (CHECKPOINT_VERSION, list(CHANNELS), list(PRIOR_SIGNALS), list(SIGNATURES))
    found = (state.get("version"), state.get("channels"), state.get("prior_signals"), state.get("signatures"))
    if found != expected:
        raise ValueError(f"{path}: checkpoint version {state.get('version')} / feature channels do not match this "
                         f"code (expected version {CHECKPOINT_VERSION}); retrain with `rca-tui tamo train`")
    config = TrainConfig(**{"members": 1, **state["train_config"],  # written before ensembles: one model
                            "modalities": tuple(state["train_config"]["modalities"])})
    t1, t2, t3 = (DualBranchDiffusion(**state["t1_config"]), FrequencyAttention(**state["t2_config"]),
                  ClassifierEnsemble(**state["t3_config"]))
    for module, key in ((t1, "t1"), (t2, "t2"), (t3, "t3")):
        module.load_state_dict(state[key])
    return TamoModel(config, t1, t2, t3, list(state["fault_types"]), list(state["trained_on"]),
                     float(state.get("train_seconds", 0.0)))


def causal_edges(entities: list[str], weights: np.ndarray, limit: int = 20) -> list[tuple[str, str, float]]:
    """Attention of i onto j read as j -> i ("j explains i"); only weights above uniform, strongest first."""
    n = len(entities)
    pairs = [(entities[j], entities[i], float(weights[i, j])) for i in range(n) for j in range(n)
             if i != j and weights[i, j] > 1.5 / n]
    pairs.sort(key=lambda edge: -edge[2])
    return [(src, dst, round(w, 4)) for src, dst, w in pairs[:limit]]


@contextmanager
def single_thread() -> Iterator[None]:
    """These models are tiny: intra-op threads only add synchronisation (40x slower on a busy 2-core box)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_model(cases: list[LabelledCase], config: TrainConfig | None = None,
                on_progress: Progress | None = None) -> TamoModel:
    """Train T1 (diffusion loss), then T2 on T1's fused series (root cause, cross-entropy over the case's
    entities), then T3 on T2's outputs (fault type, class-weighted BCE). Deterministic for a seed."""
    with single_thread():
        return _train(cases, config or TrainConfig(), on_progress)


def _train(cases: list[LabelledCase], config: TrainConfig, on_progress: Progress | None) -> TamoModel:
    seed_everything(config.seed)
    started = time.perf_counter()
    features = [case.features for case in cases]
    batch = make_batch(features, config.modalities)
    fault_types = sorted({case.fault_type for case in cases})
    t3_steps = config.t3_steps * max(config.t3_members, 1)
    tick = _ticker(on_progress, config.t1_steps * config.use_t1 + config.t2_steps + t3_steps)
    t1 = _train_t1(batch, config, tick)
    fused = t1.fused(batch.series, batch.semantics) if config.use_t1 else batch.series
    roots = torch.tensor([case.features.entities.index(case.root_cause) for case in cases])
    t2 = _train_t2(batch, fused, roots, config, tick)
    with torch.no_grad():
        logits, _, causal = t2(fused, batch.prior, batch.adjacency, batch.mask)
    types = torch.tensor([fault_types.index(case.fault_type) for case in cases])
    t3 = _train_t3(batch, fused, torch.softmax(logits, dim=-1), causal, types, len(fault_types), config, tick)
    return TamoModel(config, t1, t2, t3, fault_types, [f.case_id for f in features], time.perf_counter() - started)


def _train_t1(batch: Batch, config: TrainConfig, tick) -> DualBranchDiffusion:
    t1 = DualBranchDiffusion(batch.series.shape[-1], batch.semantics.shape[-1])
    if config.use_t1:
        _fit(t1, lambda: t1.loss(batch.series, batch.semantics, batch.mask.float()), config, config.t1_steps, tick,
             "T1 diffusion")
    return t1


def _train_t2(batch: Batch, fused: torch.Tensor, roots: torch.Tensor, config: TrainConfig, tick) -> FrequencyAttention:
    t2 = FrequencyAttention(fused.shape[-1], fused.shape[2], batch.prior.shape[-1],
                            domain=config.domain)

    def loss() -> torch.Tensor:
        logits = t2(fused, batch.prior, batch.adjacency, batch.mask)[0]
        return torch.nn.functional.cross_entropy(logits, roots)

    _fit(t2, loss, config, config.t2_steps, tick, "T2 ranking")
    return t2


def _train_t3(batch: Batch, fused, root_prob, causal, types: torch.Tensor, classes: int, config: TrainConfig,
              tick) -> ClassifierEnsemble:
    """Each member from its own seed (derived from config.seed); the class weights count the training cases."""
    dims = dict(in_dim=fused.shape[-1], series_dim=batch.series.shape[-1], signature_dim=batch.signature.shape[-1],
                prior_dim=batch.prior.shape[-1], classes=classes)
    ensemble = ClassifierEnsemble(max(config.t3_members, 1), **dims)
    counts = torch.bincount(types, minlength=classes).float()
    pos_weight = (len(types) - counts) / counts.clamp(min=1.0)
    inputs = (fused, batch.series, batch.signature, batch.prior, root_prob, causal)
    for number in range(len(ensemble.members)):
        seed_everything(config.seed + 1000 * number)
        member = ensemble.members[number] = GraphClassifier(**dims)
        member.fit_scale(*inputs, batch.mask)

        def loss(member=member) -> torch.Tensor:
            return class_weighted_bce(member(*inputs, batch.adjacency, batch.mask), types, pos_weight)

        _fit(member, loss, config, config.t3_steps, tick, "T3 fault type")
    ensemble.eval()
    return ensemble


def _fit(module: torch.nn.Module, loss_fn, config: TrainConfig, steps: int, tick, stage: str) -> list[float]:
    module.train()
    optimiser = torch.optim.AdamW(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    losses = []
    for _ in range(steps):
        optimiser.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
        tick(stage, losses[-1])
    module.eval()
    return losses


def _ticker(on_progress: Progress | None, total: int):
    done = 0

    def tick(stage: str, loss: float) -> None:
        nonlocal done
        done += 1
        if on_progress and (done % 10 == 0 or done == total):
            on_progress(done, total, f"{stage} loss {loss:.3f}")

    return tick
