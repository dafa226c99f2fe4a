"""`thesis-recon pcm-data`, `train-pcm` and `reconstruct-depth` as a user runs them: every native layout, bad input."""
import json, math
import numpy as np
import pytest
from thesis_recon.cli import main


def cli(args):
    return main([str(a) for a in args])


@pytest.fixture(scope='module')
def sources(tmp_path_factory):
    "Tiny fixtures of the three native layouts: ScanNet (.sens), 3D Ken Burns (exr + json), Taskonomy (png + json)."
    from thesis_recon.synthetic import write_scannet_raw
    from thesis_recon.synthetic_scene import make_scene
    from thesis_recon.trajectories import random_views, intrinsics_from_fov
    from thesis_recon.pcm.data import write_exr_depth
    from thesis_recon.images import write_png16
    root = tmp_path_factory.mktemp('pcm_sources')
    scene = make_scene(0)
    poses, _ = random_views(scene, 4, width=64, height=48)
    write_scannet_raw(scene, poses, root/'scannet'/'scans', 'scene0000_00', width=64, height=48, K=intrinsics_from_fov(60, 64, 48))
    kb = root/'kenburns'
    for scene_name, depth in (('a', np.full((32, 40), 2.0, np.float32)), ('b', np.linspace(1, 3, 1280, dtype=np.float32).reshape(32, 40))):
        write_exr_depth(kb/'depths'/scene_name/'scan00.exr', depth)
        (kb/'rgb'/scene_name).mkdir(parents=True)
        (kb/'rgb'/scene_name/'scan00.json').write_text(json.dumps({'fltFov': 60.0}))
    ts = root/'taskonomy'
    raw = np.full((32, 32), 1024, np.uint16); raw[0, :4] = 65535
    write_png16(ts/'depth_zbuffer'/'taskonomy'/'cosmos'/'point_1_view_2_domain_depth_zbuffer.png', raw)
    (ts/'point_info'/'taskonomy'/'cosmos').mkdir(parents=True)
    (ts/'point_info'/'taskonomy'/'cosmos'/'point_1_view_2_domain_point_info.json').write_text(json.dumps({'field_of_view_rads': 1.0}))
    return root


def test_help(capsys):
    for cmd, words in (('pcm-data', ['-ss', '-ns', '--synthetic']), ('train-pcm', ['--input_chanels', '--print_losses_evry', '--num_w']),
                       ('reconstruct-depth', ['--models', '--rgb', '--focal_model'])):
        with pytest.raises(SystemExit) as e: cli([cmd, '--help'])
        out = capsys.readouterr().out
        assert e.value.code == 0 and f'thesis-recon {cmd}' in out and all(w in out for w in words)


def test_pcm_data_reads_every_native_layout(sources, tmp_path, capsys):
    out = tmp_path/'pcm'
    assert cli(['pcm-data', '-ss', sources/'scannet', '-sk', sources/'kenburns', '-st', sources/'taskonomy', '-ns', '2,2,1',
                 '--synthetic', '2', '--width', '32', '--height', '24', '--out', out, '--quiet']) == 0
    assert 'wrote 7 depth maps' in capsys.readouterr().out
    names = sorted(p.stem for p in (out/'depths').iterdir())
    assert names == ['kenburns_000000', 'kenburns_000001', 'scannet_000000', 'scannet_000001', 'synthetic_000000',
                     'synthetic_000001', 'taskonomy_000000']
    f_kb = 20 / math.tan(math.radians(30))                     # 0.5 * max(40, 32) / tan(fltFov / 2)
    np.testing.assert_allclose(np.load(out/'intrinsics'/'kenburns_000000.npy'), [[f_kb, 0, 20], [0, f_kb, 16], [0, 0, 1]])
    np.testing.assert_allclose(np.load(out/'depths'/'kenburns_000000.npz')['arr_0'], 2.0)
    d_ts = np.load(out/'depths'/'taskonomy_000000.npz')['arr_0']
    assert (d_ts[0, :4] == 0).all() and np.allclose(d_ts[1:], 2.0)   # 1024 / 512 m; 65535 -> invalid
    np.testing.assert_allclose(np.load(out/'intrinsics'/'taskonomy_000000.npy')[0, 0], 16 / math.tan(0.5))
    assert len(np.load(out/'focals.npy')) == len(np.load(out/'scales.npy')) == 7 and (out/'histograms.png').stat().st_size > 0


def test_pcm_data_bad_input(sources, tmp_path, capsys):
    info = sources/'taskonomy'/'point_info'/'taskonomy'/'cosmos'/'point_1_view_2_domain_point_info.json'
    good = info.read_text()
    info.write_text(json.dumps({'resolution': 32}))
    try:
        assert cli(['pcm-data', '-st', sources/'taskonomy', '--out', tmp_path/'x', '--quiet']) == 2
        err = capsys.readouterr().err.strip()
        assert err.count('\n') == 0 and 'point_1_view_2_domain_point_info.json: no field of view' in err
    finally: info.write_text(good)
    from thesis_recon.pcm.data import write_exr_depth
    kb = tmp_path/'kb'
    write_exr_depth(kb/'depths'/'s'/'v.exr', np.ones((8, 8), np.float32), channel='G')
    (kb/'rgb'/'s').mkdir(parents=True); (kb/'rgb'/'s'/'v.json').write_text('{"fltFov": 50}')
    assert cli(['pcm-data', '-sk', kb, '--out', tmp_path/'y', '--quiet']) == 2
    assert 'v.exr: no depth channel' in capsys.readouterr().err


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    "A shift and a focal model trained for two steps through `train-pcm` (wiring, not learning: 83_pcm_train shows that)."
    root = tmp_path_factory.mktemp('pcm_models')
    assert cli(['pcm-data', '--synthetic', '8', '--width', '32', '--height', '24', '--out', root/'data', '--quiet']) == 0
    for target in ('0', '2'):
        assert cli(['train-pcm', '--data', root/'data', '--out', root/'models', '--targets', target, '--widths', '8,8,8,8',
                     '--voxel_size', '0.1', '--max_points', '128', '--max_steps', '2', '--train_split', '0.75',
                     '--learning_rate_decay', '0.5', '--device', 'cpu', '--quiet']) == 0
    return root/'models'


def test_train_pcm_writes_best_beside_run(models):
    for kind in ('shift', 'focal'):
        assert (models/f'{kind}.tar').is_file() and any((models/kind).glob('events.out.tfevents*'))


def test_reconstruct_depth_every_format(models, tmp_path, capsys):
    from thesis_recon.pcm.data import write_exr_depth
    from thesis_recon.images import write_png16
    from thesis_recon.mesh import read_ply
    depth = np.linspace(1, 4, 48 * 64, dtype=np.float32).reshape(48, 64); depth[:2] = 0
    np.save(tmp_path/'d.npy', depth); np.savez(tmp_path/'d.npz', depth)
    write_exr_depth(tmp_path/'d.exr', depth); write_png16(tmp_path/'d.png', np.round(depth * 1000).astype(np.uint16))
    for name in ('d.npy', 'd.npz', 'd.exr', 'd.png'):
        assert cli(['reconstruct-depth', tmp_path/name, '--out', tmp_path/f'{name}.ply', '--models', models]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert 'focal' in out and 'shift' in out
        assert len(read_ply(tmp_path/f'{name}.ply').vertices) == 46 * 64


def test_reconstruct_depth_bad_input(models, tmp_path, capsys):
    np.save(tmp_path/'zero.npy', np.zeros((48, 64), np.float32))
    np.save(tmp_path/'nan.npy', np.full((48, 64), np.nan, np.float32))
    np.save(tmp_path/'ok.npy', np.ones((48, 64), np.float32))
    cases = [(['zero.npy'], 'zero.npy: only 0 valid'), (['nan.npy'], 'nan.npy: depth has 3072 NaN/inf'),
             (['ok.npy', '--shift_model', models/'focal.tar'], 'focal.tar: this is a focal model, expected a shift model'),
             (['ok.npy', '--focal_model', models/'nothing.tar'], 'nothing.tar: model file not found')]
    for args, msg in cases:
        assert cli(['reconstruct-depth', tmp_path/args[0], *args[1:], '--out', tmp_path/'c.ply', '--models', models]) == 2
        err = capsys.readouterr().err.strip()
        assert msg in err and err.count('\n') == 0, err
