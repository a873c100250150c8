"""Elementwise math beyond the primitives: trigonometric, hyperbolic, rounding, erf and the
two-argument functions. Each op is a `Function` subclass registered once (see registry.py)."""

from __future__ import annotations
