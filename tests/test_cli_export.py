"""`thesis-recon export-scannet` as a user runs it: real arguments, worker processes, bad input."""
import json, subprocess, sys, zipfile
from pathlib import Path
import numpy as np
import pytest
from thesis_recon.frames import ScanNetScene
from thesis_recon.geometry import scale_intrinsics
from thesis_recon.images import write_png16
from thesis_recon.labels import LABEL_TSV_COLUMNS
from thesis_recon.sens import SensHeader, write_sens

KC = np.array([[110., 0, 47.5, 0], [0, 110, 35.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
KD = np.array([[73., 0, 31.5, 0], [0, 73, 23.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
NYU = {0: 0, 1: 1, 2: 5, 22: 23}

def run(*args):
    return subprocess.run([sys.executable, '-m', 'thesis_recon.cli', 'export-scannet', *map(str, args)],
                          capture_output=True, text=True, timeout=300)

def make_scan(root: Path, name: str, n: int, labels: str, seed: int):
    "A raw ScanNet scene (colour 96x72 jpeg, depth 64x48 zlib) with label-filt as a folder or a zip."
    rng = np.random.default_rng(seed)
    d = root/name; d.mkdir(parents=True)
    yy, xx = np.mgrid[0:72, 0:96]
    frames, raw_labels = [], []
    for k in range(n):
        pose = np.eye(4); pose[:3, 3] = (0.1 * k, 0.0, 1.5)
        color = np.stack([(xx + 7 * k) % 256, yy * 3, np.full_like(xx, 60)], -1).astype(np.uint8)
        depth = rng.integers(300, 5000, (48, 64)).astype(np.uint16)
        frames.append(dict(camera_to_world=pose, color=color, depth=depth))
        raw_labels.append(rng.choice(np.array([0, 1, 2, 22]), (72, 96)).astype(np.uint16))
    write_sens(d/f'{name}.sens', SensHeader(96, 72, 64, 48, KC, np.eye(4), KD, np.eye(4)), frames)
    if labels == 'folder':
        for k, l in enumerate(raw_labels): write_png16(d/'label-filt'/f'{k}.png', l)
    else:
        with zipfile.ZipFile(d/f'{name}_2d-label-filt.zip', 'w') as z:
            for k, l in enumerate(raw_labels):
                write_png16(root/'_tmp.png', l); z.write(root/'_tmp.png', f'label-filt/{k}.png')
    return frames, raw_labels

@pytest.fixture
def raw(tmp_path):
    root = tmp_path/'ScanNet'/'scans'
    scans = {'scene0000_00': make_scan(root, 'scene0000_00', 25, 'folder', 0),
             'scene0001_00': make_scan(root, 'scene0001_00', 12, 'zip', 1)}
    tsv = tmp_path/'scannetv2-labels.combined.tsv'
    rows = [LABEL_TSV_COLUMNS[:5], ('1', 'wall', 'wall', '10', '1'), ('2', 'chair', 'chair', '10', '5'),
            ('22', 'book', 'book', '10', '23')]
    tsv.write_text('\n'.join('\t'.join(r) for r in rows) + '\n')
    return tmp_path, scans, tsv

def _top_left(K, src, dst):
    "Intrinsics scaled about the top-left corner (OpenCV's nearest resize): f and c times the size ratio."
    return np.diag([dst[0] / src[0], dst[1] / src[1], 1.0]) @ K

# (--resize, depth rows/columns picked from the 64x48 depth at 32x24, the intrinsics' rule): by hand, OpenCV's nearest
# takes source column floor(u' * 2) = 2u', the centre rule floor((u' + 1/2) * 2) = 2u' + 1
RESIZES = [(None, np.s_[::2, ::2], _top_left), ('bilinear', np.s_[1::2, 1::2], scale_intrinsics)]

@pytest.mark.parametrize('resize, picked, scale_K', RESIZES, ids=['default_nearest', 'bilinear'])
def test_export_two_scenes_with_labels(raw, resize, picked, scale_K):
    tmp, scans, tsv = raw
    out = tmp/'export'
    res = run('--scannet_path', tmp/'ScanNet', '--output_path', out, '--export_label_images', '--label_map_file', tsv,
              '--frame_skip', 5, '--output_image_width', 32, '--output_image_height', 24, '--n_proc', 2,
              *(['--resize', resize] if resize else []))
    assert res.returncode == 0, res.stderr
    assert f'exported 8 frames to {out}' in res.stdout     # 5 + 3 frames
    for name, (frames, labels) in scans.items():
        sc = ScanNetScene(out/name)
        assert sc.frame_ids == list(range(0, len(frames), 5))
        np.testing.assert_allclose(sc.K, scale_K(KD[:3, :3], (64, 48), (32, 24)))
        np.testing.assert_allclose(sc.K_color, scale_K(KC[:3, :3], (96, 72), (32, 24)))
        for f in sc:
            k = f.frame_id
            np.testing.assert_array_equal(f.depth, frames[k]['depth'][picked] / np.float32(1000))
            np.testing.assert_array_equal(f.label, np.vectorize(NYU.get)(labels[k][1::3, 1::3]))
            np.testing.assert_array_equal(f.pose, frames[k]['camera_to_world'].astype(np.float32))
            assert f.color.shape == (24, 32, 3)
        assert json.loads((out/name/'.export.json').read_text())['frames'] == len(sc)
    again = run('--scannet_path', tmp/'ScanNet', '--output_path', out, '--export_label_images', '--label_map_file', tsv,
                '--frame_skip', 5, '--output_image_width', 32, '--output_image_height', 24, '--n_proc', 2,
                *(['--resize', resize] if resize else []))
    assert again.returncode == 0 and 'skipping 2 complete scenes' in again.stderr, again.stderr

def test_help_explains_options():
    res = run('--help')
    assert res.returncode == 0
    for opt in ('--scannet_path', '--output_path', '--export_label_images', '--label_map_file', '--frame_skip',
                '--output_image_width', '--output_image_height', '--scenes', '--n_proc', '--ray_address', '--resize'):
        assert opt in res.stdout, opt

def test_bad_input(raw):
    tmp, scans, tsv = raw
    res = run('--scannet_path', tmp/'missing', '--output_path', tmp/'o')
    assert res.returncode == 2 and 'missing: folder not found' in res.stderr, res.stderr
    tsv.rename(tmp/'elsewhere.tsv')      # without --label_map_file the table beside the scans is used; here there is none
    res = run('--scannet_path', tmp/'ScanNet', '--output_path', tmp/'o', '--export_label_images')
    (tmp/'elsewhere.tsv').rename(tsv)
    assert res.returncode == 2 and 'needs --label_map_file' in res.stderr, res.stderr
    res = run('--scannet_path', tmp/'ScanNet', '--output_path', tmp/'o', '--scenes', 'scene0042_00')
    assert res.returncode == 2 and 'scene0042_00' in res.stderr, res.stderr
    res = run('--scannet_path', tmp/'ScanNet', '--output_path', tmp/'o', '--resize', 'cubic')
    assert res.returncode == 2 and '--resize' in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not (tmp/'o').exists()
    # a truncated scan fails alone (exit 1, its file and frame named); the other scene is exported
    sens = tmp/'ScanNet'/'scans'/'scene0000_00'/'scene0000_00.sens'
    sens.write_bytes(sens.read_bytes()[:sens.stat().st_size // 2])
    out = tmp/'o2'
    res = run('--scannet_path', tmp/'ScanNet', '--output_path', out, '--frame_skip', 5,
              '--output_image_width', 32, '--output_image_height', 24, '--n_proc', 2)
    assert res.returncode == 1, res.stderr
    assert 'scene0000_00.sens: frame' in res.stderr and 'is unreadable' in res.stderr, res.stderr
    assert (out/'scene0001_00'/'.export.json').exists() and not (out/'scene0000_00'/'.export.json').exists()

def test_export_on_local_ray(raw, request):
    "The same export as Ray tasks on a Ray started for the run (slow: starting Ray takes ~15 s on two cores)."
    if 'slow' not in request.config.getoption('--flags').split(): pytest.skip('slow: run with --flags slow')
    pytest.importorskip('ray')
    tmp, scans, tsv = raw
    res = run('--scannet_path', tmp/'ScanNet', '--output_path', tmp/'ray_out', '--frame_skip', 5,
              '--output_image_width', 32, '--output_image_height', 24, '--ray-address', 'local', '--n_proc', 2)
    assert res.returncode == 0, res.stderr
    assert f'exported 8 frames to {tmp/"ray_out"}' in res.stdout
    for name, (frames, _) in scans.items():
        sc = ScanNetScene(tmp/'ray_out'/name)
        assert sc.frame_ids == list(range(0, len(frames), 5))
        np.testing.assert_array_equal(sc.frame(5).depth, frames[5]['depth'][::2, ::2] / np.float32(1000))
