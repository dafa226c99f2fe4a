"""A stand-in for CuPy, for machines without a GPU: it runs the package's GPU code paths on the CPU.

It is not a GPU and proves nothing about one. What it checks is the code of the device paths, which otherwise runs only
where CuPy sees a GPU: that a stage keeps its arrays in the array module it was given, downloads explicitly, never
hands a "device" array to NumPy or a NumPy array to a "device" function, and launches its kernels through
`cupy.RawKernel`. Like CuPy, its `ndarray` refuses implicit conversion to NumPy (`np.asarray(a)` raises TypeError;
`a.get()` downloads), its functions and operators refuse NumPy arrays (only `asarray`/`array`/`ascontiguousarray`
upload), and NumPy's own functions called on it dispatch here (`__array_function__`, `__array_ufunc__`). Kernels run
through the package's CPU backend on the wrapped buffers; streams and events exist and do nothing (everything is
synchronous).

Used by `tests/test_gpu_standin.py`, which puts this folder first on `PYTHONPATH` of a subprocess.
"""
import operator, types
import numpy as _np

__version__ = '0.0-standin'
STANDIN = True

_IMPLICIT = ('Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy array '
             'explicitly. (CuPy stand-in)')


def _unwrap(x, where: str):
    "The NumPy value behind `x`; a NumPy array (not a scalar) is refused, as CuPy refuses it."
    if isinstance(x, ndarray): return x._a
    if isinstance(x, _np.ndarray) and x.ndim > 0:
        raise TypeError(f'{where}: Unsupported type {type(x)} (a NumPy array given where CuPy needs a device array; '
                        'upload it with cupy.asarray). (CuPy stand-in)')
    if isinstance(x, (list, tuple)) and not isinstance(x, str): return type(x)(_unwrap(v, where) for v in x)
    if isinstance(x, slice): return slice(_unwrap(x.start, where), _unwrap(x.stop, where), _unwrap(x.step, where))
    return x


def _wrap(r):
    if isinstance(r, _np.ndarray): return ndarray(r)
    if isinstance(r, _np.generic) and not isinstance(r, (_np.dtype,)): return ndarray(_np.asarray(r))
    if isinstance(r, tuple): return tuple(_wrap(v) for v in r)
    if isinstance(r, list): return [_wrap(v) for v in r]
    return r


class _Memory:
    def __init__(self, a): self.ptr = a.ctypes.data if a.size else 0


class ndarray:
    "A 'device' array: a NumPy array that NumPy may not see implicitly."
    __slots__ = ('_a',)
    __array_priority__ = 100

    def __init__(self, shape, dtype=float, *_, **__):
        self._a = shape if isinstance(shape, _np.ndarray) else _np.empty(shape, dtype)

    # what CuPy's arrays have
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray(self._a.T))
    data = property(lambda self: _Memory(self._a))
    device = property(lambda self: cuda.Device(0))

    @property
    def __cuda_array_interface__(self):
        return dict(shape=self._a.shape, typestr=self._a.dtype.str, data=(self.data.ptr, False), version=3,
                    strides=None if self._a.flags.c_contiguous else self._a.strides)

    def get(self, stream=None, order='C', out=None):
        if out is not None: _np.copyto(out, self._a); return out
        return _np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        if not isinstance(arr, _np.ndarray): raise TypeError(f'Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}')
        if arr.shape != self._a.shape or arr.dtype != self._a.dtype:
            raise ValueError(f'set: shape/dtype mismatch ({arr.shape} {arr.dtype} into {self._a.shape} {self._a.dtype})')
        self._a[...] = arr

    def __array__(self, *args, **kwargs): raise TypeError(_IMPLICIT)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = [_unwrap(x, f'numpy.{ufunc.__name__}') for x in inputs]
        if 'out' in kwargs: kwargs['out'] = tuple(_unwrap(o, 'out') for o in kwargs['out'])
        return _wrap(getattr(ufunc, method)(*inputs, **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        if not all(issubclass(t, ndarray) for t in types): return NotImplemented   # NumPy raises TypeError
        return _wrap(func(*_unwrap(args, func.__name__), **{k: _unwrap(v, func.__name__) for k, v in kwargs.items()}))

    def __repr__(self): return f'array({self._a!r}) (CuPy stand-in)'
    def __len__(self): return len(self._a)
    def __iter__(self): return (ndarray(_np.asarray(v)) for v in self._a)
    def __bool__(self): return bool(self._a)
    def __int__(self): return int(self._a)
    def __float__(self): return float(self._a)
    def __index__(self): return operator.index(self._a)
    def __getitem__(self, key): return _wrap(self._a[_unwrap(key, 'indexing')])
    def __setitem__(self, key, value): self._a[_unwrap(key, 'indexing')] = _unwrap(value, 'assignment')
    def __getattr__(self, name):   # methods: astype, reshape, ravel, copy, fill, sum, min, max, any, all, nonzero...
        if name.startswith('__') or name in ('ctypes', 'base', 'tofile', 'tobytes', 'data_as'):
            raise AttributeError(name)   # NumPy's protocols (__array_interface__...) would reach the host buffer
        attr = getattr(self._a, name)
        if not callable(attr): return _wrap(attr)
        return lambda *a, **k: _wrap(attr(*_unwrap(a, name), **{kk: _unwrap(v, name) for kk, v in k.items()}))
    def __copy__(self): return ndarray(self._a.copy())
    def __deepcopy__(self, memo): return ndarray(self._a.copy())
    def __reduce__(self): raise TypeError('a CuPy stand-in array cannot be pickled: download it with .get() first')


def _binary(op):
    def f(self, other): return _wrap(op(self._a, _unwrap(other, op.__name__)))
    def r(self, other): return _wrap(op(_unwrap(other, op.__name__), self._a))
    return f, r

for _name in ('add', 'sub', 'mul', 'truediv', 'floordiv', 'mod', 'pow', 'and', 'or', 'xor', 'lshift', 'rshift', 'matmul'):
    _f, _r = _binary(getattr(operator, _name if _name not in ('and', 'or') else _name + '_'))
    setattr(ndarray, f'__{_name}__', _f); setattr(ndarray, f'__r{_name}__', _r)
    def _inplace(self, other, _op=getattr(operator, f'i{_name}')):
        self._a = _op(self._a, _unwrap(other, 'in-place operator')); return self
    setattr(ndarray, f'__i{_name}__', _inplace)
for _name in ('lt', 'le', 'eq', 'ne', 'gt', 'ge'):
    setattr(ndarray, f'__{_name}__', _binary(getattr(operator, _name))[0])
for _name in ('neg', 'pos', 'abs', 'invert'):
    setattr(ndarray, f'__{_name}__', lambda self, _op=getattr(operator, _name): _wrap(_op(self._a)))
ndarray.__hash__ = None


# --- uploads and downloads ---------------------------------------------------------------------------------------
def asarray(a, dtype=None, order=None, blocking=False):
    if isinstance(a, ndarray): return a if dtype is None or a.dtype == _np.dtype(dtype) else a.astype(dtype)
    return ndarray(_np.array(a, dtype=dtype, order=order or 'K', copy=True))

def array(a, dtype=None, copy=True, order='K', ndmin=0, blocking=False):
    if isinstance(a, ndarray): return ndarray(_np.array(a._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    return ndarray(_np.array(a, dtype=dtype, copy=True, order=order, ndmin=ndmin))

def ascontiguousarray(a, dtype=None):
    if isinstance(a, ndarray): return ndarray(_np.ascontiguousarray(a._a, dtype=dtype))
    return ndarray(_np.array(a, dtype=dtype, order='C', copy=True))

def asnumpy(a, stream=None, order='C', out=None, blocking=True):
    if isinstance(a, ndarray): return a.get(order=order, out=out)
    return _np.asarray(a, order=order)

def get_array_module(*args):
    return __import__(__name__) if any(isinstance(a, ndarray) for a in args) else _np


def __getattr__(name):
    "Any other NumPy name: a dtype or constant as it is, a function on device arrays returning device arrays."
    attr = getattr(_np, name)
    if isinstance(attr, types.ModuleType): raise AttributeError(f'the CuPy stand-in has no submodule {name!r}')
    if isinstance(attr, type) or not callable(attr): return attr
    def f(*args, **kwargs):
        return _wrap(attr(*_unwrap(args, f'cupy.{name}'), **{k: _unwrap(v, f'cupy.{name}') for k, v in kwargs.items()}))
    f.__name__ = name
    return f


# --- kernels -----------------------------------------------------------------------------------------------------
class RawKernel:
    "`cupy.RawKernel`: runs through thesis_recon's CPU backend on the wrapped buffers (and records its options)."
    def __init__(self, code, name, options=(), backend='nvrtc', translate_cucomplex=False, enable_cooperative_groups=False,
                 jitify=False):
        from thesis_recon.kernels import RawKernel as _Cpu
        self.code, self.name, self.options = code, name, tuple(options)
        self._cpu = _Cpu(code, name, tuple(o for o in options if o.startswith(('-D', '-U'))))
        launched_options.append((name, self.options))

    def __call__(self, grid, block, args, shared_mem=0, stream=None, enable_cooperative_groups=False):
        if not isinstance(args, tuple): raise TypeError('args must be a tuple')
        for i, a in enumerate(args):
            if isinstance(a, _np.ndarray):
                raise TypeError(f'kernel {self.name}: argument {i} is a NumPy array; a launch on the GPU needs device arrays')
        self._cpu(grid, block, tuple(a._a if isinstance(a, ndarray) else a for a in args))

launched_options: list = []   # (kernel name, NVRTC options) of every RawKernel made, for tests


# --- the runtime: one device, synchronous streams --------------------------------------------------------------
class _MemoryPool:
    def free_bytes(self): return 0
    def used_bytes(self): return 0
    def total_bytes(self): return 0
    def free_all_blocks(self): pass

_pool = _MemoryPool()
def get_default_memory_pool(): return _pool
def get_default_pinned_memory_pool(): return _pool


class _Namespace:
    def __init__(self, **kw): self.__dict__.update(kw)


class _Event:
    def __init__(self, *a, **k): self.done = True
    def record(self, stream=None): return self
    def synchronize(self): pass
    def query(self): return True


class _Stream:
    def __init__(self, null=False, non_blocking=False, ptr=None, priority=None): self.ptr = 0 if null else 1
    def record(self, event=None): return event or _Event()
    def wait_event(self, event): assert isinstance(event, _Event), f'wait_event needs an Event, got {type(event)}'
    def synchronize(self): pass
    def use(self): return self
    def __enter__(self): return self
    def __exit__(self, *a): pass

_Stream.null = _Stream(null=True)


class _Device:
    def __init__(self, device=None): self.id = 0
    def synchronize(self): pass
    def use(self): pass
    def __enter__(self): return self
    def __exit__(self, *a): pass


class _runtime:
    @staticmethod
    def getDeviceCount(): return 1
    @staticmethod
    def memGetInfo(): return (8 << 30, 16 << 30)
    @staticmethod
    def getDeviceProperties(i): return {'name': b'CuPy stand-in (the CPU)', 'totalGlobalMem': 16 << 30}
    @staticmethod
    def deviceSynchronize(): pass


cuda = _Namespace(runtime=_runtime, Stream=_Stream, Event=_Event, Device=_Device,
                  get_current_stream=lambda device=None: _Stream.null, is_available=lambda: True)
