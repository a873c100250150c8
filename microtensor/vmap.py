"""(being written: issue 16, mt.func.vmap)"""

__all__: list[str] = []
