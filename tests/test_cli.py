"""The console script as a user runs it."""
import subprocess, sys

def run(*args):
    return subprocess.run([sys.executable, '-m', 'thesis_recon.cli', *args], capture_output=True, text=True)

def test_help_lists_installed_commands():
    from thesis_recon.cli import available_commands
    res = run('--help')
    assert res.returncode == 0, res.stderr
    assert 'usage: thesis-recon' in res.stdout
    for name in available_commands(): assert name in res.stdout

def test_unknown_command_fails_with_usage():
    res = run('frobnicate')
    assert res.returncode == 2 and "unknown command 'frobnicate'" in res.stderr
