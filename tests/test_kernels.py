"""Every kernel of the package compiles for the CPU backend and, with NVRTC or nvcc, for the GPU."""
import pytest
from thesis_recon.kernels import all_package_kernels, compile_ptx

KERNELS = all_package_kernels()

@pytest.mark.parametrize('name', sorted(KERNELS))
def test_kernel_compiles_for_cpu_and_gpu(name):
    kern = KERNELS[name]
    kern.compile()
    ptx = compile_ptx(kern.code, kern.options, name=name)
    assert f'.entry {name}' in ptx

def test_registry_is_filled_by_the_stages():
    # Kernels register on import of their stage; an empty registry means the import walk found nothing.
    pytest.importorskip('thesis_recon.tsdf', reason='the TSDF stage is not part of this checkout yet')
    assert KERNELS, 'no package kernels registered'
