"""What the benchmarks share: the package imported before torch and NumPy (its thread policy reaches their thread
runtimes only if they load after it, see 00_core "Threads"), and one line saying the policy in force.

    from bench_common import policy_line   # first, before torch / numpy
    print(policy_line())

and one way to get a folder to work in: the one the user named (kept), else a temporary one removed at exit.
"""
import atexit, os, shutil, sys, tempfile
from pathlib import Path
from thesis_recon import core    # imports the package first: its thread policy


def policy_line() -> str:
    "The thread policy in force (threads, OpenMP waiting, OpenBLAS) and torch's thread count when torch is loaded."
    if hasattr(core, 'thread_policy'): line = core.thread_policy()
    else: line = f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    torch = sys.modules.get('torch')
    return f"threads: {line}" + (f"; torch uses {torch.get_num_threads()}" if torch is not None else '')


def scratch_folder(keep=None, prefix: str = 'bench_') -> Path:
    "`keep` (created if missing, kept), else a new temporary folder that is removed when the benchmark exits."
    if keep: folder = Path(keep); folder.mkdir(parents=True, exist_ok=True); return folder
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, True)
    return folder
