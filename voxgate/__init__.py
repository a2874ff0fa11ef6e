"""voxgate: the composition root (CLI, configuration, wiring)."""
