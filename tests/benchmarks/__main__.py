"""``python -m tests.benchmarks``: run the benchmark suite (see :mod:`tests.benchmarks.harness`)."""

import sys

from .harness import main

sys.exit(main())
