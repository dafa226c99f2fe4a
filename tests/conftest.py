"""pytest options shared by the notebook and command-line tests."""
import os

# One CPU thread per test worker under `pytest -n` (xdist names each worker in PYTEST_XDIST_WORKER): N workers with a
# thread per CPU each would oversubscribe the cores. Set before anything imports torch or NumPy; the user's choice wins.
if os.environ.get('PYTEST_XDIST_WORKER') and 'OMP_NUM_THREADS' not in os.environ:
    os.environ['OMP_NUM_THREADS'] = '1'

def pytest_addoption(parser):
    parser.addoption('--flags', default='', help='run notebook cells with these tst_flags too (e.g. "slow" or "slow gpu")')

def pytest_configure(config):
    os.environ.setdefault('MPLBACKEND', 'Agg')
