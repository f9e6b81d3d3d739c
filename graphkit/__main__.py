"""``python -m graphkit`` runs the command line (also under ``torchrun``)."""

import sys

from graphkit.cli import main

sys.exit(main())
