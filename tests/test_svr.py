"""Single-view reconstruction: the Keras models run unchanged on the torch backend (same weights, same outputs), the
commands' --help, and bad input at the command line (one-line errors, exit code 2)."""
import os, subprocess, sys, textwrap
from pathlib import Path
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

_FORWARD = textwrap.dedent('''
    import sys, numpy as np, keras
    from keras import ops
    from thesis_recon.svr.config import tiny_svr_config
    from thesis_recon.svr.model import build_normal_unet, build_scene_net, build_decoder, block_trunc
    out, mode = sys.argv[1], sys.argv[2]
    cfg = tiny_svr_config()
    nets = {'normals': build_normal_unet(cfg.normals, 32), 'scene': build_scene_net(cfg.scene, 4, 16, 32),
            'decoder': build_decoder(cfg.decoder, block_trunc(4))}
    rng = np.random.default_rng(0)
    inputs = {'normals': rng.normal(size=(1, 32, 32, 3)).astype('float32'),
              'scene': rng.normal(size=(1, 32, 32, 6)).astype('float32'),
              'decoder': [rng.normal(size=(2, 16)).astype('float32'), rng.uniform(-1, 1, (2, 7, 3)).astype('float32')]}
    res = {'backend': keras.backend.backend()}
    for name, net in nets.items():
        if mode == 'save': net.save_weights(f'{out}/{name}.weights.h5')
        else: net.load_weights(f'{out}/{name}.weights.h5')
        np.save(f'{out}/{name}_{mode}.npy', ops.convert_to_numpy(net(inputs[name])))
    print(res['backend'])
''')

def test_models_run_on_the_torch_backend_with_the_same_outputs(tmp_path):
    pytest.importorskip('torch')
    script = tmp_path/'forward.py'; script.write_text(_FORWARD)
    tf = subprocess.run([sys.executable, str(script), str(tmp_path), 'save'], capture_output=True, text=True, cwd=ROOT,
                        env={**os.environ, 'KERAS_BACKEND': 'tensorflow'})
    assert tf.returncode == 0, tf.stderr[-3000:]
    th = subprocess.run([sys.executable, str(script), str(tmp_path), 'load'], capture_output=True, text=True, cwd=ROOT,
                        env={**os.environ, 'KERAS_BACKEND': 'torch'})
    assert th.returncode == 0, th.stderr[-3000:]
    assert th.stdout.strip().splitlines()[-1] == 'torch'
    for name, shape in (('normals', (1, 32, 32, 3)), ('scene', (1, 4, 4, 4, 32)), ('decoder', (2, 7, 11))):
        a, b = np.load(tmp_path/f'{name}_save.npy'), np.load(tmp_path/f'{name}_load.npy')
        assert a.shape == shape and b.shape == shape
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)

@pytest.mark.parametrize('cmd,opts', [
    ('svr-data', ('--out', '--scenes', '--views', '--resolution', '--image_size', '--latent_grid', '--mesh_spacing', '--config')),
    ('train-svr-decoder', ('--data', '--out', '--resume', '--config', '--set', '--device')),
    ('compress-scenes', ('--data', '--weights', '--steps', '--points', '--device')),
    ('train-svr-normals', ('--data', '--out', '--resume', '--epochs', '--device')),
    ('train-svr-scene', ('--data', '--weights', '--normals', '--resume', '--device')),
    ('predict-svr', ('--out', '--weights', '--mesh', '--fov', '--resolution', '--device', '--random_weights')),
    ('eval-svr', ('--data', '--weights', '--max_views', '--out', '--device'))])
def test_help_explains_every_option(cmd, opts, capsys):
    from thesis_recon.cli import main
    with pytest.raises(SystemExit) as e: main([cmd, '--help'])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for o in opts: assert o in out, (cmd, o)
    if '--resume' in opts: assert '--resume [CHECKPOINT]' in out, cmd      # as every training command takes it

def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    from PIL import Image
    from thesis_recon.cli import main
    assert main(['svr-data', '--out', str(tmp_path/'d'), '--scenes', '1', '--views', '1', '--resolution', '30', '--latent-grid', '4']) == 2
    assert 'must be a multiple of --latent-grid 4' in capsys.readouterr().err
    Image.fromarray(np.zeros((8, 8, 4), np.uint8)).save(tmp_path/'rgba.png')
    assert main(['predict-svr', str(tmp_path/'rgba.png'), '--out', str(tmp_path/'o.hdf5'), '--random-weights']) == 2
    assert 'expected a 3-channel RGB image, got mode RGBA' in capsys.readouterr().err
    assert main(['compress-scenes', '--data', str(tmp_path), '--weights', str(tmp_path/'none')]) == 2
    assert 'svr_config.json: not found' in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:                    # the one --device option of core: argparse refuses the name
        main(['predict-svr', str(tmp_path/'rgba.png'), '--out', str(tmp_path/'o.hdf5'), '--random-weights', '--device', 'tpu'])
    assert e.value.code == 2 and "invalid choice: 'tpu'" in capsys.readouterr().err
    for cmd, where in (('train-svr-normals', '--out'), ('train-svr-scene', '--weights'), ('train-svr-decoder', '--out')):
        assert main([cmd, '--data', str(tmp_path), where, str(tmp_path/'w'), '--resume', str(tmp_path/'w'/'nowhere.weights.h5')]) == 2
        assert 'nowhere.weights.h5: checkpoint not found' in capsys.readouterr().err, cmd
    assert main(['train-svr-normals', '--data', str(tmp_path), '--out', str(tmp_path/'w'), '--resume', str(tmp_path/'rgba.png')]) == 2
    assert 'expected a checkpoint NAME.weights.h5' in capsys.readouterr().err
    assert not (tmp_path/'w').exists()

def test_predict_with_random_weights_writes_the_original_keys(tmp_path, capsys):
    import h5py
    from PIL import Image
    from thesis_recon.cli import main
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(tmp_path/'img.png')
    out = tmp_path/'new'/'folder'/'o.hdf5'                  # the output folder is made, as by every command
    assert main(['predict-svr', str(tmp_path/'img.png'), '--out', str(out), '--random-weights', '--device', 'cpu']) == 0
    assert 'voxelblock 32^3' in capsys.readouterr().out    # the file's key names
    with h5py.File(out) as f:
        assert f['combined_latent_block'].shape == (4, 4, 4, 16) and f['voxelblock'].dtype == np.uint16
        assert f['classes'].shape == (32, 32, 32)

def test_view_file_missing_a_key(tmp_path):
    from thesis_recon.core import ThesisReconError
    from thesis_recon.svr.data import load_view
    np.savez(tmp_path/'v.npz', color=np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ThesisReconError, match=r'v.npz: missing key\(s\) tsdf'): load_view(tmp_path/'v.npz', ('color', 'tsdf'))


# ---- import-weights svr-*: the original's TF checkpoints ----
MANIFESTS = ROOT/'tests'/'originals'

def _latent_file(path, empty, filled):
    import h5py
    with h5py.File(path, 'w') as f: f['empty_latent_vec'], f['filled_latent_vec'] = empty, filled

def _original_generator(values, xyz, latents, tau=0.8):
    "generator.py's forward pass from the checkpoint's own arrays: Fourier (RandomState(0), scale 0.5), [512, 128] ReLU, clip, softmax."
    B = np.random.RandomState(0).normal(scale=0.5, size=(64, 3)).T
    proj = (2 * np.pi * xyz.astype(np.float64)) @ B
    dense = lambda x, g, i: x @ values[f'{g}/{i}/kernel'] + values[f'{g}/{i}/bias']
    h = np.concatenate([np.sin(proj), np.cos(proj), latents], -1)
    h = np.maximum(dense(h, '_layers', 0), 0); h = np.maximum(dense(h, '_layers', 1), 0)
    logits = dense(np.maximum(dense(h, '_class_layers', 0), 0), '_class_layers', 1)
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return np.clip(dense(h, '_layers', 2), -tau, tau)[:, 0], e / e.sum(-1, keepdims=True)

def test_imported_decoder_computes_the_originals_formula(tmp_path, capsys):
    from thesis_recon.cli import main
    from thesis_recon.svr.convert import manifest_tf_checkpoint
    from thesis_recon.weights import load_imported
    values = manifest_tf_checkpoint(MANIFESTS/'svr_implicit_decoder.json', tmp_path/'ck'/'cp-0000.ckpt', seed=5, scale=0.1)
    rng = np.random.default_rng(0)
    _latent_file(tmp_path/'lat.hdf5', rng.normal(size=512).astype(np.float32), rng.normal(size=512).astype(np.float32))
    assert main(['import-weights', 'svr-decoder', str(tmp_path/'ck'/'cp-0000.ckpt.index'), str(tmp_path/'w'),
                 '--latents', str(tmp_path/'lat.hdf5')]) == 0
    decoder, config = load_imported(tmp_path/'w')
    xyz = rng.uniform(-1, 1, (7, 3)).astype(np.float32); lat = rng.normal(0, 1, (7, 512)).astype(np.float32)
    tsdf, probs = decoder(xyz, lat)
    ref_t, ref_p = _original_generator(values, xyz, lat)
    assert tsdf.shape == (7,) and probs.shape == (7, 10)
    np.testing.assert_allclose(tsdf, ref_t, atol=1e-4)
    np.testing.assert_allclose(probs, ref_p, atol=1e-5)
    assert config.decoder.hidden == [512, 128] and config.data.latent_grid == 16

def test_import_bad_input_is_one_line_and_nothing_is_written(tmp_path, capsys):
    from thesis_recon.cli import main
    from thesis_recon.svr.convert import manifest_tf_checkpoint
    manifest_tf_checkpoint(MANIFESTS/'svr_implicit_decoder.json', tmp_path/'dec'/'cp-0000.ckpt')
    manifest_tf_checkpoint(MANIFESTS/'svr_unet_normal.json', tmp_path/'unet'/'checkpoint.ckpt')
    rng = np.random.default_rng(0)
    _latent_file(tmp_path/'dec'/'empty_and_filled_latent_value.hdf5', rng.normal(size=512).astype(np.float32), rng.normal(size=512).astype(np.float32))
    _latent_file(tmp_path/'unet'/'empty_and_filled_latent_value.hdf5', rng.normal(size=512).astype(np.float32), rng.normal(size=512).astype(np.float32))
    _latent_file(tmp_path/'short.hdf5', np.zeros(511, np.float32), np.zeros(511, np.float32))
    out = tmp_path/'out'
    cases = [(['svr-decoder', tmp_path/'dec'/'cp-0001.ckpt.index'], 'cp-0001.ckpt'),                   # no such checkpoint
             (['svr-decoder', tmp_path/'unet'/'checkpoint.ckpt.index'], "unexpected key 'decoder_layers_"),   # another network
             (['svr-normals', tmp_path/'dec'/'cp-0000.ckpt.index'], "unexpected key '_"),
             (['svr-decoder', tmp_path/'dec'/'cp-0000.ckpt.index', '--latents', tmp_path/'short.hdf5'], 'empty_latent_vec is float32 [511]')]
    for args, msg in cases:
        assert main(['import-weights', str(args[0]), str(args[1]), str(out), *map(str, args[2:])]) == 2, args
        err = capsys.readouterr().err
        assert msg in err and len(err.strip().splitlines()) == 1 and 'Traceback' not in err, (args, err)
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.out')]      # no temporary folder left behind

def test_import_weights_help_names_the_latents_option(capsys):
    from thesis_recon.cli import main
    with pytest.raises(SystemExit) as e: main(['import-weights', 'svr-decoder', '--help'])
    assert e.value.code == 0 and '--latents' in capsys.readouterr().out
