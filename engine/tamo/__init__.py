"""TAMO tools: T1 multimodal fusion (dual-branch conditional diffusion), T2 frequency-domain attention
(causal graph + root-cause ranking), T3 graph fault-type classifier, A the expert report."""
