"""The `microtensor` command's launcher. The command itself lives in the application package
above nn (`microtensor_app`); this module only hands over when the command runs, so importing
microtensor never imports nn or the application."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `microtensor` command (see `microtensor_app.cli`) and return its exit status."""
    from microtensor_app.cli import main as app_main

    return app_main(argv)
