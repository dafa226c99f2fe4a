"""How fast `thesis-recon COMMAND --help` and a bad argument answer, for every command.

usage: python benchmarks/bench_cli.py [--repeat 1] [--top 5] [--against CHECKOUT] [COMMAND ...]

For each command it times `thesis-recon COMMAND --help` and `thesis-recon COMMAND --no-such-option` (the wall time of
a fresh process, as a user waits for it), and notes which heavy libraries (torch, tensorflow, keras, cupy, ray) were
imported before the answer (`python -X importtime`). Prints the slowest five of each and every command that imports a
heavy library before `--help`. With `--against CHECKOUT` (another copy of the repository, e.g. `git archive f83ae23 |
tar -x -C /tmp/before`) each case runs there too, interleaved with this one (A, B, A, B ...), and the ratios this/that
are printed: timings on a busy machine are noisy, their ratio less so."""
from bench_common import policy_line   # the package's thread policy, which each timed command applies too
import argparse, os, re, subprocess, sys, time

HEAVY = ('torch', 'tensorflow', 'keras', 'cupy', 'ray')

def answer(args: list[str], checkout: str | None = None) -> tuple[float, int, set[str]]:
    "(seconds, exit code, heavy top-level modules imported) of one `python -X importtime -m thesis_recon.cli ARGS`."
    env = {**os.environ, 'TF_CPP_MIN_LOG_LEVEL': os.environ.get('TF_CPP_MIN_LOG_LEVEL', '2')}
    if checkout: env['PYTHONPATH'] = os.pathsep.join([checkout, env.get('PYTHONPATH', '')]).rstrip(os.pathsep)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, '-X', 'importtime', '-m', 'thesis_recon.cli', *args], capture_output=True, text=True,
                       env=env, cwd=checkout or None)
    dt = time.perf_counter() - t0
    mods = set(re.findall(r'^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$', p.stderr, flags=re.M))
    return dt, p.returncode, {h for h in HEAVY if h in mods}

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('commands', nargs='*', help='commands to time (default: all)')
    ap.add_argument('--repeat', type=int, default=1, help='runs per case; the best is kept (default 1)')
    ap.add_argument('--top', type=int, default=5, help='how many of the slowest to print (default 5)')
    ap.add_argument('--against', metavar='CHECKOUT', help='another copy of the repository to time, interleaved (ratios)')
    a = ap.parse_args(argv)
    print(policy_line())
    from thesis_recon.cli import available_commands
    cmds = a.commands or list(available_commands())
    if a.against: return compare(cmds, a.against, a.repeat)
    rows = []
    for c in cmds:
        h = min((answer([c, '--help']) for _ in range(a.repeat)), key=lambda r: r[0])
        b = min((answer([c, '--no-such-option']) for _ in range(a.repeat)), key=lambda r: r[0])
        rows.append((c, h, b))
        print(f'{c:<24} --help {h[0]:5.1f} s (exit {h[1]}){"  imports " + ", ".join(sorted(h[2])) if h[2] else ""}; '
              f'bad argument {b[0]:5.1f} s (exit {b[1]})', flush=True)
    for label, k in (('--help', 1), ('a bad argument', 2)):
        print(f'\nslowest {a.top} to answer {label}:')
        for c, *r in sorted(rows, key=lambda row: -row[k][0])[:a.top]: print(f'  {c:<24} {r[k - 1][0]:5.1f} s')
    heavy = [(c, h[2]) for c, h, _ in rows if h[2]]
    print('\nimport a heavy library before --help: ' + ('; '.join(f'{c} ({", ".join(sorted(m))})' for c, m in heavy) or 'none'))

def compare(cmds, against: str, repeat: int):
    "Interleave this checkout and `against` on every case; print the best times and their ratio (this / that)."
    ratios = {'--help': [], 'bad argument': []}
    for c in cmds:
        for label, args in (('--help', [c, '--help']), ('bad argument', [c, '--no-such-option'])):
            ours, theirs = [], []
            for _ in range(repeat):
                ours.append(answer(args)[0]); theirs.append(answer(args, against)[0])
            ratios[label].append(min(ours) / min(theirs))
            print(f'{c:<24} {label:<13} this {min(ours):5.2f} s, that {min(theirs):5.2f} s, ratio {ratios[label][-1]:4.2f}', flush=True)
    for label, rs in ratios.items():
        rs = sorted(rs)
        print(f'{label}: median ratio {rs[len(rs) // 2]:.2f} (min {rs[0]:.2f}, max {rs[-1]:.2f}) over {len(rs)} commands')

if __name__ == '__main__': main()
