"""The `cnndsl` command's entry point: the process settings first (before NumPy loads), then the CLI."""

import sys


def main() -> None:
    from .process import tune_process
    tune_process()
    from .cli import main as run
    sys.exit(run())
