"""Reductions and scans beyond the primitives: var, std, prod, cumulative ops, norms, arg
reductions, sorting. Each op is a `Function` subclass registered once (see registry.py)."""

from __future__ import annotations
