"""The nets3d commands through the `thesis-recon` dispatcher: help, and bad input as one line + exit code 2 before any work."""
import json
import pytest
from thesis_recon.cli import main

@pytest.mark.parametrize('cmd', ['train-3d', 'infer-3d', 'experiment'])
def test_help(cmd, capsys):
    with pytest.raises(SystemExit) as e: main([cmd, '--help'])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert '--device' in out and (cmd == 'experiment' or '--config' in out) and '--no_progress' in out

def test_missing_config(tmp_path, capsys):
    assert main(['train-3d', '--config', str(tmp_path/'nope.json'), '--device', 'cpu']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'nope.json' in err[0]

def test_bad_key_and_missing_chunks(tmp_path, capsys):
    cfg = {'root': '.', 'train_file': 'train.hdf5', 'val_file': 'val.hdf5', 'trainer': {'epoch': 3}}
    (tmp_path/'c.json').write_text(json.dumps(cfg))
    assert main(['train-3d', '--config', str(tmp_path/'c.json'), '--device', 'cpu']) == 2
    assert "trainer.epoch" in capsys.readouterr().err
    cfg['trainer'] = {'epochs': 1}
    (tmp_path/'c.json').write_text(json.dumps(cfg))
    assert main(['train-3d', '--config', str(tmp_path/'c.json'), '--device', 'cpu']) == 2
    assert 'train.hdf5: chunk file not found' in capsys.readouterr().err

def test_set_override_checked(tmp_path, capsys):
    cfg = {'root': '.', 'train_file': 'train.hdf5', 'val_file': 'val.hdf5'}
    (tmp_path/'c.json').write_text(json.dumps(cfg))
    assert main(['train-3d', '--config', str(tmp_path/'c.json'), '--set', 'model_3d.num_classes="two"', '--device', 'cpu']) == 2
    assert 'model_3d.num_classes' in capsys.readouterr().err

def test_experiment_bad_data_path(tmp_path, capsys):
    assert main(['experiment', 'reconstruction', '--data_path', str(tmp_path), '--out', str(tmp_path/'o'), '--device', 'cpu']) == 2
    assert 'prepare-thesis-data' in capsys.readouterr().err

def _thesis_checkpoint(path, drop=None, seed=0):
    "A thesis 3D checkpoint from the RGB manifest: random values in the thesis's container, optionally without key `drop`."
    import torch
    from pathlib import Path
    from thesis_recon.weights import manifest_state_dict
    sd = manifest_state_dict(Path(__file__).parent/'originals'/'thesis_surfacenet_rgb.json', seed=seed)
    sd.pop(drop, None)
    torch.save({'epoch': 2, 'count': 10, 'count_val': 2, 'state_dict': sd, 'best_loss': 0.3, 'optimizer': {}}, path)
    return sd

def test_import_weights_thesis_surfacenet(tmp_path, capsys):
    import torch
    from thesis_recon.weights import load_imported
    sd = _thesis_checkpoint(tmp_path/'model_best.pth.tar')
    assert main(['import-weights', 'thesis-surfacenet', str(tmp_path/'model_best.pth.tar'), str(tmp_path/'rgb.tar')]) == 0
    assert 'rgb.tar' in capsys.readouterr().out
    model, config = load_imported(tmp_path/'rgb.tar')
    assert not model.training and config['task'] == 'reconstruction' and config['input'] == 'rgb'
    assert all(torch.equal(v, sd[k]) for k, v in model.state_dict().items())
    with torch.no_grad(): assert model(torch.randn(1, 15, 32, 32, 64)).shape == (1, 2, 32, 32, 64)

@pytest.mark.parametrize('case', ['missing_key', 'other_kind', 'truncated'])
def test_import_weights_thesis_surfacenet_bad(tmp_path, capsys, case):
    import torch
    src = tmp_path/'checkpoint.pth.tar'
    if case == 'missing_key': _thesis_checkpoint(src, drop='upconv3.1.weight')
    elif case == 'other_kind': torch.save({'epoch': 1, 'state_dict': {'0.0.weight': torch.zeros(13, 3, 3, 3)}}, src)
    else:
        _thesis_checkpoint(tmp_path/'full.pth.tar'); raw = (tmp_path/'full.pth.tar').read_bytes(); src.write_bytes(raw[:len(raw) // 2])
    assert main(['import-weights', 'thesis-surfacenet', str(src), str(tmp_path/'out.tar')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    want = {'missing_key': "'upconv3.1.weight'", 'other_kind': 'not a thesis SurfaceNet checkpoint', 'truncated': 'truncated'}[case]
    assert len(err) == 1 and str(src) in err[0] and want in err[0], err
    assert not (tmp_path/'out.tar').exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(('out', '.out'))]

@pytest.mark.parametrize('item, want', [('recon_rgb', 'expected NAME=FILE'), ('unet=a.tar', "'unet' is none of"),
                                        ('recon_rgb=missing.tar', 'missing.tar: no such file')])
def test_experiment_bad_weights(tmp_path, capsys, item, want):
    assert main(['experiment', 'reconstruction', '--weights', item, '--out', str(tmp_path/'o'), '--device', 'cpu']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and want in err[0], err
    assert not (tmp_path/'o').exists()


# --- issues 25/26: fast answers, the old spellings, the config path rule -----------------------------------------------
from test_cli import fast_answers   # noqa: E402  (tests/ is on the path: pytest's rootdir-relative import)

@pytest.mark.parametrize('argv,message', [
    (['train-3d', '--config', 'rgb_input_3d_recon_tiny', '--set', 'trainer.epoch=3'], "unknown key 'trainer.epoch'"),
    (['train-3d', '--config', 'rgb_input_3d_recon_tiny', '--set', 'trainer.max_steps=0'], "'trainer.max_steps' must be >= 1"),
    (['train-3d', '--config', 'rgb_input_3d_recon_tiny'], 'data/train.hdf5: chunk file not found (train_file)'),
    (['train-3d', '--config', 'nosuch_config'], 'no shipped config named nosuch_config'),
    (['infer-3d', '--checkpoint', 'runs/none/models'], 'no such file or folder'),
    (['infer-3d'], 'give --config, or --checkpoint'),
    (['experiment', 'reconstruction', '--data_path', 'nosuchdir', '--out', 'o'], '--data_path nosuchdir: no such folder'),
    (['experiment', 'reconstruction', '--weights', 'recon_rgb=missing.tar'], 'missing.tar: no such file'),
    (['experiment', 'reconstruction', '--device', 'tpu'], "invalid choice: 'tpu'"),
])
def test_argument_errors_answer_fast_in_one_line_and_write_nothing(argv, message, tmp_path):
    "Checked before torch is imported (a fresh process), one line naming the value, exit 2, nothing left in the working folder."
    (cmd, code, err, heavy), = fast_answers([argv], cwd=tmp_path)
    assert code == 2 and heavy == [], (code, heavy, err)
    last = err.strip().splitlines()[-1]
    assert message in last and last.count(cmd) == 1 and 'Traceback' not in err, err
    assert err.count('\n') == 1 or last.startswith(f'thesis-recon {cmd}: error: argument'), err
    assert list(tmp_path.iterdir()) == []

def test_one_device_and_progress_option_old_spelling_kept(capsys):
    for cmd in ('train-3d', 'infer-3d', 'experiment'):
        with pytest.raises(SystemExit): main([cmd, '--help'])
        out = capsys.readouterr().out
        assert '{auto,cpu,cuda}' in out and '--no_progress' in out and '--no-progress' not in out, cmd
    # --no-progress (the spelling these commands had) still parses: the error is the missing config, not the option
    assert main(['infer-3d', '--no-progress', '--config', 'nosuch.json']) == 2
    assert 'nosuch.json' in capsys.readouterr().err

REL_OUT = '''
import dataclasses, json
from pathlib import Path
from thesis_recon.experiments.budget import BUDGETS
from thesis_recon.experiments.thesis import experiment_data, row_config, run_row
b = dataclasses.replace(BUDGETS['tiny'].thesis, scenes=2, frames=12, chunks_per_scene=4, steps_3d=2, quick_data=False)   # (prepare-thesis-data's path)
out = Path('experiments')/'tiny'                 # relative, as the README's --out experiments
data = experiment_data(out, b, progress=False)
row = run_row('recon_rgb', row_config('recon_rgb', out, data, b), out, 'cpu', False)
print(json.dumps(row['steps']))
'''

def test_experiment_row_with_a_relative_out_from_another_folder(tmp_path):
    """The README's `experiment ... --out experiments` (relative) from an empty folder: the row's written config follows
    the config path rule (its paths are found from any working folder), the row trains and is evaluated."""
    import subprocess, sys
    from pathlib import Path
    from thesis_recon.nets3d.config import load_3d_config
    res = subprocess.run([sys.executable, '-c', REL_OUT], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads(res.stdout.strip().splitlines()[-1]) == 2
    root = tmp_path/'experiments'/'tiny'
    cfg = load_3d_config(root/'configs'/'recon_rgb.json')          # read from this test's working folder, not tmp_path
    for f in (cfg.train_file, cfg.val_file, cfg.root, cfg.out_dir):
        assert f.startswith(str(root) + '/') and Path(f).exists(), f
    assert (root/'runs'/'recon_rgb'/'models'/'config.json').is_file() and (root/'infer'/'recon_rgb'/'metrics.json').is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['experiments']

def test_experiment_says_a_line_per_stage(tmp_path, monkeypatch, capsys):
    """The experiment's flow with its stages stubbed: a line as each stage starts and ends (rows numbered, metrics rounded),
    the segmentation experiment's reconstruction row counted, the table from the rows; the command prints the data note."""
    import thesis_recon.experiments.thesis as E
    from thesis_recon.experiments.cli import experiment_main
    ran = []
    monkeypatch.setattr(E, 'experiment_data', lambda out, b, data_path, progress: {k: out/k for k in ('root', 'train', 'val')})
    monkeypatch.setattr(E, 'train_2d_net', lambda arch, *a: ran.append(arch) or tmp_path/f'{arch}.tar')
    monkeypatch.setattr(E, 'eval_2d_net', lambda arch, *a: {'output_size': '10x8', 'miou_output': 0.25, 'miou_full': 0.125})
    def run_row(name, cfg, out, device, progress):
        ran.append(name)
        k = cfg['model_3d']['num_classes']
        val = {'iou': 0.41234, 'fscore': 0.5, 'precision': 0.4, 'recall': 0.6} if k == 2 else {'miou': 0.3, 'miou_all': 0.2}
        scenes = {'mesh_fscore': 0.25} if k == 2 else {'mesh_miou': 0.35}
        return {'name': name, 'steps': 60, 'val': val, 'scenes': scenes, 'checkpoint': str(tmp_path/f'{name}.tar')}
    monkeypatch.setattr(E, 'run_row', run_row)
    (tmp_path/'o'/'tiny'/'rows').mkdir(parents=True); (tmp_path/'o'/'tiny'/'rows'/'seg_scratch.json').write_text('{}')
    assert experiment_main(['segmentation', '--out', str(tmp_path/'o'), '--device', 'cpu', '--no_progress']) == 0
    out = capsys.readouterr().out
    assert ran == ['deeplabv3', 'recon_deeplab', 'seg_scratch', 'seg_finetuned']
    for line in ('row 1/3 recon_deeplab: training (60 steps)', '  recon_deeplab: 60 steps, 0 s; val iou 0.412, fscore 0.500',
                 'row 3/3 seg_finetuned: training', 'row 2/3 seg_scratch: kept from an earlier run', '  seg_scratch: 60 steps, 0 s; val miou 0.300, miou_all 0.200; mesh_miou 0.350',
                 '2D network deeplabv3: training (30 steps)', 'SYNTHETIC scans (not ScanNet)', '| fine-tuned from reconstruction | 0.350 | 0.300 | 0.200 | — | 0.647 |', 'the thesis\'s GT scenes'):
        assert line in out, (line, out)
    assert (tmp_path/'o'/'tiny'/'segmentation.md').is_file()

def test_cuda_without_a_gpu_is_one_line_before_any_work(tmp_path, capsys):
    import torch
    if torch.cuda.is_available(): pytest.skip('a GPU is here')
    assert main(['experiment', 'reconstruction', '--device', 'cuda', '--out', str(tmp_path/'o')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and '--device cuda' in err[0] and 'no GPU' in err[0], err
    assert not (tmp_path/'o').exists()

def test_compile_without_a_cpp_compiler_is_one_line_before_any_work(tmp_path, capsys, monkeypatch):
    "train-3d --compile where torch could not build its CPU code (CXX names no program): one line, exit 2, nothing written."
    for name in ('train.hdf5', 'val.hdf5'): (tmp_path/name).touch()
    (tmp_path/'c.json').write_text(json.dumps({'root': '.', 'train_file': 'train.hdf5', 'val_file': 'val.hdf5', 'out_dir': 'out'}))
    monkeypatch.setenv('CXX', 'no-such-compiler')
    code = main(['train-3d', '--config', str(tmp_path/'c.json'), '--device', 'cpu', '--compile'])   # train_3d's check, as in a notebook
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and '--compile: CXX=no-such-compiler is not a program on PATH' in err[0], err
    assert not (tmp_path/'out').exists()
