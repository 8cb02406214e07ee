import sys

from xnat.cli import main

sys.exit(main())
