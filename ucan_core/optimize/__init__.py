"""UniCR's noise optimisation: C-OPT (one noise for a dataset) and I-OPT (one per input)."""
