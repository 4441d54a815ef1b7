import sys

from .process import tune_process

tune_process()  # before NumPy loads: the command may tune its own process

from .cli import main  # noqa: E402

sys.exit(main())
