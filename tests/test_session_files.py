"""The test session's files (tests/conftest.py): one folder for everything a session writes, and what a session that
died left behind removed by the next."""
import os, subprocess, sys, tempfile
from pathlib import Path
from conftest import _PREFIX, _remove_stale_sessions

def test_this_session_writes_under_its_own_folder(tmp_path):
    here = Path(tempfile.gettempdir())
    assert here.name.startswith(_PREFIX) and (here/'.pid').is_file(), here
    assert os.environ['TMPDIR'] == str(here)                       # the commands the tests start inherit it
    assert tmp_path.is_relative_to(here)                           # and pytest's own folders are inside it
    out = subprocess.run([sys.executable, '-c', 'import tempfile; print(tempfile.mkdtemp())'], capture_output=True, text=True)
    assert Path(out.stdout.strip()).parent == here

def test_a_dead_sessions_folder_goes_a_live_ones_stays(tmp_path):
    dead = subprocess.Popen([sys.executable, '-c', 'pass']); dead.wait()   # a pid that no longer runs
    folders = {}
    for name, pid in (('dead', dead.pid), ('live', os.getpid()), ('no_pid', None)):
        folders[name] = tmp_path/f'{_PREFIX}{name}'
        (folders[name]/'files').mkdir(parents=True)
        if pid is not None: (folders[name]/'.pid').write_text(str(pid))
    (tmp_path/'someone_else').mkdir()
    _remove_stale_sessions(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f'{_PREFIX}live', f'{_PREFIX}no_pid', 'someone_else'])

def test_a_failed_session_keeps_its_folder_until_the_next_one(tmp_path):
    def session(*args):
        env = {k: v for k, v in os.environ.items() if not k.startswith('PYTEST_')}
        return subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', __file__, *args],
                              env={**env, 'TMPDIR': str(tmp_path)}, capture_output=True, text=True, cwd=Path(__file__).parent)
    ours = lambda: sorted(p.name for p in tmp_path.glob(_PREFIX + '*'))
    failed = session('-k', 'no_such_test')                         # collects nothing: exit 5, a session that did not pass
    assert failed.returncode == 5 and len(ours()) == 1, failed.stdout + failed.stderr
    assert f'kept in {tmp_path/ours()[0]}' in failed.stderr
    passed = session('-k', 'this_session_writes')
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert ours() == []                                            # the failed one removed, and its own
