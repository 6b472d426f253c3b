"""`python -m bot` runs the `tocsin` command."""

from bot.cli import main

raise SystemExit(main())
