"""Writers for the evaluation layouts of the real benchmarks (one module per benchmark family)."""
