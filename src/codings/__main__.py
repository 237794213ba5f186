"""``python -m codings`` runs the command-line interface."""

from codings.cli import main

raise SystemExit(main())
