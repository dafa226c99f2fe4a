"""The data commands as a new user meets them (issue 16): a clone with nothing beside it, the one-command chain,
option spellings, and errors, interrupts and leftovers."""
import json, os, pickle, re, signal, subprocess, sys, time
import numpy as np
import pytest

DATA_COMMANDS = ('demo', 'synth', 'export-scannet', 'generate-gt', 'prep-occ-grid', 'prep-backproj-data',
                 'clean-backproj-data', 'augment-backproj-data', 'prepare-thesis-data')


def run(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, '-m', 'thesis_recon.cli', *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd)


@pytest.fixture(scope='module')
def raw(tmp_path_factory):
    "Two synthetic raw ScanNet scans (.sens, label-filt/, meshes, the label table beside them)."
    from thesis_recon.synthetic import make_synthetic_scans
    root = tmp_path_factory.mktemp('raw')/'scans'
    make_synthetic_scans(root, n_scenes=2, n_frames=24, width=160, height=120, layout='raw', progress=False)
    return root


def chunk_file(path, frames):
    "A chunk file of len(frames) random chunks (about 5% occupied) with the given `frames` rows."
    import h5py
    from thesis_recon.chunks import append_rows, create_chunk_file
    rng = np.random.default_rng(0)
    n = len(frames)
    rows = dict(x=(rng.random((n, 32, 32, 64)) < 0.05).astype(np.float32), y=rng.integers(0, 41, (n, 32, 32, 64)).astype(np.int16),
                scene_id=np.zeros(n, np.uint16), scan_id=np.zeros(n, np.uint8),
                world_to_grid=np.tile(np.eye(4, dtype=np.float32), (n, 1, 1)), frames=np.asarray(frames, np.int16))
    with h5py.File(path, 'w') as f:
        create_chunk_file(f, (32, 32, 64), 5); append_rows(f, rows)
    return path


# --- option spellings --------------------------------------------------------------------------------------------

@pytest.mark.parametrize('cmd', DATA_COMMANDS)
def test_help_shows_one_spelling(cmd):
    res = run(cmd, '--help')
    assert res.returncode == 0, res.stderr
    hyphenated = sorted({o for o in re.findall(r'(?<![\w-])--[a-z][a-z0-9_-]*', res.stdout) if '-' in o[2:]})
    assert hyphenated == [], hyphenated


def test_both_spellings_are_accepted(tmp_path):
    res = run('prep-occ-grid', tmp_path, tmp_path/'out', '--voxel-size', '-1')
    assert res.returncode == 2 and '--voxel_size must be positive' in res.stderr
    res = run('prepare-thesis-data', '--output-path', tmp_path/'o', '--frame-skip', '0')
    assert res.returncode == 2 and '--frame_skip must be at least 1' in res.stderr


# --- errors, interrupts and leftovers ----------------------------------------------------------------------------

def test_negative_n_proc_is_a_usage_error_and_leaves_nothing(tmp_path):
    (tmp_path/'cfg.yml').write_text('root: .\n')
    res = run('prep-backproj-data', tmp_path/'cfg.yml', 'train', tmp_path/'out.hdf5', '--n_proc', '-3')
    assert res.returncode == 2 and 'must be >= 0' in res.stderr and 'Traceback' not in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ['cfg.yml']


def test_damaged_hdf5_is_named(tmp_path):
    src = chunk_file(tmp_path/'chunks.hdf5', [[0, 10, 20, 30, 40]] * 8)
    b = bytearray(src.read_bytes())
    b[len(b) // 2:len(b) // 2 + 50000] = np.random.default_rng(1).integers(0, 256, 50000, dtype=np.uint8).tobytes()
    (tmp_path/'damaged.hdf5').write_bytes(bytes(b))
    res = run('clean-backproj-data', tmp_path/'damaged.hdf5', tmp_path/'out.hdf5')
    assert res.returncode == 2 and 'Traceback' not in res.stderr, res.stderr
    assert res.stderr.startswith('thesis-recon clean-backproj-data: ') and 'damaged.hdf5: ' in res.stderr, res.stderr
    assert not (tmp_path/'out.hdf5').exists() and not list(tmp_path.glob('.out*'))


def test_clean_says_why_it_drops_most_chunks(tmp_path):
    chunk_file(tmp_path/'val.hdf5', [[0, 10, -1, -1, -1]] * 4)     # a --full_scene file of short scans: views missing
    res = run('clean-backproj-data', tmp_path/'val.hdf5', tmp_path/'clean.hdf5')
    assert res.returncode == 0 and '0 chunks' in res.stdout
    lines = [l for l in res.stderr.splitlines() if 'kept 0 of 4 chunks' in l]
    assert len(lines) == 1 and lines[0].startswith('DataWarning: ') and '4 miss a view' in lines[0], res.stderr
    assert 'warn' not in res.stderr.replace(lines[0], '')            # one line: no source line under it


def test_ctrl_c_exits_130_with_one_line(tmp_path):
    # SIGINT back to its default in the child (a shell that starts jobs in the background ignores it, and the child
    # would inherit that), and the signal sent once the demo is at work (its imports take long on a loaded machine).
    p = subprocess.Popen([sys.executable, '-m', 'thesis_recon.cli', 'demo', '--out', str(tmp_path/'demo'),
                          '--frames', '2000', '--size', '160', '120'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t0 = time.time()
    while not any((tmp_path/'demo').rglob('*.jpg')) and time.time() - t0 < 120 and p.poll() is None: time.sleep(0.2)
    time.sleep(1)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, err[-2000:])
    assert 'interrupted' in err and 'Traceback' not in err and 'KeyboardInterrupt' not in err, err[-2000:]
    assert not [q for q in tmp_path.rglob('*') if '.tmp' in q.name]            # no half-written file


def test_garbage_sens_header_fails_its_own_scene(raw, tmp_path):
    import shutil
    root = tmp_path/'scans'
    shutil.copytree(raw, root)
    (root/'scene0001_00'/'scene0001_00.sens').write_bytes(b'not a scan at all' * 20)
    res = run('export-scannet', '--scannet_path', root, '--output_path', tmp_path/'out', '--frame_skip', 4, '--n_proc', 0)
    assert res.returncode == 1, res.stderr
    assert 'scene0001_00.sens: .sens version' in res.stderr and 'Traceback' not in res.stderr
    assert (tmp_path/'out'/'scene0000_00'/'.export.json').exists() and not (tmp_path/'out'/'scene0001_00'/'.export.json').exists()


# --- a clone that stands alone -----------------------------------------------------------------------------------

def test_splits_ship_with_the_package(raw, tmp_path):
    env = {'THESIS_RECON_NO_SHARED': '1'}
    res = run('export-scannet', '--scannet_path', raw, '--output_path', tmp_path/'o', '--split', 'val', env=env)
    assert res.returncode == 2 and 'no <scene>/<scene>.sens for scene0568_00' in res.stderr and '302 more' in res.stderr
    assert 'meta_dir' not in res.stderr and 'Traceback' not in res.stderr


def test_generate_gt_joins_along_the_official_lists(tmp_path):
    from thesis_recon.synthetic import make_synthetic_scans
    make_synthetic_scans(tmp_path/'scans', n_scenes=1, n_frames=30, width=160, height=120, progress=False)
    res = run('generate-gt', '--data_path', tmp_path, '--n_proc', 0, env={'THESIS_RECON_NO_SHARED': '1'})
    assert res.returncode == 0 and 'Warning' not in res.stderr, res.stderr
    train = pickle.loads((tmp_path/'all_tsdf_9'/'fragments_train.pkl').read_bytes())   # scene0000_00 is a ScanNet train scene
    assert len(train) >= 1 and {f['scene'] for f in train} == {'scene0000_00'}
    assert pickle.loads((tmp_path/'all_tsdf_9'/'fragments_val.pkl').read_bytes()) == []


def test_demo_scores_a_sens_against_the_mesh_beside_it(raw, tmp_path):
    res = run('demo', '--scene', raw/'scene0000_00'/'scene0000_00.sens', '--out', tmp_path/'d', '--voxel_sizes', '0.08')
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path/'d'/'metrics.json').read_text())
    assert rep['ground_truth'] == str(raw/'scene0000_00'/'scene0000_00_vh_clean_2.ply')
    assert rep['volumes']['8 cm']['fscore'] > 0.7, rep['volumes']


# --- the chain ---------------------------------------------------------------------------------------------------

def test_prep_occ_grid_three_roots_labels_a_tsdf_grid(raw, tmp_path):
    exp = tmp_path/'exported'
    res = run('export-scannet', '--scannet_path', raw, '--output_path', exp, '--frame_skip', 2, '--scenes', 'scene0000_00', '--n_proc', 0)
    assert res.returncode == 0, res.stderr
    res = run('prep-occ-grid', exp, raw, tmp_path/'occ', '--use-tsdf', '--n_proc', 0)
    assert res.returncode == 0 and 'no per-vertex labels' not in res.stderr, res.stderr
    with np.load(tmp_path/'occ'/'scene0000_00.npz') as z:
        assert z['occupancy'].sum() > 100 and (z['labels'][z['occupancy']] > 0).mean() > 0.8
    res = run('prep-occ-grid', exp, tmp_path/'occ2', '--use_tsdf', '--n_proc', 0)       # two roots: no labels there, and it says so
    assert res.returncode == 0 and 'no per-vertex labels' in res.stderr


def test_prepare_thesis_data_on_scannet_layout_with_a_written_config(raw, tmp_path):
    cfg = tmp_path/'my.yml'
    res = run('write-config', 'backproj_prep', cfg, '--set', 'subvols_per_scene=3', '--set', 'img_size=[82, 64]')
    assert res.returncode == 0, res.stderr
    import yaml
    assert yaml.safe_load(cfg.read_text())['subvol_size'] == [32, 32, 64]
    out = tmp_path/'2d3d'
    res = run('prepare-thesis-data', '--scannet_path', raw, '--output_path', out, '--config', cfg, '--frame_skip', 1,
              '--image_size', 160, 120, '--n_proc', 0, '--no_progress')
    assert res.returncode == 0, res.stderr
    assert 'every fourth scene held out' in res.stdout
    for name in ('train_clean', 'augmented_train_clean', 'val_scenes_non_overlapping_clean'):
        assert (out/'data_chunks'/f'{name}.hdf5').is_file(), name
    assert (out/'scene0000_00'/'label').is_dir()        # the label table beside the scans was found
    counts = lambda text: [l for l in text.splitlines() if l.endswith(' chunks') and '.hdf5: ' in l]
    assert 'train_clean.hdf5: 0 chunks' not in res.stdout, res.stdout
    again = run('prepare-thesis-data', '--scannet_path', raw, '--output_path', out, '--config', cfg, '--frame_skip', 1,
                '--image_size', 160, 120, '--n_proc', 0, '--no_progress')
    assert again.returncode == 0 and counts(again.stdout) == counts(res.stdout) and len(counts(res.stdout)) == 5, again.stdout
    assert 'is complete already' in again.stdout


# --- devices (issue 15) ------------------------------------------------------------------------------------------

DEVICE_CMDS = [('demo', ['--frames', '1']), ('generate-gt', ['--data_path', '.']), ('prep-occ-grid', ['.', 'out', '--use_tsdf']),
               ('prepare-thesis-data', ['--output_path', 'o']), ('prep-backproj-data', ['cfg.yml', 'train', 'out.hdf5']),
               ('synth', ['--out', 'out', '--scenes', '1'])]

@pytest.mark.parametrize('cmd,args', DEVICE_CMDS)
def test_device_cuda_without_a_gpu_says_what_is_missing(cmd, args, tmp_path):
    from thesis_recon.core import GPU_EXTRAS, gpu_count
    if gpu_count('array'): pytest.skip('this machine has a GPU')
    res = run(cmd, *args, '--device', 'cuda', cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.startswith(f'thesis-recon {cmd}: --device cuda: '), res.stderr
    assert res.stderr.count('\n') == 1 and 'Traceback' not in res.stderr, res.stderr
    assert res.stderr.endswith(f'; use --device cpu or auto (GPU extras: {GPU_EXTRAS})\n'), res.stderr   # the same words everywhere
    assert sorted(p.name for p in tmp_path.iterdir()) == []            # refused before any work

@pytest.mark.parametrize('cmd', [c for c, _ in DEVICE_CMDS])
def test_one_device_option_everywhere(cmd):
    from thesis_recon.core import DEVICE_HELP
    res = run(cmd, '--help')
    assert res.returncode == 0 and '--device {auto,cpu,cuda}' in res.stdout, res.stdout
    assert ' '.join(DEVICE_HELP.split()) in ' '.join(res.stdout.split())
    bad = run(cmd, '--device', 'gpu')
    assert bad.returncode == 2 and "--device: invalid choice: 'gpu'" in bad.stderr and bad.stderr.count('\n') == 1, bad.stderr

@pytest.mark.parametrize('cmd', ['demo', 'synth', 'generate-gt', 'prep-occ-grid', 'prep-backproj-data', 'export-scannet'])
def test_one_progress_option(cmd):
    res = run(cmd, '--help')
    assert res.returncode == 0 and '--no_progress' in res.stdout and 'no progress bars' in res.stdout, res.stdout
