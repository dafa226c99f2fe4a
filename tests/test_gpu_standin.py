"""The `#| gpu` cells of the scene stages, run on the CPU through a stand-in for CuPy (`tests/cupy_standin`).

CI has no GPU, so without this the device paths (CuPy arrays end to end, uploads ahead, kernels launched through
`cupy.RawKernel`) would never run before a user with a GPU ran them. The stand-in is not a GPU: these cases check the
code of those paths (the right array module everywhere, explicit downloads, no NumPy array handed to a device
function or the reverse), not GPU arithmetic or speed; `pytest --flags gpu` on a machine with a GPU does that.
Each notebook runs in a subprocess whose `cupy` is the stand-in, so no other test sees it."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
STANDIN = ROOT/'tests'/'cupy_standin'
NOTEBOOKS = ['01_kernels', '11_render', '13_synthetic', '20_tsdf', '22_neuralrecon', '24_demo', '30_voxelize',
             '31_backproj', '32_chunks']

_RUN = '''
import json, sys
sys.path.insert(0, sys.argv[2])
from nbrun import run_notebook
import cupy
assert getattr(cupy, "STANDIN", False), cupy.__file__
failed, tb = run_notebook(sys.argv[1], ["gpu"], save_to=None)
print(json.dumps(dict(failed=None if failed is None else failed.source, tb=tb, kernels=cupy.launched_options)))
'''

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_gpu_cells_on_the_standin(name, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(STANDIN), str(ROOT), os.environ.get('PYTHONPATH', '')]))
    res = subprocess.run([sys.executable, '-c', _RUN, str(ROOT/'nbs'/f'{name}.ipynb'), str(ROOT/'tools')],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1800)
    assert res.returncode == 0, res.stderr[-4000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out['failed'] is None, f"{name}, cell:\n{out['failed']}\n\n{out['tb']}"
    # the gpu cells did launch kernels through cupy.RawKernel, compiled without fused multiply-adds
    assert out['kernels'], f'{name}: no kernel went through cupy.RawKernel'
    assert all('--fmad=false' in opts for _, opts in out['kernels']), out['kernels']
