"""The README's commands as a test: every `thesis-recon` line of README.md runs, block by block, in one fresh folder.

README.md's ```sh blocks are read line by line (a trailing backslash joins lines; comments are dropped) and each block
runs as one bash script in the same empty temporary folder, in README order, so a line's inputs must come from an
earlier line or be one of the user's own files of USER_FILES (made first; nothing else is in the folder).

Every line holding `thesis-recon` needs an entry in RUNS: VERBATIM (run exactly as written), the same command at a
tiny size (fewer scenes, frames, steps: written out in full below, so the table is the documentation of what CI
runs), or SLOW (as written, only with `--flags slow`: the tiny size of the README already). A README line without
an entry fails `test_every_readme_line_has_a_runner`. Lines without `thesis-recon` run as written unless NOT_RUN
says why not. Every block's first comment line says how long it takes on 2 idle cores, in the form that
`benchmarks/bench_readme.py --write` fills with its measurement (`# <what>: <time> on 2 idle cores[, <disk> on disk]`);
that script runs the same blocks at full size and times them.

`python tests/test_readme.py [--verbatim] [--slow] [--keep DIR] [--blocks 1 3]` runs the blocks outside pytest and
prints each one's wall time; `--verbatim` runs every line exactly as the README has it (the times the README quotes)."""
from __future__ import annotations
import os, re, shlex, shutil, subprocess, sys, tempfile, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT/'README.md'
VERBATIM, SLOW = 'verbatim', 'slow'

# small.yml: the thesis's chunk configuration with 4 chunks per scene, views judged at 82 x 64
_SMALL_CHUNKS = "thesis-recon write-config backproj_prep small.yml --set subvols_per_scene=4 --set 'img_size=[82, 64]' --force"
_TINY_3D = ("--set 'image_shape=[82, 64]' --set 'depth_shape=[82, 64]' --set batch_size=2 --set trainer.epochs=1 "
            "--set trainer.max_steps=2 --set 'model_3d.channels=[8, 16, 16, 16]' --set model_3d.side_channels=4 "
            "--set model_3d.head_channels=16 --set trainer.accumulation_step=1")

# README line -> how the test runs it
RUNS = {
    'pip install torch==2.13.0 -e ".[dev]" && thesis-recon demo':
        'thesis-recon demo --frames 20 --size 160 120 --voxel_sizes 0.08',        # the test runs in the installed package
    'thesis-recon prepare-thesis-data --output_path thesis_data':
        f'{_SMALL_CHUNKS} && thesis-recon prepare-thesis-data --output_path thesis_data --config small.yml --synthetic_scenes 2 '
        '--synthetic_frames 40 --synthetic_size 160 120 --image_size 160 120 --frame_skip 2 --n_proc 0 --no_progress',
    'thesis-recon prepare-thesis-data --scannet_path /data/scannet/scans --output_path scannet_2d3d --n_proc 8':
        'thesis-recon prepare-thesis-data --scannet_path thesis_data/synthetic_raw --output_path scannet_2d3d --config small.yml '
        '--image_size 160 120 --frame_skip 2 --n_proc 0 --no_progress',
    'thesis-recon export-scannet --scannet_path $RAW --output_path $OUT --export_label_images --frame_skip 10':
        'thesis-recon export-scannet --scannet_path $RAW --output_path $OUT --export_label_images --frame_skip 2 --output_image_width 160 --output_image_height 120',
    'thesis-recon prep-occ-grid $RAW $RAW $OUT/occ': VERBATIM,
    'thesis-recon write-config backproj_prep $OUT/backproj_prep.yml':
        "thesis-recon write-config backproj_prep $OUT/backproj_prep.yml --set subvols_per_scene=4 --set 'img_size=[82, 64]'",
    'thesis-recon prep-backproj-data $OUT/backproj_prep.yml train $OUT/data_chunks/train.hdf5': VERBATIM,
    'thesis-recon prep-backproj-data $OUT/backproj_prep.yml val $OUT/data_chunks/val_scenes_non_overlapping.hdf5 --full_scene': VERBATIM,
    'thesis-recon clean-backproj-data $OUT/data_chunks/train.hdf5 $OUT/data_chunks/train_clean.hdf5': VERBATIM,
    'thesis-recon clean-backproj-data $OUT/data_chunks/val_scenes_non_overlapping.hdf5 $OUT/data_chunks/val_scenes_non_overlapping_clean.hdf5': VERBATIM,
    'thesis-recon augment-backproj-data $OUT/data_chunks/train_clean.hdf5 $OUT/data_chunks/augmented_train_clean.hdf5': VERBATIM,
    'thesis-recon write-config rgb_input_3d_recon thesis_data/rgb_recon.json --set root=thesis_data '
    '--set train_file=thesis_data/data_chunks/augmented_train_clean.hdf5 '
    '--set val_file=thesis_data/data_chunks/val_scenes_non_overlapping_clean.hdf5':
        'thesis-recon write-config rgb_input_3d_recon thesis_data/rgb_recon.json --set root=thesis_data '
        '--set train_file=thesis_data/data_chunks/augmented_train_clean.hdf5 '
        f'--set val_file=thesis_data/data_chunks/val_scenes_non_overlapping_clean.hdf5 {_TINY_3D}',
    'thesis-recon train-3d --config thesis_data/rgb_recon.json': 'thesis-recon train-3d --config thesis_data/rgb_recon.json --no-progress',
    'thesis-recon infer-3d --config thesis_data/rgb_recon.json --scenes val': VERBATIM,
    'thesis-recon prep-2d-dataset --data_path thesis_data --train_list thesis_data/splits/train.txt '
    '--val_list thesis_data/splits/val.txt --out data/2d_synthetic': VERBATIM,
    'thesis-recon train-2d --config train_enet_synthetic --run_name demo':
        'thesis-recon train-2d --config train_enet_synthetic --run_name demo --set trainer.epochs=1 --set trainer.max_steps=2 --no_progress',
    'thesis-recon experiment reconstruction --budget tiny --out experiments': SLOW,   # tiny is its smallest budget
    'thesis-recon experiment-srn-fewshot --budget tiny --out experiments': VERBATIM,
    'thesis-recon serve all --random-weights --port 0 --url-file server.url &': VERBATIM,
    'thesis-recon client all room.png room.hdf5 --mesh room.ply --url "$(cat server.url)"': VERBATIM,
    'thesis-recon srn-data data --obj Chair --n_train 50 --sidelength 64':
        'thesis-recon srn-data data --obj Chair --n_train 3 --n_test 1 --views_train 4 --views_val 1 --views_test 2 --sidelength 32',
    'thesis-recon train-srn --config_filepath srn_train_tiny.yml --data_root data/Chair/Chair.train --logging_root logs/srn':
        'thesis-recon train-srn --config_filepath srn_train_tiny.yml --data_root data/Chair/Chair.train --logging_root logs/srn '
        '--max_steps_per_img_sidelength 2 2',
    'thesis-recon eval-srn --eval_mode srn --checkpoint_path logs/srn/checkpoints/model.tar --data_root data/Chair/Chair.train '
    '--logging_root logs/srn_eval': VERBATIM,
    'thesis-recon pcm-data --synthetic 2000 --width 160 --height 120 --out data/pcm_small':
        'thesis-recon pcm-data --synthetic 16 --views_per_scene 8 --width 64 --height 48 --out data/pcm_small --no_progress',
    'thesis-recon train-pcm --config pcm_shift_small':
        'thesis-recon train-pcm --config pcm_shift_small --max_steps 2 --widths 8,8,8,8 --no_progress',
    'thesis-recon train-pcm --config pcm_focal_small':
        'thesis-recon train-pcm --config pcm_focal_small --max_steps 2 --widths 8,8,8,8 --no_progress',
    'thesis-recon reconstruct-depth depth.png --rgb image.jpg --models saved/pcm_small --out cloud.ply': VERBATIM,
}
NOT_RUN = {'pytest -n 2': 'this test is part of that run'}
# what a README line promises to leave behind (checked after its block ran)
EXPECT = {
    'pip install torch==2.13.0 -e ".[dev]" && thesis-recon demo': ['thesis_recon_demo/metrics.json', 'thesis_recon_demo/mesh.html'],
    'thesis-recon prepare-thesis-data --output_path thesis_data':
        ['thesis_data/data_chunks/augmented_train_clean.hdf5', 'thesis_data/data_chunks/val_scenes_non_overlapping_clean.hdf5',
         'thesis_data/splits/train.txt', 'thesis_data/splits/val.txt'],
    'thesis-recon augment-backproj-data $OUT/data_chunks/train_clean.hdf5 $OUT/data_chunks/augmented_train_clean.hdf5':
        ['scannet_chain/data_chunks/augmented_train_clean.hdf5'],
    'thesis-recon train-3d --config thesis_data/rgb_recon.json': ['thesis_data/runs/rgb_input_3d_recon/models/latest.tar'],
    'thesis-recon train-2d --config train_enet_synthetic --run_name demo': ['saved/models/enet_synthetic/demo/latest.tar'],
    # room.ply only where the untrained networks decode a surface (else --mesh writes nothing and says so)
    'thesis-recon client all room.png room.hdf5 --mesh room.ply --url "$(cat server.url)"': ['room.hdf5'],
    'thesis-recon train-srn --config_filepath srn_train_tiny.yml --data_root data/Chair/Chair.train --logging_root logs/srn':
        ['logs/srn/checkpoints/model.tar'],
    'thesis-recon eval-srn --eval_mode srn --checkpoint_path logs/srn/checkpoints/model.tar --data_root data/Chair/Chair.train '
    '--logging_root logs/srn_eval': ['logs/srn_eval/final_miou.csv', 'logs/srn_eval/results.txt'],
    'thesis-recon experiment-srn-fewshot --budget tiny --out experiments': ['experiments/tiny/fewshot.md'],
    'thesis-recon train-pcm --config pcm_shift_small': ['saved/pcm_small/shift.tar'],
    'thesis-recon train-pcm --config pcm_focal_small': ['saved/pcm_small/focal.tar'],
    'thesis-recon reconstruct-depth depth.png --rgb image.jpg --models saved/pcm_small --out cloud.ply': ['cloud.ply'],
}

def _room_png(path: Path):
    "A 320 x 240 colour image: a floor, two walls and a box."
    import numpy as np
    from PIL import Image
    img = np.zeros((240, 320, 3), np.uint8)
    img[:150] = (200, 190, 170); img[:150, 160:] = (180, 175, 160); img[150:] = (120, 90, 60); img[110:190, 60:140] = (60, 80, 150)
    Image.fromarray(img).save(path)

def _depth_png(path: Path):
    "A 16-bit depth map in millimetres (a floor receding from 1 to 4 m under a wall at 4 m), 160 x 120."
    import numpy as np
    from PIL import Image
    rows = np.linspace(4000, 1000, 120)[:, None].repeat(160, 1)
    rows[:50] = 4000
    Image.fromarray(rows.astype(np.uint16)).save(path)

def _image_jpg(path: Path):
    from PIL import Image
    Image.new('RGB', (160, 120), (150, 120, 90)).save(path)

# the user's own files the README names, made before the blocks run
USER_FILES = {'room.png': _room_png, 'depth.png': _depth_png, 'image.jpg': _image_jpg}

def readme_blocks(text: str) -> list[list[str]]:
    "The logical lines (continuations joined, comments and blank lines dropped) of each ```sh block, and the block's text."
    blocks = []
    for body in re.findall(r'^```sh\n(.*?)^```', text, flags=re.M | re.S):
        lines, cur = [], ''
        for raw in body.splitlines():
            cur += raw[:-1].rstrip() + ' ' if raw.rstrip().endswith('\\') else raw
            if raw.rstrip().endswith('\\'): continue
            line = re.sub(r'\s+#.*$', '', cur if not cur.lstrip().startswith('#') else '').strip()
            line = re.sub(r'\s+', ' ', line)
            if line: lines.append(line)
            cur = ''
        blocks.append((lines, body))
    return blocks

def runner(line: str, verbatim: bool = False, slow: bool = False) -> str | None:
    "The shell text that runs README `line` (None: not run); KeyError for a thesis-recon line without an entry."
    if line in NOT_RUN: return None
    if 'thesis-recon' not in line and line not in RUNS: return line
    how = RUNS[line]
    if verbatim or how == VERBATIM: return line
    if how == SLOW: return line if slow else None
    return how

def block_script(lines: list[str], verbatim: bool = False, slow: bool = False) -> str:
    "A bash script running the block's lines in order, stopping at the first failure, killing what it left running."
    out = ['set -e', "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    for i, line in enumerate(lines):
        cmd = runner(line, verbatim, slow)
        out.append(f'echo {shlex.quote(f"@@ line {i}: " + (cmd if cmd is not None else "(not run) " + line))} >&2')
        if cmd is not None: out.append(cmd)
    return '\n'.join(out) + '\n'

def _env() -> dict:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, 'PATH': bin_dir + os.pathsep + os.environ.get('PATH', ''), 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '2'),
            'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore'}

def _children_cpu() -> float:
    "CPU seconds (user + system) of the finished child processes so far: a block's work, however busy the machine."
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def run_blocks(folder: Path, verbatim: bool = False, slow: bool = False, only=None, timeout: int = 1800, echo: bool = False) -> list[dict]:
    "Run README's blocks in `folder`; one dict per block: index, first line, wall and CPU seconds, exit code, failing line, output tail."
    for name, make in USER_FILES.items(): make(folder/name)
    results = []
    for k, (lines, _) in enumerate(readme_blocks(README.read_text())):
        if not any('thesis-recon' in l for l in lines) or (only and k not in only): continue
        t0, c0 = time.perf_counter(), _children_cpu()
        try:
            p = subprocess.run(['bash', '-c', block_script(lines, verbatim, slow)], cwd=folder, env=_env(), text=True,
                               stdout=None if echo else subprocess.PIPE, stderr=None if echo else subprocess.STDOUT, timeout=timeout)
            rc, err = p.returncode, p.stdout or ''
        except subprocess.TimeoutExpired as e:
            rc, err = 'timeout', (e.stdout.decode() if isinstance(e.stdout, bytes) else e.stdout or '')
        marks = re.findall(r'^@@ line \d+: (.*)$', err, flags=re.M)
        if rc == 0:
            missing = [f for l in lines if runner(l, verbatim, slow) is not None for f in EXPECT.get(l, ()) if not (folder/f).exists()]
            if missing: rc, marks, err = 'missing outputs', [', '.join(missing)], err + f'\nnot made: {", ".join(missing)}'

        results.append({'block': k, 'first': lines[0], 'seconds': time.perf_counter() - t0, 'cpu': _children_cpu() - c0, 'rc': rc,
                        'failed': marks[-1] if rc != 0 and marks else None, 'tail': err[-3000:] if rc != 0 else ''})
    return results

# ---------------------------------------------------------------------------------------------------- the tests

def test_every_readme_line_has_a_runner():
    blocks = readme_blocks(README.read_text())
    lines = [l for ls, _ in blocks for l in ls]
    missing = [l for l in lines if 'thesis-recon' in l and l not in RUNS and l not in NOT_RUN]
    assert not missing, 'README lines with no entry in tests/test_readme.py RUNS:\n' + '\n'.join(missing)
    stale = [l for l in [*RUNS, *EXPECT] if l not in lines]
    assert not stale, 'RUNS entries for lines the README no longer has:\n' + '\n'.join(stale)

def _bench_readme():
    "benchmarks/bench_readme.py as a module (it measures the blocks and writes their times into the README)."
    import importlib.util
    spec = importlib.util.spec_from_file_location('bench_readme', ROOT/'benchmarks'/'bench_readme.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

def test_every_block_says_how_long_it_takes():
    "Each block's first comment line has the form bench_readme --write fills: `# <what>: <time> on 2 idle cores`."
    claim = _bench_readme().CLAIM_RE
    for lines, body in readme_blocks(README.read_text()):
        if any('thesis-recon' in l for l in lines):
            m = claim.search(body.split('\n', 1)[0])
            assert m and re.search(r'\b(under a minute|a minute|an hour|hours|[\d.]+ ?(s|min|h))\b', m['time']), \
                f'this README block does not say how long it takes on 2 idle cores in its first line:\n{body}'
    text = README.read_text()
    assert text.count('<!-- bench_readme:start -->') == 1 and text.count('<!-- bench_readme:end -->') == 1

def test_bench_readme_runs_what_the_readme_says():
    "Every line bench_readme runs otherwise is a README line, and each of its stand-ins keeps the line's own words."
    bench = _bench_readme()
    lines = [l for ls, _ in readme_blocks(README.read_text()) for l in ls]
    assert set(bench.INSTEAD) <= set(lines), set(bench.INSTEAD) - set(lines)
    for line, (cmds, note) in bench.INSTEAD.items():
        assert note and all(c.startswith(line.split(' && ')[-1]) for c in cmds or []), (line, cmds)

def test_bench_readme_writes_the_times():
    """--write puts the measured time (per step for a capped training) and the disk over 100 MB into each block's first
    comment line and the table between the markers; a block not measured, or measured with other lines, keeps its claim."""
    bench = _bench_readme()
    text = ('Intro.\n\n```sh\n# the chain: about a minute on 2 idle cores\nthesis-recon a\n```\n\n'
            f'```sh\n# training: about 8 s a step on 2 idle cores; hours in all\n{bench._TRAIN_3D}\n```\n\n'
            '```sh\n# models: about 15 min on 2 idle cores, 230 MB on disk; more\nthesis-recon c\n```\n\n'
            '```sh\n# other: under a minute on 2 idle cores\nthesis-recon d\n```\n\n'
            '<!-- bench_readme:start -->\nold table\n<!-- bench_readme:end -->\nEnd.\n')
    blocks = bench.blocks(sys.modules[__name__], text)
    assert [(b['about'], b['claim']) for b in blocks] == [('the chain', 'about a minute'), ('training', 'about 8 s a step'),
                                                          ('models', 'about 15 min'), ('other', 'under a minute')]
    res = lambda b, **kw: {'block': b['block'], 'lines': b['lines'], 'rc': 0, 'wall': 75.0, 'cpu': 30.0, 'disk': 5e6,
                           'per_step': None, 'notes': [], **kw}
    figures = {'runs': {'idle': {'where': '2 cores, load 0.0'}, 'busy2': {'where': '2 busy'}},
               'blocks': {'idle': {'0': res(blocks[0]), '1': res(blocks[1], wall=200.0, per_step=7.25),
                                   '2': res(blocks[2], wall=900.0, disk=1.5e9), '3': res(blocks[3], lines=['thesis-recon x'])},
                          'busy2': {'0': res(blocks[0], wall=150.0)}}}
    out, seen = bench.write_times(text, figures, blocks, readme_blocks)
    assert seen == 4
    assert '# the chain: about 75 s on 2 idle cores\n' in out
    assert '# training: about 7.2 s a step on 2 idle cores; hours in all\n' in out
    assert '# models: about 15.0 min on 2 idle cores, 1.5 GB on disk; more\n' in out
    assert '# other: under a minute on 2 idle cores\n' in out          # measured with other lines: stale, kept
    assert out.startswith('Intro.') and out.endswith('<!-- bench_readme:end -->\nEnd.\n') and 'old table' not in out
    table = out[out.index('<!-- bench_readme:start -->'):]
    assert '| 0: the chain | 75 s | 30 s | 2.5 min |  | as written |' in table
    assert '| 1: training | 7.2 s a step (the block: 3.3 min) |' in table and '| 2: models | 15.0 min | 30 s | not measured | 1.5 GB |' in table
    assert '| 3: other | not measured (the block: under a minute) |' in table
    assert bench.write_times(out, figures, blocks, readme_blocks)[0] == out     # a second write changes nothing
    assert bench.write_times(text, {'runs': {}, 'blocks': {}}, blocks, readme_blocks)[0].startswith(text[:text.index('<!--')])

def _section(text: str, heading: str) -> str:
    "The README's text from `heading` to the next heading of the same level."
    level = heading.split(' ')[0]
    start = text.index(heading + '\n')
    end = re.search(rf'^{level} ', text[start + len(heading):], flags=re.M)
    return text[start:start + len(heading) + (end.start() if end else len(text))]

def test_notebook_map_is_the_notebooks():
    "The README's notebook map has one row per notebook of nbs/, each with the module its default_exp exports."
    import json
    rows = dict(re.findall(r'^\| `(\d\d_\w+)` \| `thesis_recon\.([\w.]+)` \|', _section(README.read_text(), '## The notebooks'), flags=re.M))
    exports = {}
    for nb in sorted((ROOT/'nbs').glob('[0-9][0-9]_*.ipynb')):
        src = [l for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code' for l in c['source']]
        exports[nb.stem] = next((l.split()[-1] for l in src if l.startswith('#| default_exp')), None)
    assert rows == exports, {'rows without a notebook or with another module': {k: v for k, v in rows.items() if exports.get(k) != v},
                             'notebooks without their row': {k: v for k, v in exports.items() if rows.get(k) != v}}

def test_commands_and_kinds_tables_are_complete():
    "Every command of `thesis-recon --help` is in the commands table, every import-weights kind in the originals' table."
    from thesis_recon.cli import COMMANDS
    from thesis_recon.weights import KINDS
    text = _section(README.read_text(), '## The commands')
    table = text[:text.index('### ')]
    missing = [c for c in COMMANDS if not re.search(rf'`(thesis-recon )?{re.escape(c)}[ `]', table)]
    assert not missing, f'commands missing from the README table: {missing}'
    kinds = _section(text[text.index('### '):], "### The originals' trained models")
    missing = [k for k in KINDS if f'`{k}`' not in kinds]
    assert not missing, f'import-weights kinds missing from the README table: {missing}'

def test_readme_parsing():
    text = "x\n```sh\n# comment\na --b \\\n   c   # note\n\nd\n```\n```python\nno\n```\n```sh\ne & f\n```\n"
    assert [l for l, _ in readme_blocks(text)] == [['a --b c', 'd'], ['e & f']]
    assert runner('pytest -n 2') is None and runner('kill %1') == 'kill %1'
    with pytest.raises(KeyError): runner('thesis-recon no-such-line')
    assert runner('thesis-recon experiment reconstruction --budget tiny --out experiments') is None
    assert runner('thesis-recon experiment reconstruction --budget tiny --out experiments', slow=True).endswith('--out experiments')

def test_readme_commands_run_in_an_empty_folder(tmp_path, request):
    "Every block of the README, in order, in one empty folder (the tiny size of RUNS; SLOW lines with --flags slow)."
    slow = 'slow' in (request.config.getoption('--flags', default='') or '').split()
    results = run_blocks(tmp_path, slow=slow)
    failed = [r for r in results if r['rc'] != 0]
    report = '\n'.join(f"block {r['block']} ({r['first'][:60]}): {'ok' if r['rc'] == 0 else 'FAILED'} in {r['seconds']:.0f} s, {r['cpu']:.0f} s CPU"
                       for r in results)
    assert not failed, report + '\n\n' + '\n\n'.join(f"block {r['block']}: line `{r['failed']}` failed (exit {r['rc']}):\n{r['tail']}"
                                                     for r in failed)

def test_relative_paths_follow_one_rule(tmp_path):
    """A config written into run/ by write-config holds the data paths relative to itself; train-2d run from another
    folder with relative arguments finds the data through the config and writes its output under the working folder."""
    import numpy as np
    from PIL import Image
    proj = tmp_path/'proj'
    for split in ('img', 'lab'): (proj/'run'/'data'/split).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (64, 80, 3), dtype=np.uint8)).save(proj/'run'/'data'/'img'/f'{i}.png')
        Image.fromarray(rng.choice(np.array([1, 2, 5], np.uint8), (64, 80))).save(proj/'run'/'data'/'lab'/f'{i}.png')
    sets = [f'{k}_loader.{d}=run/data/{s}' for k in ('train', 'val') for d, s in (('img_dir', 'img'), ('label_dir', 'lab'))]
    sets += ['trainer.epochs=1', 'train_loader.batch_size=2', 'val_loader.batch_size=2', 'train_loader.num_workers=0']
    env = _env()
    p = subprocess.run(['thesis-recon', 'write-config', 'train_enet_synthetic', 'run/enet.json', *[a for s in sets for a in ('--set', s)]],
                       cwd=proj, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    import json
    written = json.loads((proj/'run'/'enet.json').read_text())
    assert written['train_loader']['img_dir'] == 'data/img', written['train_loader']   # relative to the written file
    elsewhere = tmp_path/'elsewhere'; elsewhere.mkdir()
    p = subprocess.run(['thesis-recon', 'train-2d', '--config', '../proj/run/enet.json', '--set', 'save_dir=out', '--set',
                        'trainer.max_steps=1', '--run_name', 'r', '--device', 'cpu', '--no_progress'], cwd=elsewhere, env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert (elsewhere/'out'/'models'/'enet_synthetic'/'r'/'latest.tar').is_file(), sorted(map(str, elsewhere.rglob('*')))[:20]
    assert not (proj/'run'/'out').exists() and not (proj/'out').exists()
    p = subprocess.run(['thesis-recon', 'train-2d', '--config', 'enet.json'], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert p.returncode == 2 and 'no such config file: enet.json (and no shipped config named enet.json' in p.stderr, p.stderr

def test_tensorflow_start_up_lines_silenced():
    "Importing TensorFlow after thesis_recon.core prints none of its start-up notices, unless the user set TF_CPP_MIN_LOG_LEVEL."
    pytest.importorskip('tensorflow')
    code = 'import importlib.util, thesis_recon.core; importlib.util.find_spec("tensorflow"); import tensorflow'   # a probe first, as cli's
    env = {k: v for k, v in _env().items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
    quiet = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=300)
    loud = subprocess.run([sys.executable, '-c', code], env={**env, 'TF_CPP_MIN_LOG_LEVEL': '0'}, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0 and loud.returncode == 0, quiet.stderr[-2000:] + loud.stderr[-2000:]
    from thesis_recon.core import _QuietTensorFlowImport
    noisy = lambda err: [l for l in err.splitlines() if any(n in l for n in _QuietTensorFlowImport.NOISE)]
    assert noisy(quiet.stderr) == [], quiet.stderr
    if not noisy(loud.stderr): pytest.skip('this TensorFlow prints no start-up notices here')

if __name__ == '__main__':
    import argparse
    ap = argparse.ArgumentParser(description='Run the README blocks and print their wall times.')
    ap.add_argument('--verbatim', action='store_true', help='every line exactly as the README has it')
    ap.add_argument('--slow', action='store_true', help='also the SLOW lines')
    ap.add_argument('--keep', type=Path, default=None, help='run in this (empty) folder and keep it')
    ap.add_argument('--blocks', type=int, nargs='*', default=None, help='only these block indices (0-based, among all ```sh blocks)')
    a = ap.parse_args()
    folder = a.keep or Path(tempfile.mkdtemp(prefix='readme_'))
    folder.mkdir(parents=True, exist_ok=True)
    for r in run_blocks(folder, a.verbatim, a.slow or a.verbatim, a.blocks, timeout=4 * 3600, echo=False):
        print(f"block {r['block']}: {'ok' if r['rc'] == 0 else 'FAILED (exit ' + str(r['rc']) + ')'} in {r['seconds']:.0f} s "
              f"({r['cpu']:.0f} s of CPU)  {r['first'][:90]}", flush=True)
        if r['rc'] != 0: print(f"  failing line: {r['failed']}\n{r['tail']}", flush=True)
    if a.keep is None: shutil.rmtree(folder, ignore_errors=True)
