#!/usr/bin/env python3
"""mediagate's one edge in a checkout: ``python run.py [serve|demo|keys|vault|audit|screen] ...``
is the installed ``mediagate`` command (:func:`gateway.cli.main`)."""

import sys

from gateway.cli import main

if __name__ == "__main__":
    sys.exit(main())
