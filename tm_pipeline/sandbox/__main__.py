"""`python -m tm_pipeline.sandbox [flags]`: the same command as `tm-pipeline sandbox`, usable
without the pipeline's console script (the sandbox depends on nothing else)."""

from __future__ import annotations

import argparse

from .cli import add_arguments, run

parser = argparse.ArgumentParser(prog="python -m tm_pipeline.sandbox", description=__doc__)
add_arguments(parser)
raise SystemExit(run(parser.parse_args()))
