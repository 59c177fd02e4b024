"""The ``deem-train`` entry point: stages, optimiser, checkpoints, resume, pipeline."""
