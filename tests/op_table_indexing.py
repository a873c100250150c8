"""Op-table rows for the shape and indexing ops (microtensor/ops/indexing.py):
one row per registered op (see tests/op_table.py)."""

from __future__ import annotations

from op_table import OpSpec

ROWS: list[OpSpec] = []
