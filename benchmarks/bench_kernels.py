"""CPU backend of RawKernel against NumPy on 10^7 float32 elements, with 1 and 2 threads.

Prints milliseconds (best of 5) and ratios; run: python benchmarks/bench_kernels.py"""
from bench_common import policy_line   # first: the package's thread policy before torch / NumPy load
import time
import numpy as np
from thesis_recon.kernels import RawKernel, set_num_threads

print(policy_line())

SAXPY = r'''
extern "C" __global__ void saxpy(const float* x, const float* y, float* out, float a, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a * x[i] + y[i];
}'''
POLY = r'''
extern "C" __global__ void poly64(const float* x, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = x[i], acc = 0.0f;
    for (int k = 0; k < 64; ++k) acc = acc * v + 0.5f;   // 64 fused multiply-adds (Horner)
    out[i] = acc;
}'''

def poly_numpy(x):
    acc = np.zeros_like(x)
    for _ in range(64): acc = acc * x + np.float32(0.5)
    return acc

def best(f, reps=5):
    f(); times = []
    for _ in range(reps):
        t = time.perf_counter(); f(); times.append(time.perf_counter() - t)
    return min(times) * 1e3

n = 10**7
rng = np.random.default_rng(0)
x, y = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
out = np.empty_like(x)
grid, block = ((n + 255) // 256,), (256,)
saxpy, poly = RawKernel(SAXPY, 'saxpy'), RawKernel(POLY, 'poly64')

rows = []
t_np_saxpy = best(lambda: np.float32(2) * x + y)
t_np_poly = best(lambda: poly_numpy(x), reps=2)
for threads in (1, 2):
    set_num_threads(threads)
    t_s = best(lambda: saxpy(grid, block, (x, y, out, np.float32(2), np.int32(n))))
    t_p = best(lambda: poly(grid, block, (x, out, np.int32(n))))
    rows.append((threads, t_s, t_p))
set_num_threads(None)
np.testing.assert_allclose(out, poly_numpy(x[:]), rtol=1e-4)

print(f'{n:,} float32 elements; NumPy: saxpy {t_np_saxpy:.1f} ms, 64-FMA polynomial {t_np_poly:.1f} ms')
print(f'{"threads":>7} {"saxpy ms":>9} {"vs NumPy":>9} {"poly64 ms":>10} {"vs NumPy":>9}')
for threads, t_s, t_p in rows:
    print(f'{threads:>7} {t_s:>9.1f} {t_np_saxpy / t_s:>8.2f}x {t_p:>10.1f} {t_np_poly / t_p:>8.1f}x')
print(f'second core: saxpy {rows[0][1] / rows[1][1]:.2f}x, poly64 {rows[0][2] / rows[1][2]:.2f}x')
