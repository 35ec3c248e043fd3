"""Upkeep of the pipeline's storage that no data flow needs: lake compaction, run on its own schedule."""
