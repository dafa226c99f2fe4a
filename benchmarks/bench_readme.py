"""The README's block times: every ```sh block of README.md run at full size, in order, in one empty folder, with its
wall time, CPU time and the disk it leaves; writes them into the README.

    python benchmarks/bench_readme.py --list
    python benchmarks/bench_readme.py --write              # on an idle machine: every block, then the README
    python benchmarks/bench_readme.py --busy 2 --write     # the same beside two busy processes (the table's column)
    python benchmarks/bench_readme.py --write_only         # the README from the saved figures, nothing run
    python benchmarks/bench_readme.py --block N [...] [--no_setup] [--keep DIR]

The blocks are read as tests/test_readme.py reads them (that test runs them at a tiny size; this script as written).
Lines that cannot run as written here run as INSTEAD says, and the table says so: the install line is replaced by
the installed package, the user's ScanNet download is not run (the stage-by-stage block runs the same stages on the
chain's synthetic raw scans), and the 3D training of hours is timed per step (1 and 6 steps: the difference / 5).
`--block N` runs block N after running the blocks before it untimed (its inputs come from them) unless `--no_setup`
(then `--keep DIR` should hold them). `--busy N` starts N processes that each spin a CPU beside the whole run;
without it the machine should be idle, and the script prints the load average it found.

Figures go to `--json` (default benchmarks/readme_times.json), merged with what is there: one entry per block and
load ('idle', 'busyN'), kept only while the block's lines are the README's. `--write` then rewrites, in
nbs/index.ipynb (the README's source), the time in each measured block's first comment line -- the form is
`# <what>: <time> on 2 idle cores[, <disk> on disk]`, and <time> and <disk> are replaced -- and the table between
`<!-- bench_readme:start -->` and `<!-- bench_readme:end -->`, then runs tools/make_readme.py. Asserts nothing.
"""
from __future__ import annotations
import argparse, datetime, importlib.util, json, os, platform, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
INDEX = ROOT/'nbs'/'index.ipynb'
DISK_NOTE = 100e6   # bytes: a block that leaves more has its disk beside its time
START, END = '<!-- bench_readme:start -->', '<!-- bench_readme:end -->'
# a timed block's first comment line: '# <what>: <time> on 2 idle cores[, <disk> on disk]...'
CLAIM_RE = re.compile(r'^(?P<head># (?P<what>[^:\n]+): )(?P<time>[^:\n]*?)(?P<cores> on 2 idle cores)'
                      r'(?P<disk>, [\d.]+ [kMG]B on disk)?', re.M)
STEPS = (1, 6)     # the capped training runs: the time per step is their difference / (6 - 1)

_SCANNET = 'thesis-recon prepare-thesis-data --scannet_path /data/scannet/scans --output_path scannet_2d3d --n_proc 8'
_TRAIN_3D = 'thesis-recon train-3d --config thesis_data/rgb_recon.json'
# README line -> (what runs instead: commands, or None for nothing; the table's note)
INSTEAD = {
    'pip install torch==2.13.0 -e ".[dev]" && thesis-recon demo': (['thesis-recon demo'], 'the install not timed: `thesis-recon demo` only'),
    'pytest -n 2': (None, '`pytest -n 2` not timed'),
    _SCANNET: (None, 'the ScanNet line not run: it needs your download (the next block runs its stages on the synthetic raw scans)'),
    _TRAIN_3D: ([f'{_TRAIN_3D} --set trainer.max_steps={n} --no_progress' for n in STEPS],
                f'`train-3d` timed per step: {STEPS[0]} and {STEPS[1]} steps, the difference / {STEPS[1] - STEPS[0]}'),
}


def _test_readme():
    "tests/test_readme.py as a module: the README parser, the user's files and the environment the test uses."
    spec = importlib.util.spec_from_file_location('test_readme', ROOT/'tests'/'test_readme.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def blocks(tr, text: str | None = None) -> list[dict]:
    "The README's blocks that run a thesis-recon line: index, what the first comment says it does, its time claim, lines."
    out = []
    for k, (lines, body) in enumerate(tr.readme_blocks(tr.README.read_text() if text is None else text)):
        if not any('thesis-recon' in l for l in lines): continue
        m = CLAIM_RE.search(body.split('\n', 1)[0])
        out.append({'block': k, 'about': m['what'] if m else lines[0], 'claim': m['time'] if m else '', 'lines': lines})
    return out


def script(lines: list[str]) -> tuple[str, list[str]]:
    "The bash text of a block at full size (each command's start marked on stderr as '@@ line.part time') and the notes."
    out, notes = ['set -e', "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"], []
    for i, line in enumerate(lines):
        cmds, why = INSTEAD.get(line, ([line], None))
        if why: notes.append(why)
        for j, cmd in enumerate(cmds or []):
            out += [f'echo "@@ {i}.{j} $(date +%s.%N)" >&2', cmd]
    out.append(f'echo "@@ {len(lines)}.0 $(date +%s.%N)" >&2')
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


def part_seconds(err: str, lines: list[str]) -> dict:
    "{'i.j': seconds} of each command the block ran, from the '@@' marks of `script`."
    marks = [(m[0], float(m[1])) for m in re.findall(r'^@@ (\d+\.\d+) ([\d.]+)$', err, flags=re.M)]
    return {a: round(t1 - t0, 2) for (a, t0), (_, t1) in zip(marks, marks[1:])}


def step_seconds(lines: list[str], parts: dict) -> float | None:
    "Seconds per training step where the block holds the capped training: (t(6 steps) - t(1 step)) / 5."
    for i, line in enumerate(lines):
        if line == _TRAIN_3D and f'{i}.0' in parts and f'{i}.1' in parts:
            return (parts[f'{i}.1'] - parts[f'{i}.0']) / (STEPS[1] - STEPS[0])
    return None


def run_block(b: dict, folder: Path, env: dict, timeout: float) -> dict:
    "Run one block in `folder`: wall and CPU seconds, the disk it left, each command's seconds, exit code."
    text, notes = script(b['lines'])
    d0, c0, t0 = disk_bytes(folder), _children_cpu(), time.perf_counter()
    try:
        p = subprocess.run(['bash', '-c', text], cwd=folder, env=env, text=True, capture_output=True, timeout=timeout)
        rc, err = p.returncode, p.stderr + p.stdout
    except subprocess.TimeoutExpired as e:
        rc, err = 'timeout', (e.stderr.decode() if isinstance(e.stderr, bytes) else e.stderr or '')
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    parts = part_seconds(err, b['lines'])
    return {'block': b['block'], 'about': b['about'], 'lines': b['lines'], 'wall': round(wall, 2), 'cpu': round(cpu, 2),
            'disk': disk_bytes(folder) - d0, 'rc': rc, 'notes': notes, 'parts': parts,
            'per_step': step_seconds(b['lines'], parts), 'tail': '' if rc == 0 else err[-3000:]}


def human_time(s: float) -> str:
    return f'{s:.1f} s' if s < 10 else f'{s:.0f} s' if s < 120 else f'{s / 60:.1f} min' if s < 7200 else f'{s / 3600:.1f} h'


def human_bytes(n: float) -> str:
    return f'{n / 1e9:.1f} GB' if n >= 1e9 else f'{n / 1e6:.0f} MB'


# ------------------------------------------------------------------------------------------ the figures, kept in JSON

def load_figures(path: Path) -> dict:
    "{'runs': {load: what/where/when}, 'blocks': {load: {block index (str): result}}} from `path` (empty if none)."
    if path.exists(): return json.loads(path.read_text())
    return {'runs': {}, 'blocks': {}}


def save_figures(path: Path, figures: dict, load: str, run: dict, results: list[dict]):
    "Merge one run's results into `figures` (a block's entry replaced by its new one) and write them to `path`."
    figures['runs'][load] = run
    kept = figures['blocks'].setdefault(load, {})
    for r in results: kept[str(r['block'])] = {k: v for k, v in r.items() if k != 'tail'}
    path.write_text(json.dumps(figures, indent=1) + '\n')


def current(figures: dict, load: str, b: dict) -> dict | None:
    "The saved result of block `b` under `load`, if it ran without error and the block still has those lines."
    r = figures['blocks'].get(load, {}).get(str(b['block']))
    return r if r and r['rc'] == 0 and r['lines'] == b['lines'] else None


def _cell(r: dict | None) -> str:
    if r is None: return 'not measured'
    if r['per_step'] is not None: return f"{human_time(r['per_step'])} a step (the block: {human_time(r['wall'])})"
    return human_time(r['wall'])


def table(figures: dict, all_blocks: list[dict]) -> str:
    "The README's table: one row per block (idle wall, CPU, beside busy processes, disk over 100 MB), what ran instead."
    busy = sorted(l for l in figures['runs'] if l != 'idle')
    runs = [f"{'idle' if l == 'idle' else 'beside ' + l[4:] + ' busy processes'}: {figures['runs'][l]['where']}"
            for l in ['idle', *busy] if l in figures['runs']]
    head = ('Measured by `benchmarks/bench_readme.py` (' + '; '.join(runs) + ').') if runs else \
        'Not measured yet: `python benchmarks/bench_readme.py --write` on an idle 2-core machine fills this table.'
    cols = ['block', 'on 2 idle cores', 'CPU time'] + [f'beside {l[4:]} busy processes' for l in busy] + ['disk', 'run as']
    rows = [head, '', '| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)]
    for b in all_blocks:
        idle = current(figures, 'idle', b)
        disk = human_bytes(idle['disk']) if idle and idle['disk'] > DISK_NOTE else ''
        notes = '; '.join(idle['notes'] if idle else script(b['lines'])[1]) or 'as written'
        cells = [f"{b['block']}: {b['about']}", _cell(idle) if idle or not b['claim'] else f"not measured (the block: {b['claim']})",
                 human_time(idle['cpu']) if idle else '', *[_cell(current(figures, l, b)) for l in busy], disk, notes]
        rows.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(rows)


def claim(r: dict) -> tuple[str, str]:
    "(time, disk) a block's first comment line gets from its idle result."
    t = f"about {human_time(r['per_step'])} a step" if r['per_step'] is not None else f"about {human_time(r['wall'])}"
    return t, (f", {human_bytes(r['disk'])} on disk" if r['disk'] > DISK_NOTE else '')


def write_times(text: str, figures: dict, all_blocks: list[dict], readme_blocks, first: int = 0) -> tuple[str, int]:
    """`text` (markdown of the README's source) with each measured block's time (and disk) in its first comment line,
    and the table between the markers if it has them; a block not measured keeps what it says. Blocks are numbered
    from `first` (the sh blocks of earlier cells). `readme_blocks`: the test's parser. Returns (text, blocks seen)."""
    by_index = {b['block']: b for b in all_blocks}
    pieces, pos, k = [], 0, first
    for k, m in enumerate(re.finditer(r'^```sh\n(.*?)^```', text, flags=re.M | re.S), start=first):
        b, r = by_index.get(k), None
        if b is not None and readme_blocks(m.group(0))[0][0] == b['lines']: r = current(figures, 'idle', b)
        body = m.group(1)
        if r is not None:
            head, _, rest = body.partition('\n')
            t, disk = claim(r)
            body = CLAIM_RE.sub(lambda c: c['head'] + t + c['cores'] + disk, head, count=1) + '\n' + rest
        pieces += [text[pos:m.start(1)], body]
        pos = m.end(1)
    seen = len(re.findall(r'^```sh\n', text, flags=re.M))
    text = ''.join(pieces) + text[pos:]
    i, j = text.find(START), text.find(END)
    if 0 <= i < j: text = text[:i + len(START)] + '\n' + table(figures, all_blocks) + '\n' + text[j:]
    return text, seen


def write_index(figures: dict, tr) -> Path:
    "Rewrite nbs/index.ipynb's markdown (the README's source) with the figures, then README.md by tools/make_readme.py."
    nb = json.loads(INDEX.read_text())
    md = [c for c in nb['cells'] if c['cell_type'] == 'markdown']
    all_blocks = blocks(tr, '\n\n'.join(''.join(c['source']) for c in md))
    if sum(''.join(c['source']).count(START) for c in md) != 1:
        raise SystemExit(f'bench_readme: {INDEX} needs one {START} ... {END} pair in its markdown')
    first = 0
    for c in md:
        text, seen = write_times(''.join(c['source']), figures, all_blocks, tr.readme_blocks, first)
        c['source'], first = text.splitlines(keepends=True), first + seen
    INDEX.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    subprocess.run([sys.executable, str(ROOT/'tools'/'make_readme.py')], check=True, cwd=ROOT)
    return INDEX


def _where(busy: int) -> str:
    "The machine and the moment: cores, CPU model, the load average at the start of an idle run, commit, date."
    model = next((l.split(':', 1)[1].strip() for l in Path('/proc/cpuinfo').read_text().splitlines()
                  if l.startswith('model name')), platform.processor()) if Path('/proc/cpuinfo').exists() else platform.processor()
    try: commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError: commit = ''
    load = '' if busy else f', load average {os.getloadavg()[0]:.1f} at the start'   # the busy ones: the table's column says
    return f'{len(os.sched_getaffinity(0))} cores ({model}){load}, commit {commit or "?"}, {datetime.date.today().isoformat()}'


def measure(timed: list[dict], setup: list[dict], folder: Path, env: dict, busy: int, timeout: float) -> list[dict] | None:
    "Run the setup blocks untimed, then the timed ones, beside `busy` spinning processes; None when a setup block failed."
    procs = []
    if busy:
        sys.path.insert(0, str(HERE))
        from bench_threads import _start_busy, _stop_busy
        procs = _start_busy(busy)
    results = []
    try:
        for b in setup:
            r = run_block(b, folder, env, timeout)
            print(f"setup block {b['block']}: {'ok' if r['rc'] == 0 else 'FAILED'} in {r['wall']:.0f} s", flush=True)
            if r['rc'] != 0: print(r['tail']); return None
        for b in timed:
            r = run_block(b, folder, env, timeout)
            results.append(r)
            step = f", {r['per_step']:.1f} s a step" if r['per_step'] is not None else ''
            print(f"block {b['block']}: {'ok' if r['rc'] == 0 else 'FAILED (' + str(r['rc']) + ')'} in {r['wall']:.0f} s{step}, "
                  f"{r['cpu']:.0f} s CPU, {human_bytes(r['disk'])} left  ({b['about'][:70]})", flush=True)
            if r['rc'] != 0: print(r['tail'], flush=True)
    finally:
        if procs: _stop_busy(procs)
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--list', action='store_true', help='list the blocks and exit')
    p.add_argument('--block', type=int, nargs='+', default=None, help='run these blocks (README order, 0-based among all sh blocks)')
    p.add_argument('--no_setup', action='store_true', help='with --block: do not run the blocks before it first')
    p.add_argument('--busy', type=int, default=0, help='busy processes beside the run')
    p.add_argument('--keep', type=Path, default=None, help='run in this folder and keep it (default: a temporary one)')
    p.add_argument('--json', type=Path, default=HERE/'readme_times.json', help='where the figures are kept (merged)')
    p.add_argument('--write', action='store_true', help='then write the figures into nbs/index.ipynb and README.md')
    p.add_argument('--write_only', action='store_true', help='write the saved figures into the README; run nothing')
    p.add_argument('--timeout', type=float, default=4 * 3600, help='seconds per block')
    a = p.parse_args(argv)
    tr = _test_readme()
    all_blocks = blocks(tr)
    if a.list:
        for b in all_blocks: print(f"{b['block']}: {b['about']} ({b['claim'] or 'no time claim'})\n    " + '\n    '.join(b['lines']))
        return 0
    known = {b['block'] for b in all_blocks}
    if a.block and not set(a.block) <= known: p.error(f'--block: no block {sorted(set(a.block) - known)}; the blocks: {sorted(known)}')
    if a.busy < 0: p.error(f'--busy: must be >= 0, got {a.busy}')
    stale = [l for l in INSTEAD if not any(l in b['lines'] for b in all_blocks)]
    if stale: print('bench_readme: INSTEAD entries for lines the README no longer has:\n  ' + '\n  '.join(stale), file=sys.stderr)
    figures = load_figures(a.json)
    ok = True
    if not a.write_only:
        timed = [b for b in all_blocks if a.block is None or b['block'] in a.block]
        setup = [] if a.block is None or a.no_setup else [b for b in all_blocks if b['block'] < min(a.block) and b not in timed]
        folder = a.keep or Path(tempfile.mkdtemp(prefix='bench_readme_'))
        folder.mkdir(parents=True, exist_ok=True)
        for name, make in tr.USER_FILES.items():
            if not (folder/name).exists(): make(folder/name)
        env = {**tr._env(), 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '')}
        if not env['OMP_NUM_THREADS']: env.pop('OMP_NUM_THREADS')   # the package's own thread policy, as a user gets it
        run = {'where': _where(a.busy)}
        print(run['where'], flush=True)
        try: results = measure(timed, setup, folder, env, a.busy, a.timeout)
        finally:
            if a.keep is None: shutil.rmtree(folder, ignore_errors=True)
        if results is None: return 1
        save_figures(a.json, figures, f'busy{a.busy}' if a.busy else 'idle', run, results)
        ok = all(r['rc'] == 0 for r in results)
    print('\n' + table(figures, all_blocks))
    if a.write or a.write_only: print(f'wrote {write_index(figures, tr)} and README.md')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
