"""The semantic SRN's commands as a user runs them, on a tiny synthetic chair data set: train-srn (and --resume),
update-srn (linear head, U-Net), fit-srn (RGB and --reverse), render-srn, eval-srn, and their bad-input errors.
Commands run in-process through `thesis_recon.cli.main` (one torch/TensorBoard import for the module); one runs as a
subprocess to check the console path."""
import json, shutil, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import torch
from thesis_recon.cli import main
from thesis_recon.mesh import read_ply
from thesis_recon.train import load_checkpoint
from thesis_recon.srn.cli import srn_data_main

TINY = ['--embedding_size', 8, '--phi_hidden', 16, '--phi_layers', 2, '--tracing_steps', 3, '--rgb_hidden', 16,
        '--rgb_layers', 1, '--device', 'cpu', '--log_every', 2]

@pytest.fixture(scope='module', autouse=True)
def one_thread():
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

def cli(*args, capsys=None):
    rc = main([str(a) for a in args])
    err = capsys.readouterr().err if capsys is not None else ''
    return rc, err

@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('srn_data')
    assert srn_data_main([str(root), '--n_train', '3', '--n-test', '1', '--views_train', '4', '--views_val', '2',
                          '--views_test', '3', '--sidelength', '16']) == 0
    return root/'Chair'

@pytest.fixture(scope='module')
def trained(data, tmp_path_factory):
    log = tmp_path_factory.mktemp('srn_log')
    rc = main(['train-srn', '--data_root', str(data/'Chair.train'), '--val-root', str(data/'Chair.val'), '--logging_root', str(log),
               '--img_sidelengths', '8,16', '--batch_size_per_img_sidelength', '4', '4', '--max_steps_per_img_sidelength', '4,4',
               '--val_every', '4', '--lr', '1e-3', *map(str, TINY)])
    assert rc == 0
    return log

@pytest.fixture(scope='module')
def linear(data, trained, tmp_path_factory):
    log = tmp_path_factory.mktemp('srn_linear')
    rc = main(['update-srn', '--data_root', str(data/'Chair.train'), '--val_root', str(data/'Chair.val'), '--logging_root', str(log),
               '--checkpoint_path', str(trained/'checkpoints'/'model.tar'), '--img_sidelength', '16', '--max_steps', '4',
               '--max_num_instances_train', '3', '--val_every', '2', '--class_weight', '--device', 'cpu'])
    assert rc == 0
    return log

@pytest.fixture(scope='module')
def fitted(data, linear, tmp_path_factory):
    log = tmp_path_factory.mktemp('srn_fit')
    rc = main(['fit-srn', '--data_root', str(data/'Chair.test'), '--checkpoint_path', str(linear/'checkpoints'/'model.tar'),
               '--overwrite_embeddings', '--logging_root', str(log), '--img_sidelength', '16', '--max_steps', '3', '--device', 'cpu'])
    assert rc == 0
    return log

def test_train_writes_stages_and_resume_continues(data, trained, capsys):
    ck = load_checkpoint(trained/'checkpoints'/'16px'/'latest.tar')
    assert ck['step'] == 4 and ck['arch'] == 'SRN' and ck['config']['model']['num_instances'] == 3
    assert (trained/'config.yml').is_file() and any((trained/'events'/'8px').iterdir())
    rc, _ = cli('train-srn', '--data_root', data/'Chair.train', '--logging_root', trained, '--img_sidelengths', '8,16',
                '--batch_size_per_img_sidelength', '4,4', '--max_steps_per_img_sidelength', '4,6', '--resume', *TINY, capsys=capsys)
    assert rc == 0
    assert load_checkpoint(trained/'checkpoints'/'8px'/'latest.tar')['step'] == 4       # finished stage: not rerun
    assert load_checkpoint(trained/'checkpoints'/'16px'/'latest.tar')['step'] == 6

def test_fit_without_overwrite_embeddings_says_so(data, trained, capsys):
    ck = trained/'checkpoints'/'model.tar'
    rc, err = cli('fit-srn', '--data_root', data/'Chair.test', '--checkpoint_path', ck, '--img_sidelength', 16,
                  '--max_steps', 2, '--device', 'cpu', capsys=capsys)
    assert rc == 2
    assert str(ck) in err and 'has 3 latent codes' in err and '--overwrite_embeddings' in err

def test_update_head_is_linear_on_frozen_srn(linear, trained):
    ck = load_checkpoint(linear/'checkpoints'/'model.tar')
    assert ck['arch'] == 'SemanticSRN' and ck['config']['model']['num_classes'] == 5
    srn = load_checkpoint(trained/'checkpoints'/'model.tar')['model']
    for k, v in srn.items(): assert torch.equal(ck['model'][f'srn.{k}'], v), k      # the SRN did not move
    assert (linear/'checkpoints'/'best.tar').is_file()

def test_fit_render_eval_chain(data, fitted, tmp_path, capsys):
    ck = fitted/'checkpoints'/'model.tar'
    c = load_checkpoint(ck)
    assert c['config']['model']['num_instances'] == 1 and c['config']['run']['freeze_networks']
    rc, _ = cli('render-srn', '--checkpoint_path', ck, '--data_root', data/'Chair.test', '--logging_root', tmp_path/'r',
                '--point_cloud', '--orbit', 5, '--device', 'cpu', capsys=capsys)
    assert rc == 0
    inst = next((tmp_path/'r').iterdir())
    assert len(list((inst/'rgb').glob('*.png'))) == 5 and len(list((inst/'seg').glob('*.png'))) == 5
    gt = read_ply(inst/'point_cloud_gt_points.ply')
    assert gt.labels is not None and len(gt.vertices) > 100 and gt.labels.max() < 5
    assert (inst/'point_cloud.ply').is_file()
    # the renders are themselves an instance folder
    from thesis_recon.srn.data import read_instance
    assert len(read_instance(inst)) == 5
    rc, _ = cli('eval-srn', '--eval_mode', 'linear', '--checkpoint_path', ck, '--data_root', data/'Chair.test',
                '--logging_root', tmp_path/'e', '--device', 'cpu', capsys=capsys)
    assert rc == 0
    m = json.loads((tmp_path/'e'/'metrics.json').read_text())
    assert {'psnr', 'ssim', 'miou', 'category_miou', 'part_iou'} <= set(m) and 0 <= m['miou'] <= 1 and m['psnr'] > 0
    assert (tmp_path/'e'/'per_instance.csv').read_text().count('\n') == 2
    rc, _ = cli('eval-srn', '--eval_mode', 'srn', '--checkpoint_path', ck, '--data_root', data/'Chair.test',
                '--logging_root', tmp_path/'s', '--device', 'cpu', capsys=capsys)
    assert rc == 0 and 'miou' not in json.loads((tmp_path/'s'/'metrics.json').read_text())

def test_reverse_fits_codes_from_segmentation(data, linear, tmp_path, capsys):
    rc, _ = cli('fit-srn', '--data_root', data/'Chair.test', '--checkpoint_path', linear/'checkpoints'/'model.tar', '--reverse',
                '--overwrite-embeddings', '--specific_observation_idcs', '0,1', '--logging_root', tmp_path, '--img_sidelength', 16,
                '--max_steps', 2, '--device', 'cpu', capsys=capsys)
    assert rc == 0
    c = load_checkpoint(tmp_path/'checkpoints'/'model.tar')
    assert c['config']['run']['reverse'] and c['config']['run']['specific_observation_idcs'] == [0, 1]

def test_reverse_needs_a_semantic_checkpoint(data, trained, tmp_path, capsys):
    rc, err = cli('fit-srn', '--data_root', data/'Chair.test', '--checkpoint_path', trained/'checkpoints'/'model.tar', '--reverse',
                  '--overwrite_embeddings', '--logging_root', tmp_path, '--img_sidelength', 16, '--max_steps', 2, capsys=capsys)
    assert rc == 2 and '--reverse' in err and 'no semantic head' in err

def test_unet_baseline_and_eval(data, tmp_path, capsys):
    rc, _ = cli('update-srn', '--model_type', 'unet', '--data_root', data/'Chair.train', '--logging_root', tmp_path/'u',
                '--img_sidelength', 16, '--max_steps', 2, '--unet_nf0', 4, '--unet_num_down', 2, '--unet-max-channels', 8,
                '--max_num_instances_train', 3, '--device', 'cpu', capsys=capsys)
    assert rc == 0
    rc, _ = cli('eval-srn', '--eval_mode', 'unet', '--checkpoint_path', tmp_path/'u'/'checkpoints'/'model.tar',
                '--data_root', data/'Chair.test', '--logging_root', tmp_path/'e', '--device', 'cpu', capsys=capsys)
    assert rc == 0 and 'miou' in json.loads((tmp_path/'e'/'metrics.json').read_text())

def test_bad_instance_folders_name_the_file(data, tmp_path, capsys):
    bad = tmp_path/'Chair'
    shutil.copytree(data, bad)
    inst = sorted((bad/'Chair.train').iterdir())[1]
    args = ['train-srn', '--data_root', bad/'Chair.train', '--logging_root', tmp_path/'log', '--img_sidelengths', 8,
            '--batch_size_per_img_sidelength', 2, '--max_steps_per_img_sidelength', 1, *TINY]
    (inst/'intrinsics.txt').write_text('100 8 8 0.\n0. 0. 0.\n16 16\n')
    rc, err = cli(*args, capsys=capsys)
    assert rc == 2 and f'{inst}/intrinsics.txt: bad intrinsics' in err
    shutil.copy(data/'Chair.train'/inst.name/'intrinsics.txt', inst/'intrinsics.txt')
    sorted((inst/'pose').iterdir())[0].unlink()
    rc, err = cli(*args, capsys=capsys)
    assert rc == 2 and str(inst) in err and '4 colour views in rgb/ but 3 poses in pose/' in err
    shutil.rmtree(inst/'pose')
    rc, err = cli(*args, capsys=capsys)
    assert rc == 2 and f'{inst}/pose: no poses' in err

def test_class_list_must_cover_labels(data, tmp_path, capsys):
    bad = tmp_path/'Chair'
    shutil.copytree(data, bad)
    (bad/'Chair-level-1.txt').write_text('1 chair_back\n2 chair_seat\n')
    rc, err = cli('update-srn', '--model_type', 'unet', '--data_root', bad/'Chair.train', '--logging_root', tmp_path/'u',
                  '--img_sidelength', 16, '--max_steps', 1, '--unet_num_down', 2, '--max_num_instances_train', 3, capsys=capsys)
    assert rc == 2 and '/seg/' in err and 'is not in the class list (2 part classes + background)' in err

def test_help_from_the_console():
    res = subprocess.run([sys.executable, '-m', 'thesis_recon.cli', 'fit-srn', '--help'], capture_output=True, text=True)
    assert res.returncode == 0
    for opt in ('--overwrite_embeddings', '--overwrite-embeddings', '--reverse', '--specific_observation_idcs', '--resume', '--device'):
        assert opt in res.stdout
