"""prep-occ-grid, prep-backproj-data, clean- and augment-backproj-data as a user runs them, on synthetic scans."""
import json, shutil, subprocess, sys
import h5py
import numpy as np
import pytest
import yaml

GOOD, NO_POSES, EMPTY_MESH = 'scene0000_00', 'scene0001_00', 'scene0002_00'

def run(*args):
    return subprocess.run([sys.executable, '-m', 'thesis_recon.cli', *map(str, args)], capture_output=True, text=True)

@pytest.fixture(scope='module')
def root(tmp_path_factory):
    """A synthetic scan with its mesh (GOOD), a copy whose poses are all invalid (NO_POSES), and a scene whose mesh is
    empty (EMPTY_MESH)."""
    from thesis_recon.synthetic import make_synthetic_scans
    from thesis_recon.mesh import Mesh, write_ply
    root = tmp_path_factory.mktemp('scans')
    made = make_synthetic_scans(root, n_scenes=1, n_frames=40, seed=0, width=320, height=240, progress=False)
    assert made[0].name == GOOD
    shutil.copytree(root/GOOD, root/NO_POSES)
    for p in (root/NO_POSES).iterdir():
        if p.name.startswith(GOOD): p.rename(root/NO_POSES/p.name.replace(GOOD, NO_POSES))
    for p in (root/NO_POSES/'pose').glob('*.txt'): p.write_text('nan ' * 16)
    (root/EMPTY_MESH).mkdir()
    write_ply(root/EMPTY_MESH/f'{EMPTY_MESH}_vh_clean_2.ply', Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int32)))
    return root

@pytest.fixture(scope='module')
def occ(root, tmp_path_factory):
    out = tmp_path_factory.mktemp('occ')
    res = run('prep-occ-grid', root, out, '--n_proc', 0)
    assert res.returncode == 0, res.stderr
    return out, res

def test_prep_occ_grid_writes_documented_npz_and_skips_empty_mesh(root, occ):
    out, res = occ
    assert f'{EMPTY_MESH}: the mesh is empty; scene skipped' in res.stderr
    assert not (out/f'{EMPTY_MESH}.npz').exists()
    with np.load(out/f'{GOOD}.npz') as z:
        assert z['occupancy'].dtype == bool and z['labels'].dtype == np.int16
        assert z['occupancy'].shape == z['labels'].shape and z['occupancy'].sum() > 1000
        assert (z['labels'][~z['occupancy']] == -1).all()
        occupied = z['labels'][z['occupancy']]
        assert occupied.min() >= 0 and occupied.max() <= 40 and (occupied > 0).mean() > 0.9
        assert z['translation'].shape == (3,) and float(z['voxel_size']) == 0.05
    again = run('prep-occ-grid', root, out, '--n_proc', 0)      # a rerun finds the outputs and does nothing
    assert again.returncode == 0 and '0 written' in again.stdout

def test_prep_occ_grid_use_tsdf_matches_the_mesh_grid(root, occ, tmp_path):
    out, _ = occ
    res = run('prep-occ-grid', root, tmp_path, '--use-tsdf', '--scenes', GOOD, NO_POSES, '--n_proc', 0)
    assert res.returncode == 0, res.stderr
    assert f'{NO_POSES}: no frame with a valid pose and depth; scene skipped' in res.stderr
    from scipy.ndimage import distance_transform_edt
    with np.load(tmp_path/f'{GOOD}.npz') as t, np.load(out/f'{GOOD}.npz') as m:
        # both grids lie on the same world lattice (translations are multiples of the voxel size)
        shift = np.rint((t['translation'] - m['translation']) / 0.05).astype(int)
        ijk = np.argwhere(t['occupancy']) + shift
        inside = np.all((ijk >= 0) & (ijk < m['occupancy'].shape), 1)
        assert inside.mean() > 0.98               # the fused surface stays inside the room the mesh bounds
        dist = distance_transform_edt(~m['occupancy'])[tuple(ijk[inside].T)]
        assert (dist <= 1).mean() > 0.95       # and lies within a voxel of the mesh's surface
        assert (t['labels'][t['occupancy']] > 0).mean() > 0.9     # and takes labels from the labelled mesh

def test_prep_occ_grid_bad_root(tmp_path):
    res = run('prep-occ-grid', tmp_path/'nowhere', tmp_path/'out')
    assert res.returncode == 2 and 'nowhere: not a folder' in res.stderr

def _config(root, occ_dir, tmp, **over):
    cfg = dict(root=str(root), occ_root=str(occ_dir), label_file=None, train_list='train.txt', val_list='val.txt',
               subvol_size=[32, 32, 64], subvols_per_scene=6, num_nearest_images=5, img_size=[164, 128], frame_skip=2,
               voxel_size=0.05, depth_min=0.4, depth_max=4.0, min_occ={'start': 0.2, 'step': 0.01, 'every': 20, 'floor': 0.01},
               seed=0)
    cfg.update(over)
    (tmp/'train.txt').write_text(f'{GOOD}\n{NO_POSES}\n')
    (tmp/'val.txt').write_text(f'{GOOD}\n')
    (tmp/'cfg.yml').write_text(yaml.safe_dump(cfg))
    return tmp/'cfg.yml'

def test_prep_backproj_data_config_errors_name_the_key_before_any_work(root, occ, tmp_path):
    cfg = _config(root, occ[0], tmp_path)
    data = yaml.safe_load(cfg.read_text())
    del data['num_nearest_images']
    cfg.write_text(yaml.safe_dump(data))
    res = run('prep-backproj-data', cfg, 'train', tmp_path/'out.hdf5')
    assert res.returncode == 2 and "missing key 'num_nearest_images'" in res.stderr
    data['num_nearest_images'] = 5; data['subvols_per_scne'] = 100
    cfg.write_text(yaml.safe_dump(data))
    res = run('prep-backproj-data', cfg, 'train', tmp_path/'out.hdf5')
    assert res.returncode == 2 and "unknown key 'subvols_per_scne' (did you mean 'subvols_per_scene'?)" in res.stderr
    del data['subvols_per_scne']; data['img_size'] = [328]
    cfg.write_text(yaml.safe_dump(data))
    res = run('prep-backproj-data', cfg, 'train', tmp_path/'out.hdf5')
    assert res.returncode == 2 and "key 'img_size' must be a list of 2 positive integers" in res.stderr
    data['img_size'] = [328, 256]
    for key, bad, allowed in (('train_sampling', 'uniform', "'thesis' or 'inside'"), ('view_voxels', 'surface', "'all' or 'occupied'")):
        cfg.write_text(yaml.safe_dump({**data, key: bad}))
        res = run('prep-backproj-data', cfg, 'train', tmp_path/'out.hdf5')
        assert res.returncode == 2 and f"key '{key}' must be {allowed}, got '{bad}'" in res.stderr, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not any(tmp_path.glob('out*'))              # nothing was started

def test_prep_backproj_data_thesis_intrinsics_need_the_scenes_colour_camera(occ, tmp_path):
    # intrinsics: thesis without fx..my takes each scene's colour camera: a scene without it is one line, exit 2, nothing written
    scans = tmp_path/'scans'
    (scans/GOOD/'intrinsic').mkdir(parents=True)
    cfg = _config(scans, occ[0], tmp_path, intrinsics='thesis')
    res = run('prep-backproj-data', cfg, 'train', tmp_path/'out.hdf5')
    missing = scans/GOOD/'intrinsic'/'intrinsic_color.txt'
    assert res.returncode == 2 and res.stderr.strip() == (
        f"thesis-recon prep-backproj-data: {GOOD}: {missing} is missing; 'intrinsics: thesis' needs the scene's colour "
        "camera (or fx, fy, mx, my and intrinsic_image_width/height in the config)"), res.stderr
    assert not any(tmp_path.glob('out*'))
    data = yaml.safe_load(cfg.read_text()); data.update(fx=500.0, fy=500.0, mx=80.0, my=60.0)   # part of a camera
    cfg.write_text(yaml.safe_dump(data))
    res = run('prep-backproj-data', cfg, 'train', tmp_path/'out.hdf5')
    assert res.returncode == 2 and "fx, fy, mx, my need 'intrinsic_image_width' and 'intrinsic_image_height'" in res.stderr
    assert not any(tmp_path.glob('out*'))

def test_prep_backproj_data_train_val_clean_augment(root, occ, tmp_path):
    cfg = _config(root, occ[0], tmp_path, label_file=str(root/'scannetv2-labels.combined.tsv'))
    res = run('prep-backproj-data', cfg, 'train', tmp_path/'train.hdf5', '--n_proc', 0)
    assert res.returncode == 0, res.stderr
    assert f'{NO_POSES}: no frame with a valid pose; scene skipped' in res.stderr
    with h5py.File(tmp_path/'train.hdf5', 'r') as f:
        n = len(f['x'])
        assert n == 6
        want = {'x': (np.float32, (n, 32, 32, 64)), 'y': (np.int16, (n, 32, 32, 64)), 'scene_id': (np.uint16, (n,)),
                'scan_id': (np.uint8, (n,)), 'world_to_grid': (np.float32, (n, 4, 4)), 'frames': (np.int16, (n, 5))}
        assert {k: (f[k].dtype, f[k].shape) for k in f} == want
        x, y, frames = f['x'][:], f['y'][:], f['frames'][:]
        assert set(np.unique(x)) <= {-100, 0, 1} and (y[x == 0] == 0).all() and (y[x == -100] == -100).all()
        assert ((y[x == 1] == -100) | ((y[x == 1] >= 1) & (y[x == 1] <= 40))).all()
        assert (frames >= 0).all() and (f['scene_id'][:] == 0).all()
        assert json.loads(f.attrs['config'])['split'] == 'train'
        made_with = json.loads(f.attrs['config'])                # the thesis's sampler and view rule by default
        assert (made_with['train_sampling'], made_with['view_voxels']) == ('thesis', 'all')
        names = json.loads(f.attrs['label_names'])
        assert names['1'] == 'wall' and names['2'] == 'floor'
    assert not (tmp_path/'train.partial.hdf5').exists()

    res = run('prep-backproj-data', cfg, 'val', tmp_path/'val.hdf5', '--full-scene', '--n_proc', 0)
    assert res.returncode == 0, res.stderr
    with np.load(occ[0]/f'{GOOD}.npz') as z: n_occ = z['occupancy'].sum()
    with h5py.File(tmp_path/'val.hdf5', 'r') as f:
        assert (f['x'][:] == 1).sum() == n_occ          # the tiles cover every occupied voxel once

    res = run('clean-backproj-data', tmp_path/'train.hdf5', tmp_path/'clean.hdf5')
    assert res.returncode == 0, res.stderr
    with h5py.File(tmp_path/'clean.hdf5', 'r') as f:
        assert len(f['x']) == ((x == 1).reshape(len(x), -1).mean(1) > 0.01).sum()

    res = run('augment-backproj-data', tmp_path/'train.hdf5', tmp_path/'aug.hdf5')
    assert res.returncode == 0, res.stderr
    with h5py.File(tmp_path/'aug.hdf5', 'r') as f:
        assert len(f['x']) == 4 * n
        np.testing.assert_array_equal(f['x'][4], x[1])
        np.testing.assert_array_equal(f['x'][5], np.rot90(x[1], 1, axes=(0, 1)))
        np.testing.assert_array_equal(f['frames'][4:8], np.repeat(frames[1:2], 4, 0))

def test_train_3d_thesis_intrinsics_need_the_scenes_colour_camera(root, occ, tmp_path):
    # train-3d reads the views of a chunk file through ChunkDataset: a scene without its colour camera (thesis rule,
    # no fx..my in the config) is one line naming scene and file, exit 2, before anything is written
    cfg = _config(root, occ[0], tmp_path, subvols_per_scene=2)
    (tmp_path/'train.txt').write_text(f'{GOOD}\n')
    res = run('prep-backproj-data', cfg, 'train', tmp_path/'train.hdf5', '--n_proc', 0)
    assert res.returncode == 0, res.stderr
    scans = tmp_path/'scans'
    shutil.copytree(root/GOOD, scans/GOOD)
    (scans/GOOD/'intrinsic'/'intrinsic_color.txt').unlink()
    sets = [f'root={scans}', f'train_file={tmp_path/"train.hdf5"}', f'val_file={tmp_path/"train.hdf5"}',
            f'out_dir={tmp_path/"run"}', 'subvol_size=[32, 32, 64]', 'num_images=5', 'image_shape=[164, 128]',
            'depth_shape=[164, 128]']
    res = run('train-3d', '--config', 'rgb_input_3d_recon_tiny', *[a for s in sets for a in ('--set', s)], '--device', 'cpu')
    missing = scans/GOOD/'intrinsic'/'intrinsic_color.txt'
    assert res.returncode == 2 and res.stderr.count('\n') == 1, res.stderr
    assert f"{GOOD}: {missing} is missing; 'intrinsics: thesis' needs the scene's colour camera" in res.stderr, res.stderr
    assert not (tmp_path/'run').exists()
    sets.append('intrinsics=exact')                   # the depth camera: no colour camera needed, the config is fine
    res = run('train-3d', '--config', 'rgb_input_3d_recon_tiny', *[a for s in sets for a in ('--set', s)], '--device', 'cpu',
              '--set', 'trainer.max_steps=1', '--set', 'batch_size=1', '--no_progress')
    assert res.returncode == 0, res.stderr

def test_clean_and_augment_bad_input(tmp_path):
    (tmp_path/'junk.hdf5').write_text('not hdf5')
    for cmd in ('clean-backproj-data', 'augment-backproj-data'):
        res = run(cmd, tmp_path/'junk.hdf5', tmp_path/'out.hdf5')
        assert res.returncode == 2 and 'junk.hdf5: not a readable hdf5 file' in res.stderr
        res = run(cmd, tmp_path/'missing.hdf5', tmp_path/'out.hdf5')
        assert res.returncode == 2 and 'missing.hdf5: chunk file not found' in res.stderr
    with h5py.File(tmp_path/'other.hdf5', 'w') as f: f['x'] = np.zeros((2, 4, 4, 4), np.float64)
    res = run('clean-backproj-data', tmp_path/'other.hdf5', tmp_path/'out.hdf5')
    assert res.returncode == 2 and 'other.hdf5: not a chunk file' in res.stderr
    assert not (tmp_path/'out.hdf5').exists()

@pytest.mark.parametrize('cmd', ['prep-occ-grid', 'prep-backproj-data', 'clean-backproj-data', 'augment-backproj-data'])
def test_help(cmd):
    res = run(cmd, '--help')
    assert res.returncode == 0 and f'usage: thesis-recon {cmd}' in res.stdout

def test_prep_backproj_data_takes_a_shipped_config_by_name(tmp_path):
    # the shipped config is found by name and its relative paths read against the working folder (issue 26's path rule)
    p = subprocess.run([sys.executable, '-m', 'thesis_recon.cli', 'prep-backproj-data', 'backproj_prep', 'train', 'o.hdf5'],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.strip() == f"thesis-recon prep-backproj-data: {tmp_path/'splits'/'train.txt'}: split list not found"
    assert not (tmp_path/'o.hdf5').exists()
