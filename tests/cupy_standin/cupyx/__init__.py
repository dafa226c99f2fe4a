"""The stand-in's `cupyx`: page-locked host buffers are plain NumPy arrays here (see `cupy/__init__.py`)."""
import numpy as _np

def empty_pinned(shape, dtype=float, order='C'): return _np.empty(shape, dtype, order)
def empty_like_pinned(a, dtype=None, order='K', subok=None, shape=None): return _np.empty_like(a, dtype, order, shape=shape)
def zeros_pinned(shape, dtype=float, order='C'): return _np.zeros(shape, dtype, order)
