"""`thesis-recon generate-gt` and `thesis-recon demo` as a user runs them, including bad input."""
import json, pickle, shutil, subprocess, sys
from pathlib import Path
import numpy as np
import pytest


def run(*args, cwd=None):
    return subprocess.run([sys.executable, '-m', 'thesis_recon.cli', *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    "Two small synthetic scenes in NeuralRecon's layout (data/scans/...) and a split folder."
    from thesis_recon.synthetic import make_synthetic_scans
    d = tmp_path_factory.mktemp('nr')/'data'
    make_synthetic_scans(d/'scans', n_scenes=2, n_frames=30, width=160, height=120, progress=False)
    (d/'splits').mkdir()
    (d/'splits'/'scannetv2_train.txt').write_text('scene0000_00\n')
    (d/'splits'/'scannetv2_val.txt').write_text('scene0001_00\n')
    return d


def test_help():
    for cmd in ('generate-gt', 'demo'):
        res = run(cmd, '--help')
        assert res.returncode == 0 and f'thesis-recon {cmd}' in res.stdout


def test_generate_gt_two_workers_then_resume(data):
    res = run('generate-gt', '--data_path', data, '--split_dir', data/'splits', '--n_proc', '2')
    assert res.returncode == 0, res.stderr
    assert '2 scenes fused' in res.stdout
    for s in ('scene0000_00', 'scene0001_00'):
        out = data/'all_tsdf_9'/s
        assert sorted(p.name for p in out.iterdir()) == ['fragments.pkl', 'full_tsdf_layer0.npz', 'full_tsdf_layer1.npz',
                                                         'full_tsdf_layer2.npz', 'tsdf_info.pkl']
        info = pickle.loads((out/'tsdf_info.pkl').read_bytes())
        assert info['voxel_size'] == 0.04 and info['vol_origin'].dtype == np.float32
        tsdf = np.load(out/'full_tsdf_layer0.npz')['arr_0']
        assert tsdf.dtype == np.float32 and tsdf.min() < 0 < tsdf.max()
    train = pickle.loads((data/'all_tsdf_9'/'fragments_train.pkl').read_bytes())
    val = pickle.loads((data/'all_tsdf_9'/'fragments_val.pkl').read_bytes())
    assert train and {f['scene'] for f in train} == {'scene0000_00'}
    assert val and {f['scene'] for f in val} == {'scene0001_00'}
    assert all(len(f['image_ids']) == 9 for f in train + val)
    assert not list((data/'all_tsdf_9').rglob('*.tmp*'))          # no temporary file left behind
    res = run('generate-gt', '--data_path', data, '--split_dir', data/'splits', '--n_proc', '0')
    assert res.returncode == 0 and '0 scenes fused, 2 already done' in res.stdout, res.stdout + res.stderr


def test_generate_gt_test_split(data, tmp_path):
    d = tmp_path/'data'
    shutil.copytree(data/'scans'/'scene0001_00', d/'scans_test'/'scene0707_00')
    (d/'splits').mkdir(); (d/'splits'/'scannetv2_test.txt').write_text('scene0707_00\n')
    res = run('generate-gt', '--data_path', d, '--test', '--split_dir', d/'splits', '--n_proc', '1', '--save_name', 'gt_test')
    assert res.returncode == 0, res.stderr
    test = pickle.loads((d/'gt_test'/'fragments_test.pkl').read_bytes())
    assert test and {f['scene'] for f in test} == {'scene0707_00'}
    assert not (d/'gt_test'/'fragments_train.pkl').exists()


def test_generate_gt_bad_input(data, tmp_path):
    res = run('generate-gt', '--data_path', tmp_path/'missing')
    assert res.returncode == 2 and 'missing/scans: no such folder' in res.stderr
    res = run('generate-gt', '--data_path', data, '--voxel_size', '0')
    assert res.returncode == 2 and '--voxel_size must be > 0' in res.stderr
    bad = tmp_path/'bad'
    shutil.copytree(data/'scans'/'scene0000_00', bad/'scans'/'scene_nan')
    for p in (bad/'scans'/'scene_nan'/'pose').glob('*.txt'): p.write_text('nan ' * 16)
    shutil.copytree(data/'scans'/'scene0001_00', bad/'scans'/'scene_small')
    from PIL import Image
    Image.fromarray(np.full((60, 80), 1500, np.uint16)).save(bad/'scans'/'scene_small'/'depth'/'7.png')
    res = run('generate-gt', '--data_path', bad, '--split_dir', data/'splits', '--n_proc', '0')
    assert res.returncode == 1
    assert 'scene_nan: ThesisReconError' in res.stderr and 'no frame has a valid pose' in res.stderr
    assert 'scene_small: ThesisReconError' in res.stderr and 'frame 7: depth of size 80x60' in res.stderr
    assert not (bad/'all_tsdf_9'/'scene_nan').exists() and not (bad/'all_tsdf_9'/'scene_small'/'fragments.pkl').exists()


def test_demo_synthetic(tmp_path):
    res = run('demo', '--out', tmp_path/'demo', '--frames', '24', '--size', '160', '120')
    assert res.returncode == 0, res.stderr
    assert 'fscore' in res.stdout and '2 cm' in res.stdout
    files = sorted(p.name for p in (tmp_path/'demo').iterdir())
    assert files == ['demo.png', 'mesh.html', 'mesh_2cm.ply', 'mesh_4cm.ply', 'metrics.json', 'scan']
    rep = json.loads((tmp_path/'demo'/'metrics.json').read_text())
    assert rep['volumes']['2 cm']['fscore'] > 0.8 and rep['volumes']['4 cm']['fscore'] > 0.8
    assert rep['protocol'] == rep['volumes']['2 cm']['protocol'] == 'vertices' and 'observes' in rep['ground_truth_rule']
    assert rep['other_protocols']['surface']['2 cm']['fscore'] > 0.8 and '2 cm, surface' in res.stdout


def test_demo_seven_scenes_without_ground_truth(tmp_path):
    from thesis_recon.core import shared_data
    seven = shared_data('7scenes-excerpt')
    if seven is None: pytest.skip('shared/data/7scenes-excerpt not found')
    res = run('demo', '--scene', seven, '--out', tmp_path/'seven', '--voxel_sizes', '0.05')
    assert res.returncode == 0, res.stderr
    assert 'no ground-truth mesh' in res.stdout
    assert (tmp_path/'seven'/'mesh_5cm.ply').stat().st_size > 100_000
    from thesis_recon.mesh import read_ply
    colors = read_ply(tmp_path/'seven'/'mesh_5cm.ply').colors       # 7-Scenes colour fused as registered, as tsdf-fusion does
    assert colors is not None and colors.std() > 10


def test_demo_colour_of_another_size(tmp_path):
    from PIL import Image
    from thesis_recon.core import shared_data
    seven = shared_data('7scenes-excerpt')
    if seven is None: pytest.skip('shared/data/7scenes-excerpt not found')
    scan = tmp_path/'seq'; scan.mkdir()
    for i in (0, 10, 20):
        for kind in ('color.jpg', 'depth.png', 'pose.txt'): shutil.copy(Path(seven)/f'frame-{i:06d}.{kind}', scan)
    Image.open(scan/'frame-000010.color.jpg').resize((320, 240)).save(scan/'frame-000010.color.jpg')
    res = run('demo', '--scene', scan, '--out', tmp_path/'o', '--voxel_sizes', '0.1', '--no_progress')
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert 'frame 10: colour image 320x240 does not fit the depth image 640x480' in res.stderr
    assert not (tmp_path/'o').exists() or not any((tmp_path/'o').iterdir())
    res = run('demo', '--scene', scan, '--out', tmp_path/'depth_only', '--voxel_sizes', '0.1', '--no_progress', '--no_color')
    assert res.returncode == 0, res.stderr                                  # depth-only fusion never reads the colour
    from thesis_recon.mesh import read_ply
    assert read_ply(tmp_path/'depth_only'/'mesh_10cm.ply').colors is None
    assert json.loads((tmp_path/'depth_only'/'metrics.json').read_text())['color'] is False


def test_demo_bad_input(tmp_path):
    res = run('demo', '--scene', tmp_path/'nowhere', '--out', tmp_path/'o')
    assert res.returncode == 2 and 'nowhere: no such scan' in res.stderr
    (tmp_path/'empty').mkdir()
    res = run('demo', '--scene', tmp_path/'empty', '--out', tmp_path/'o')
    assert res.returncode == 2 and 'not a scan this package reads' in res.stderr
    res = run('demo', '--frames', '0')
    assert res.returncode == 2 and '--frames must be at least 1' in res.stderr


def test_mesh_html_shows_colours_and_lighting(tmp_path):
    "demo's mesh.html in headless Chromium (software WebGL): the vertex colours show, and shading varies over a sphere."
    import shutil as _sh
    chromium = _sh.which('chromium') or _sh.which('chromium-browser')
    if chromium is None: pytest.skip('Chromium is not installed (apt-get install chromium)')
    sync_api = pytest.importorskip('playwright.sync_api')
    from PIL import Image
    from thesis_recon.demo import k3d_snapshot
    from thesis_recon.geometry import look_at
    from thesis_recon.mesh import marching_cubes
    grid = np.indices((41, 41, 41)).transpose(1, 2, 3, 0) * 0.02 - 0.4
    paint = np.where(grid[..., :1] > 0, [220, 40, 40], [40, 40, 220])            # red for x > 0, blue for x < 0
    ball = marching_cubes(np.linalg.norm(grid, axis=-1) - 0.3, 0.0, [-0.4] * 3, 0.02, colors=paint)
    html = k3d_snapshot(ball, tmp_path/'mesh.html', cam_pose=look_at([0, -1.2, 0], [0, 0, 0]), look=1.2)
    args = ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-dev-shm-usage']
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=args)
        page = browser.new_page(viewport={'width': 640, 'height': 480})
        page.goto(html.resolve().as_uri())
        page.wait_for_selector('canvas', timeout=30_000)
        page.wait_for_timeout(4000)                                                 # let k3d draw its first frames
        page.screenshot(path=str(tmp_path/'shot.png'))
        browser.close()
    img = np.asarray(Image.open(tmp_path/'shot.png').convert('RGB')).astype(int)
    red = (img[..., 0] > img[..., 2] + 60) & (img[..., 0] > img[..., 1] + 60)
    blue = (img[..., 2] > img[..., 0] + 60) & (img[..., 2] > img[..., 1] + 60)
    assert red.sum() > 2000 and blue.sum() > 2000, (red.sum(), blue.sum())        # both halves, in their colours
    assert img[..., 0][red].std() > 8                                                 # lit: not one flat red
