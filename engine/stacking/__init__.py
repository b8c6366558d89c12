"""Stacking: the tools' per-entity scores (statistical signals per modality, the fused ranking, TAMO T2) combined
with weights fitted only on training cases, saved as an artefact with a manifest."""
