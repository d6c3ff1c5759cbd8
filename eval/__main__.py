"""``python -m eval DATASET_DIR ...``: the same command as ``assistant eval``."""

import sys

from eval.cli import main

sys.exit(main())
