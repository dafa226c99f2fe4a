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
                 '--synthetic', '2', '--width', '32', '--height', '24', '--out', out, '--no_progress']) == 0
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
        assert cli(['pcm-data', '-st', sources/'taskonomy', '--out', tmp_path/'x', '--no_progress']) == 2
        err = capsys.readouterr().err.strip()
        assert err.count('\n') == 0 and 'point_1_view_2_domain_point_info.json: no field of view' in err
    finally: info.write_text(good)
    from thesis_recon.pcm.data import write_exr_depth
    kb = tmp_path/'kb'
    write_exr_depth(kb/'depths'/'s'/'v.exr', np.ones((8, 8), np.float32), channel='G')
    (kb/'rgb'/'s').mkdir(parents=True); (kb/'rgb'/'s'/'v.json').write_text('{"fltFov": 50}')
    assert cli(['pcm-data', '-sk', kb, '--out', tmp_path/'y', '--no_progress']) == 2
    assert 'v.exr: no depth channel' in capsys.readouterr().err


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    "A shift and a focal model trained for two steps through `train-pcm` (wiring, not learning: 83_pcm_train shows that)."
    root = tmp_path_factory.mktemp('pcm_models')
    assert cli(['pcm-data', '--synthetic', '8', '--width', '32', '--height', '24', '--out', root/'data', '--no_progress']) == 0
    for target in ('0', '2'):
        assert cli(['train-pcm', '--data', root/'data', '--out', root/'models', '--targets', target, '--widths', '8,8,8,8',
                     '--voxel_size', '0.1', '--max_points', '128', '--max_steps', '2', '--train_split', '0.75',
                     '--learning_rate_decay', '0.5', '--device', 'cpu', '--no_progress']) == 0
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
    from thesis_recon.pcm.evaluate import recover_shift_focal
    shift, _ = recover_shift_focal(depth, models/'focal.tar', models/'shift.tar')
    kept = int((depth - shift > 0)[depth > 0].sum())          # pixels moved to or behind the camera by the shift drop out
    for name in ('d.npy', 'd.npz', 'd.exr', 'd.png'):
        assert cli(['reconstruct-depth', tmp_path/name, '--out', tmp_path/f'{name}.ply', '--models', models]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert 'focal' in out and 'shift' in out
        assert abs(len(read_ply(tmp_path/f'{name}.ply').vertices) - kept) <= (64 if name == 'd.png' else 0)


def test_reconstruct_depth_bad_input(models, tmp_path, capsys):
    np.save(tmp_path/'zero.npy', np.zeros((48, 64), np.float32))
    np.save(tmp_path/'nan.npy', np.full((48, 64), np.nan, np.float32))
    np.save(tmp_path/'ok.npy', np.ones((48, 64), np.float32))
    cases = [(['zero.npy'], 'zero.npy: only 0 valid'), (['nan.npy'], 'nan.npy: depth has 3072 NaN/inf'),
             (['ok.npy', '--shift_model', models/'focal.tar'], 'focal.tar: this is a focal model, expected a shift model'),
             (['ok.npy', '--focal_model', models/'nothing.tar'], 'nothing.tar: model file not found'),
             (['ok.npy', '--rgb', tmp_path/'no.png'], 'no.png: image not found'),
             (['ok.npy', '--png_scale', '0'], '--png_scale 0: must be positive'),
             (['ok.npy', '--focal_guess', '-5'], '--focal_guess -5: must be positive')]
    import torch
    if not torch.cuda.is_available(): cases.append((['ok.npy', '--device', 'cuda'], '--device cuda: torch sees no GPU'))
    for args, msg in cases:
        assert cli(['reconstruct-depth', tmp_path/args[0], *args[1:], '--out', tmp_path/'c.ply', '--models', models]) == 2
        err = capsys.readouterr().err.strip()
        assert msg in err and err.count('\n') == 0, err
    assert not (tmp_path/'c.ply').exists()


def test_bad_sizes_and_counts_write_nothing(models, tmp_path, capsys):
    "pcm-data's and train-pcm's non-positive sizes and counts, and --device cuda without a GPU: one line naming the value, exit 2."
    import torch
    data = models.parent/'data'
    cases = [(['pcm-data', '--synthetic', '3', '--width', '0', '--out', tmp_path/'o'], '--width 0: must be at least 1'),
             (['pcm-data', '--synthetic', '3', '--views_per_scene', '-1', '--out', tmp_path/'o'], '--views_per_scene -1'),
             (['pcm-data', '--synthetic', '-2', '--out', tmp_path/'o'], '--synthetic -2: must be >= 0'),
             (['train-pcm', '--data', data, '--out', tmp_path/'o', '--epochs', '0'], 'epochs (--epochs): must be at least 1, got 0'),
             (['train-pcm', '--data', data, '--out', tmp_path/'o', '--voxel_size', '0'], 'voxel_size (--voxel_size): must be positive'),
             (['train-pcm', '--data', data, '--out', tmp_path/'o', '--num_workers', '-1'], 'num_workers (--num_workers): must be >= 0'),
             (['train-pcm', '--data', tmp_path/'none', '--out', tmp_path/'o'], 'none: not a pcm-data folder')]
    if not torch.cuda.is_available():
        cases.append((['train-pcm', '--data', data, '--out', tmp_path/'o', '--device', 'cuda'], '--device cuda: torch sees no GPU'))
    for args, msg in cases:
        assert cli(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert msg in err and err.count('\n') == 0, err
    assert list(tmp_path.iterdir()) == []


# ---- LeReS's own models (issue 23): the network, its quantisation, the import, the recovery ----

ORIG = __import__('pathlib').Path(__file__).parent/'originals'


def _leres_file(path, drop=None, transpose=None, only_depth=False):
    "A stand-in for LeReS's res50.pth from the manifests: {'depth_model', 'shift_model', 'focal_model'}, keys 'module.'-prefixed."
    import torch
    from thesis_recon.weights import manifest_state_dict
    depth = {'module.' + k: v for k, v in list(manifest_state_dict(ORIG/'leres_depth_res50.json').items())[:4]}
    obj = {'depth_model': depth}
    if not only_depth:
        for key, name, seed, start in (('shift_model', 'leres_shift_pcm', 1, 0.1), ('focal_model', 'leres_focal_pcm', 2, 1.0)):
            sd = manifest_state_dict(ORIG/f'{name}.json', seed=seed)
            sd['classifier.0.weight'] *= 0.01; sd['classifier.0.bias'].fill_(start)
            obj[key] = {'module.' + k: v for k, v in sd.items()}
        if drop: del obj[drop]
        if transpose: obj['shift_model']['module.' + transpose] = obj['shift_model']['module.' + transpose].transpose(1, 2).contiguous()
    torch.save(obj, path)
    return obj


def test_leres_network_matches_the_manifests():
    from thesis_recon.pcm.model import PCMNet
    from thesis_recon.weights import manifest_rows, manifest_param_count
    for name, ch in (('leres_shift_pcm', 3), ('leres_focal_pcm', 5), ('train3d_pcm_in3', 3), ('train3d_pcm_in5', 5)):
        net = PCMNet(ch)
        assert [(k, tuple(v.shape)) for k, v in net.state_dict().items()] == [(k, s) for k, s, _ in manifest_rows(ORIG/f'{name}.json')[1]]
        assert sum(p.numel() for p in net.parameters()) == manifest_param_count(ORIG/f'{name}.json')
    assert manifest_param_count(ORIG/'leres_shift_pcm.json') == 8_507_169


def test_torchsparse_offset_order():
    "kernel row 9(dz+1) + 3(dy+1) + (dx+1) for 3x3x3, 4dx + 2dy + dz for the stride-2 2x2x2: hand-built voxels."
    import torch
    from thesis_recon.pcm.model import SparseConv3d, encode_keys, neighbour_table, downsample
    conv = SparseConv3d(1, 1)
    with torch.no_grad(): conv.kernel.copy_(torch.arange(27.0).reshape(27, 1, 1))
    for other, row in (((0, 1, 1), 12), ((2, 1, 1), 14), ((1, 0, 1), 10), ((1, 2, 1), 16), ((1, 1, 0), 4), ((1, 1, 2), 22), ((2, 2, 2), 26)):
        c = torch.tensor([[0, 1, 1, 1], [0, *other]])
        keys, order = encode_keys(c).sort()
        with torch.no_grad(): out = conv(torch.tensor([[1.0], [10.0]])[order], neighbour_table(c[order], keys))
        centre = int((c[order][:, 1:] == torch.tensor([1, 1, 1])).all(1).nonzero())
        assert float(out[centre]) == 13 + 10 * row, (other, float(out[centre]))
    down = SparseConv3d(1, 1, 2)
    with torch.no_grad(): down.kernel.copy_(torch.arange(8.0).reshape(8, 1, 1))
    for child, row in (((1, 0, 0), 4), ((0, 1, 0), 2), ((0, 0, 1), 1), ((1, 1, 0), 6)):
        c = torch.tensor([[0, 2 + child[0], 4 + child[1], 6 + child[2]]])
        pc, pk, table, _ = downsample(c, encode_keys(c))
        assert pc.tolist() == [[0, 1, 2, 3]]
        with torch.no_grad(): assert float(down(torch.tensor([[1.0]]), table)) == row


def test_leres_quantisation_rules():
    "One point per voxel, the first; round(p / v) - min; at most max_points; the float32 c * 0.01 / 0.01 floor quirk."
    import numpy as np, torch
    from thesis_recon.pcm.data import leres_quantize, leres_cloud
    from thesis_recon.pcm.model import leres_float_coords, PCMNet
    coords, first = leres_quantize(np.array([[0.02, 0.0, 0.0], [0.011, 0.0, 0.0], [0.016, 0.0, 0.0], [0.0, 0.0, 0.0]]), 0.01)
    assert coords.tolist() == [[2, 0, 0], [1, 0, 0], [2, 0, 0], [0, 0, 0]] and first.tolist() == [3, 1, 0]
    depth = np.full((40, 40), 2.0, np.float32)
    feats, coords = leres_cloud(depth, 20.0, 20, 20, voxel_size=0.5, max_points=None)
    assert len(feats) == len(np.unique(coords, axis=0)) < 1600                 # pixels sharing a voxel kept once
    feats, coords = leres_cloud(depth, 20.0, 20, 20, voxel_size=0.001, max_points=100, rng=np.random.default_rng(0))
    assert feats.shape == (100, 3)
    assert torch.floor(leres_float_coords(torch.tensor([[15, 16, 27]]))).long().tolist() == [[14, 16, 26]]
    k = torch.arange(20000)[:, None].expand(-1, 3)
    assert abs(float((torch.floor(leres_float_coords(k))[:, 0] != k[:, 0]).float().mean()) - 0.066) < 0.002
    # the quirk reaches the output: a cloud at integer coordinates 15 vs 16 (quirk vs none) differs only through it
    net = PCMNet(3).eval(); pts = torch.rand(50, 3); b = torch.zeros(50, dtype=torch.int64)
    c = torch.randint(0, 8, (50, 3)); c[:, 0] += 15
    with torch.no_grad():
        net.float_quirk = False; plain = net(pts, b, c)
        net.float_quirk = True; quirk = net(pts, b, c)
    assert not torch.allclose(plain, quirk)


def test_import_leres_then_reconstruct(tmp_path, capsys):
    import torch
    from thesis_recon.weights import load_imported, manifest_param_count
    from thesis_recon.mesh import read_ply
    obj = _leres_file(tmp_path/'res50.pth')
    assert cli(['import-weights', 'leres', tmp_path/'res50.pth', tmp_path/'leres']) == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path/'leres').iterdir()) == ['focal.tar', 'shift.tar']
    for kind, name in (('shift', 'leres_shift_pcm'), ('focal', 'leres_focal_pcm')):
        model, cfg = load_imported(tmp_path/'leres'/f'{kind}.tar')
        assert not model.training and cfg['kind'] == kind
        assert sum(p.numel() for p in model.parameters()) == manifest_param_count(ORIG/f'{name}.json')
        sd = {k[len('module.'):]: v for k, v in obj[f'{kind}_model'].items()}
        assert model.state_dict().keys() == sd.keys() and all(torch.equal(model.state_dict()[k], v) for k, v in sd.items())
    depth = np.linspace(1, 4, 48 * 64, dtype=np.float32).reshape(48, 64)
    np.save(tmp_path/'d.npy', depth)
    assert cli(['reconstruct-depth', tmp_path/'d.npy', '--models', tmp_path/'leres', '--out', tmp_path/'c.ply', '--device', 'cpu']) == 0
    out = capsys.readouterr().out
    assert 'focal' in out and len(read_ply(tmp_path/'c.ply').vertices) > 0


@pytest.mark.parametrize('case', ['no_shift_model', 'transposed', 'depth_only'])
def test_import_leres_bad(tmp_path, capsys, case):
    src = tmp_path/'res101.pth'
    if case == 'no_shift_model': _leres_file(src, drop='shift_model')
    elif case == 'transposed': _leres_file(src, transpose='stage3.1.net.0.kernel')
    else: _leres_file(src, only_depth=True)
    assert cli(['import-weights', 'leres', src, tmp_path/'out']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    want = {'no_shift_model': "no 'shift_model'", 'transposed': "key 'stage3.1.net.0.kernel' has shape [27, 128, 64]",
            'depth_only': "no 'shift_model'"}[case]
    assert len(err) == 1 and str(src) in err[0] and want in err[0], err
    assert [p.name for p in tmp_path.iterdir()] == ['res101.pth']


def test_import_train3d_pcm(tmp_path, capsys):
    import torch
    from thesis_recon.weights import load_imported, manifest_state_dict
    torch.save(manifest_state_dict(ORIG/'train3d_pcm_in5.json'), tmp_path/'7')
    assert cli(['import-weights', 'train3d-pcm', tmp_path/'7', tmp_path/'focal.tar']) == 0
    model, cfg = load_imported(tmp_path/'focal.tar')
    assert (model.in_channels, cfg['kind'], cfg['voxel_size']) == (5, 'focal', 0.005)
    assert cli(['import-weights', 'train3d-pcm', tmp_path/'7', tmp_path/'x.tar', '--target', '0']) == 2
    assert 'focal (2)' in capsys.readouterr().err and not (tmp_path/'x.tar').exists()


def test_train_pcm_config(tmp_path, capsys):
    "The shipped configs through write-config, --config and --set; Train-3D's flags on top; bad keys named."
    from thesis_recon.pcm.cli import train_pcm_parser, pcm_config_from_args
    assert cli(['write-config', 'pcm_focal', tmp_path/'focal.yml', '--set', 'epochs=3']) == 0
    cfg = pcm_config_from_args(train_pcm_parser().parse_args(['--config', str(tmp_path/'focal.yml'), '--input_chanels', '5',
                                                              '--set', 'batch_size=2', '--data', str(tmp_path)]))
    assert (cfg.target, cfg.epochs, cfg.batch_size, cfg.input_channels, cfg.data) == (2, 3, 2, 5, tmp_path)
    cfg = pcm_config_from_args(train_pcm_parser().parse_args(['--config', 'pcm_shift', '--targets', '2', '--widths', '8,8,8,8']))
    assert (cfg.target, cfg.widths, cfg.learning_rate_decay) == (2, (8, 8, 8, 8), 0.9)
    assert cli(['train-pcm', '--config', 'pcm_shift', '--set', 'epoch=3']) == 2
    assert "unknown key 'epoch'" in capsys.readouterr().err
    assert cli(['train-pcm', '--config', 'pcm_shift', '--data', tmp_path/'none', '--learning_rate_decay', '2']) == 2
    assert 'learning_rate_decay' in capsys.readouterr().err


def test_train_pcm_both_models_from_the_shipped_configs(tmp_path, capsys):
    "The README's chain: pcm-data, train-pcm --config pcm_shift and pcm_focal into one folder, reconstruct-depth from it."
    assert cli(['pcm-data', '--synthetic', '6', '--width', '32', '--height', '24', '--out', tmp_path/'data', '--no_progress']) == 0
    for name in ('pcm_shift', 'pcm_focal'):
        assert cli(['train-pcm', '--config', name, '--data', tmp_path/'data', '--out', tmp_path/'pcm', '--widths', '8,8,8,8',
                    '--max_steps', '1', '--batch_size', '2', '--train_split', '0.5', '--device', 'cpu', '--no_progress']) == 0
    assert (tmp_path/'pcm'/'shift.tar').is_file() and (tmp_path/'pcm'/'focal.tar').is_file()
    from thesis_recon.pcm.model import load_pcm_model
    from thesis_recon.pcm.evaluate import recover_shift_focal
    from thesis_recon.mesh import read_ply
    records = [load_pcm_model(tmp_path/'pcm'/f'{kind}.tar', kind)[1]['validation'] for kind in ('shift', 'focal')]
    assert all(r is not None and r['maps'] == 3 for r in records), records          # each model carries its validation
    depth = np.linspace(1, 3, 24 * 32, dtype=np.float32).reshape(24, 32)
    np.save(tmp_path/'d.npy', depth)
    capsys.readouterr()
    assert cli(['reconstruct-depth', tmp_path/'d.npy', '--models', tmp_path/'pcm', '--out', tmp_path/'c.ply', '--device', 'cpu']) == 0
    out, err = capsys.readouterr()
    shift, focal = recover_shift_focal(depth, tmp_path/'pcm'/'focal.tar', tmp_path/'pcm'/'shift.tar')
    assert f'focal {focal:.1f} px' in out and f'shift {shift:.4g}' in out, out
    assert len(read_ply(tmp_path/'c.ply').vertices) == int((depth - shift > 0).sum())
    # a model that did not beat its constant baseline in its validation is used with one warning line, and only then
    weak = [kind for kind, r in zip(('shift', 'focal'), records) if not r['median_error'] < r['baseline_median_error']]
    lines = [l for l in err.splitlines() if l.strip()]
    assert sorted(l.split('.tar:')[0].split('/')[-1] for l in lines) == sorted(weak) and all('did not beat its constant baseline' in l for l in lines), err
