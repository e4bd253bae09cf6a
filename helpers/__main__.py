"""`python -m helpers ...`: the series' command line. See `python -m helpers --help`."""
import sys

from .cli import main

sys.exit(main())
