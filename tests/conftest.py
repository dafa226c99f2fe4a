"""pytest options shared by the notebook and command-line tests."""
import os

def pytest_addoption(parser):
    parser.addoption('--flags', default='', help='run notebook cells with these tst_flags too (e.g. "slow" or "slow gpu")')

def pytest_configure(config):
    # Compile the CPU kernels into a cache every test process shares (the cache is safe under concurrency).
    os.environ.setdefault('MPLBACKEND', 'Agg')
