"""The README's block times: every ```sh block of README.md run at full size, in order, in one empty folder, with its
wall time, CPU time and the disk it leaves; writes the table the README shows.

    python benchmarks/bench_readme.py --list
    python benchmarks/bench_readme.py [--block N ...] [--busy 2] [--keep DIR] [--out benchmarks/readme_times.md]

The blocks are read as tests/test_readme.py reads them (that test runs them at a tiny size; this script as written).
Lines that cannot run as written here run as INSTEAD says, and the table says so: the user's ScanNet download is
replaced by the chain's synthetic raw scans, the install line by the installed package, and trainings of hours stop
after a few steps (their time per step is what the README states). `--block N` runs block N, after running the
blocks before it untimed (its inputs come from them) unless `--no_setup` (then `--keep DIR` should hold them).
`--busy N` starts N processes that each spin a CPU beside the whole run (the "2 cores with two busy processes"
figures); without it the machine should be idle, and the script prints the load average it found.
Disk: what the block left in the folder (files counted once however often they are linked), beside the time when
over 100 MB. Prints the table and writes it to `--out`; asserts nothing.
"""
from __future__ import annotations
import argparse, importlib.util, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DISK_NOTE = 100e6   # bytes: a block that leaves more has its disk beside its time

# README line -> (what runs instead, why); a line not here runs as written
_SCANS = 'thesis_data/synthetic_raw'
INSTEAD = {
    'pip install torch==2.13.0 -e ".[dev]" && thesis-recon demo': ('thesis-recon demo', 'the install not timed'),
    'pytest -n 2': (None, 'the test suite is not a README timing'),
    'thesis-recon prepare-thesis-data --scannet_path /data/scannet/scans --output_path scannet_2d3d --n_proc 8':
        (f'thesis-recon prepare-thesis-data --scannet_path {_SCANS} --output_path scannet_2d3d --n_proc 8', 'the 4 synthetic raw scans for ScanNet'),
    'RAW=/data/scannet/scans OUT=scannet_chain':
        (f'RAW={_SCANS} OUT=scannet_chain; mkdir -p $OUT/splits; printf "scene0000_00\\nscene0001_00\\nscene0002_00\\n" > $OUT/splits/train.txt; '
         'echo scene0003_00 > $OUT/splits/val.txt', 'the 4 synthetic raw scans for ScanNet'),
    'thesis-recon train-3d --config thesis_data/rgb_recon.json':
        ('thesis-recon train-3d --config thesis_data/rgb_recon.json --set trainer.max_steps=5 --no_progress', '5 steps (the README gives s/step)'),
}


def _test_readme():
    "tests/test_readme.py as a module: the README parser, the user's files and the environment the test uses."
    spec = importlib.util.spec_from_file_location('test_readme', ROOT/'tests'/'test_readme.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def blocks(tr) -> list[dict]:
    "The README's blocks that run a thesis-recon line: index, the comment that opens it, its lines."
    out = []
    for k, (lines, body) in enumerate(tr.readme_blocks(tr.README.read_text())):
        if any('thesis-recon' in l for l in lines):
            comment = next((l.lstrip('# ').strip() for l in body.splitlines() if l.startswith('#')), '')
            about, _, claim = comment.partition(': ')     # '<what>: <how long it takes>' on the block's first line
            out.append({'block': k, 'about': about or lines[0], 'claim': claim.split(';')[0].rstrip(',. '), 'lines': lines})
    return out


def script(lines: list[str]) -> tuple[str, list[str]]:
    "The bash text of a block at full size (each line's start time marked on stderr) and the notes on lines run otherwise."
    out, notes = ['set -e', "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"], []
    for i, line in enumerate(lines):
        cmd, why = INSTEAD.get(line, (line, None))
        if why: notes.append(f'`{line[:60]}`: {why}')
        out.append(f'echo "@@ {i} $(date +%s.%N)" >&2')
        if cmd is not None: out.append(cmd)
    out.append(f'echo "@@ {len(lines)} $(date +%s.%N)" >&2')
    return '\n'.join(out) + '\n', notes


def disk_bytes(folder: Path) -> int:
    "Bytes on disk under `folder`, each file once (hard links: prep-2d-dataset links the chain's images)."
    seen, total = set(), 0
    for dirpath, _, files in os.walk(folder):
        for f in files:
            try: st = os.lstat(os.path.join(dirpath, f))
            except OSError: continue
            if (st.st_dev, st.st_ino) in seen: continue
            seen.add((st.st_dev, st.st_ino)); total += st.st_blocks * 512
    return total


def _children_cpu() -> float:
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_block(b: dict, folder: Path, env: dict, timeout: float) -> dict:
    "Run one block in `folder`: wall and CPU seconds, the disk it left, each line's seconds, exit code."
    text, notes = script(b['lines'])
    d0, c0, t0 = disk_bytes(folder), _children_cpu(), time.perf_counter()
    try:
        p = subprocess.run(['bash', '-c', text], cwd=folder, env=env, text=True, capture_output=True, timeout=timeout)
        rc, err = p.returncode, p.stderr + p.stdout
    except subprocess.TimeoutExpired as e:
        rc, err = 'timeout', (e.stderr.decode() if isinstance(e.stderr, bytes) else e.stderr or '')
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    marks = [(int(i), float(t)) for i, t in re.findall(r'^@@ (\d+) ([\d.]+)$', err, flags=re.M)]
    per_line = {b['lines'][i]: round(t1 - t0_, 1) for (i, t0_), (_, t1) in zip(marks, marks[1:])}
    return {**b, 'wall': wall, 'cpu': cpu, 'disk': disk_bytes(folder) - d0, 'rc': rc, 'notes': notes, 'line_seconds': per_line,
            'tail': '' if rc == 0 else err[-3000:]}


def _human_time(s: float) -> str:
    return f'{s:.0f} s' if s < 120 else f'{s / 60:.1f} min' if s < 7200 else f'{s / 3600:.1f} h'


def _human_bytes(n: float) -> str:
    return f'{n / 1e9:.1f} GB' if n >= 1e9 else f'{n / 1e6:.0f} MB'


def table(results: list[dict], load: str) -> str:
    "The README's table: one row per block (time, CPU, disk when over 100 MB), notes on lines run otherwise."
    rows = [f'Measured by `benchmarks/bench_readme.py` on {load}.', '',
            '| block | the README says | wall | CPU | disk | run as |', '|---|---|---|---|---|---|']
    for r in results:
        disk = _human_bytes(r['disk']) if r['disk'] > DISK_NOTE else ''
        status = '' if r['rc'] == 0 else f' **failed ({r["rc"]})**'
        rows.append(f"| {r['block']}: {r['about']} | {r['claim']} | {_human_time(r['wall'])}{status} | {_human_time(r['cpu'])} | {disk} | "
                    f"{'; '.join(r['notes']) or 'as written'} |")
    steps = [(l, s) for r in results for l, s in r['line_seconds'].items() if 'steps (the README gives s/step)' in INSTEAD.get(l, ('', ''))[1]]
    if steps:
        rows += [''] + [f'- `{INSTEAD[l][0][:80]}`: {s:.0f} s (start-up included)' for l, s in steps]
    return '\n'.join(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--list', action='store_true', help='list the blocks and exit')
    p.add_argument('--block', type=int, nargs='+', default=None, help='run these blocks (README order, 0-based among all sh blocks)')
    p.add_argument('--no_setup', action='store_true', help='with --block: do not run the blocks before it first')
    p.add_argument('--busy', type=int, default=0, help='busy processes beside the run')
    p.add_argument('--keep', type=Path, default=None, help='run in this folder and keep it (default: a temporary one)')
    p.add_argument('--out', type=Path, default=HERE/'readme_times.md', help='where the table goes')
    p.add_argument('--timeout', type=float, default=4 * 3600, help='seconds per block')
    a = p.parse_args(argv)
    tr = _test_readme()
    all_blocks = blocks(tr)
    if a.list:
        for b in all_blocks: print(f"{b['block']}: {b['about']} ({b['claim']})\n    " + '\n    '.join(b['lines']))
        return 0
    known = {b['block'] for b in all_blocks}
    if a.block and not set(a.block) <= known: p.error(f'--block: no block {sorted(set(a.block) - known)}; the blocks: {sorted(known)}')
    stale = [l for l in INSTEAD if not any(l in b['lines'] for b in all_blocks)]
    if stale: print('bench_readme: INSTEAD entries for lines the README no longer has:\n  ' + '\n  '.join(stale), file=sys.stderr)
    timed = [b for b in all_blocks if a.block is None or b['block'] in a.block]
    setup = [] if a.block is None or a.no_setup else [b for b in all_blocks if b['block'] < min(a.block) and b not in timed]
    folder = a.keep or Path(tempfile.mkdtemp(prefix='bench_readme_'))
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in tr.USER_FILES.items():
        if not (folder/name).exists(): make(folder/name)
    env = {**tr._env(), 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '')}
    if not env['OMP_NUM_THREADS']: env.pop('OMP_NUM_THREADS')   # the package's own thread policy, as a user gets it
    sys.path.insert(0, str(HERE))
    from bench_threads import _start_busy, _stop_busy
    load = f'{len(os.sched_getaffinity(0))} cores' + (f' with {a.busy} busy processes beside' if a.busy else f', load average {os.getloadavg()[0]:.1f} at the start')
    procs = _start_busy(a.busy) if a.busy else []
    results = []
    try:
        for b in setup:
            r = run_block(b, folder, env, a.timeout)
            print(f"setup block {b['block']}: {'ok' if r['rc'] == 0 else 'FAILED'} in {r['wall']:.0f} s", flush=True)
            if r['rc'] != 0: print(r['tail']); return 1
        for b in timed:
            r = run_block(b, folder, env, a.timeout)
            results.append(r)
            print(f"block {b['block']}: {'ok' if r['rc'] == 0 else 'FAILED (' + str(r['rc']) + ')'} in {r['wall']:.0f} s, "
                  f"{r['cpu']:.0f} s CPU, {_human_bytes(r['disk'])} left  ({b['about'][:70]})", flush=True)
            if r['rc'] != 0: print(r['tail'], flush=True)
    finally:
        _stop_busy(procs)
        if a.keep is None: shutil.rmtree(folder, ignore_errors=True)
    text = table(results, load)
    print('\n' + text)
    a.out.write_text(text + '\n')
    a.out.with_suffix('.json').write_text(json.dumps([{k: v for k, v in r.items() if k != 'tail'} for r in results], indent=1) + '\n')
    return 0 if all(r['rc'] == 0 for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
