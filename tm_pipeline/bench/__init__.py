"""`tm-pipeline bench`: the figures in README, measured against a sandbox in its own process."""
