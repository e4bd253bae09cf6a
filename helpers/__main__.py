"""`python -m helpers ...`: the series' command line (its code is series_tools.cli)."""
import sys

from series_tools.cli import main

sys.exit(main())
