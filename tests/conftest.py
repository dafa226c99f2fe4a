"""pytest options shared by the notebook and command-line tests."""
import os, shutil, sys, tempfile
from pathlib import Path

# One CPU thread per test worker under `pytest -n` (xdist names each worker in PYTEST_XDIST_WORKER): N workers with a
# thread per CPU each would oversubscribe the cores. Set before anything imports torch or NumPy; the user's choice wins.
if os.environ.get('PYTEST_XDIST_WORKER') and 'OMP_NUM_THREADS' not in os.environ:
    os.environ['OMP_NUM_THREADS'] = '1'

def pytest_addoption(parser):
    parser.addoption('--flags', default='', help='run notebook cells with these tst_flags too (e.g. "slow" or "slow gpu")')

# Every file a session writes goes under one folder of its own (TMPDIR for the workers, the commands the tests start and
# pytest's `tmp_path`s): the notebooks' `tempfile.mkdtemp()` examples, the DDP launcher's folders, multiprocessing's
# sockets. A passed test's `tmp_path` goes at once (pyproject.toml: `tmp_path_retention_policy`), the folder when the
# session passes; a failed session's stays (its path printed) until the next session starts. Without this a session
# left about 1 GB in /tmp (the import tests write the originals' full-size checkpoints), and a few runs filled a shared
# disk. The folder's name is short on purpose: Ray and multiprocessing put Unix sockets under it (at most 107 bytes).
_SESSION_TMP = None
_PREFIX = 'thesis-recon-tests-'

def _alive(pid: int) -> bool:
    try: os.kill(pid, 0)
    except ProcessLookupError: return False
    except PermissionError: pass   # someone else's process
    return True

def _remove_stale_sessions(parent: Path):
    "Remove the folders of earlier sessions whose pytest process is gone (failed, killed or timed out)."
    for old in parent.glob(_PREFIX + '*'):
        try: pid = int((old/'.pid').read_text())
        except (OSError, ValueError): continue   # not ours, or just being made
        if not _alive(pid): shutil.rmtree(old, ignore_errors=True)

def pytest_configure(config):
    global _SESSION_TMP
    os.environ.setdefault('MPLBACKEND', 'Agg')
    if os.environ.get('PYTEST_XDIST_WORKER') or _SESSION_TMP is not None: return   # workers inherit it through TMPDIR
    parent = Path(tempfile.gettempdir())
    _remove_stale_sessions(parent)
    _SESSION_TMP = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=parent))
    (_SESSION_TMP/'.pid').write_text(str(os.getpid()))
    os.environ['TMPDIR'] = str(_SESSION_TMP)
    tempfile.tempdir = None   # tempfile caches the folder it chose; choose again under TMPDIR

def pytest_sessionfinish(session, exitstatus):
    if os.environ.get('PYTEST_XDIST_WORKER') or _SESSION_TMP is None: return
    if exitstatus == 0: shutil.rmtree(_SESSION_TMP, ignore_errors=True)
    elif _SESSION_TMP.exists(): print(f'\nthe files this session wrote are kept in {_SESSION_TMP} until the next session', file=sys.stderr)
