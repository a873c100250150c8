"""Shape and indexing ops beyond the primitives: pad, flip, roll, repeat, split, triangles,
gather/scatter, einsum, tensordot. Each op is a `Function` subclass registered once (see
registry.py)."""

from __future__ import annotations
