#!/usr/bin/env python3
"""mediagate's one edge: ``python run.py [serve|demo|keys|vault|audit|screen] ...``."""

import sys

from gateway.cli import main

if __name__ == "__main__":
    sys.exit(main())
