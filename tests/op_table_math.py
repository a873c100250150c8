"""Op-table rows for the elementwise math and activations (microtensor/ops/math.py):
one row per registered op (see tests/op_table.py)."""

from __future__ import annotations

from op_table import OpSpec

ROWS: list[OpSpec] = []
