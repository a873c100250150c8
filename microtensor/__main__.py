"""`python -m microtensor ...` runs the `microtensor` command."""

from .cli import main

raise SystemExit(main())
