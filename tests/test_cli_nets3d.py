"""The nets3d commands through the `thesis-recon` dispatcher: help, and bad input as one line + exit code 2 before any work."""
import json
import pytest
from thesis_recon.cli import main

@pytest.mark.parametrize('cmd', ['train-3d', 'infer-3d', 'experiment'])
def test_help(cmd, capsys):
    with pytest.raises(SystemExit) as e: main([cmd, '--help'])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert '--device' in out and (cmd == 'experiment' or '--config' in out)

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
