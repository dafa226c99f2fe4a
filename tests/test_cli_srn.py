"""The semantic SRN's commands as a user runs them, on a tiny synthetic chair data set: train-srn (and --resume),
update-srn (linear head, U-Net), fit-srn (RGB and --reverse), render-srn, eval-srn, and their bad-input errors.
Commands run in-process through `thesis_recon.cli.main` (one torch/TensorBoard import for the module); one runs as a
subprocess to check the console path."""
import json, shutil, subprocess, sys
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
               '--max_num_instances_train', '3', '--val_every', '2', '--balance_classes', '--device', 'cpu'])
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
    assert c['config']['model']['srn']['num_instances'] == 1 and c['config']['run']['freeze_networks']
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
    csv_text = (tmp_path/'e'/'final_miou.csv').read_text()
    assert csv_text.count('\n') == 2 and csv_text.startswith('instance_num,instance_id,miou,stdiou,psnr,ssim,max_classes\n')
    assert m['num_views'] == 3                                       # every view, as test.py
    assert (tmp_path/'e'/'results.txt').read_text() == f"mIOU {m['miou']:0.6f}, PSNR {m['psnr']:0.6f}, SSIM {m['ssim']:0.6f}"
    rc, _ = cli('eval-srn', '--checkpoint_path', ck, '--data_root', data/'Chair.test', '--exclude_observation_idcs', 0,
                '--logging_root', tmp_path/'x', '--device', 'cpu', capsys=capsys)
    assert rc == 0 and json.loads((tmp_path/'x'/'metrics.json').read_text())['num_views'] == 2
    rc, _ = cli('eval-srn', '--eval_mode', 'srn', '--checkpoint_path', ck, '--data_root', data/'Chair.test',
                '--logging_root', tmp_path/'s', '--device', 'cpu', capsys=capsys)
    assert rc == 0 and 'miou' not in json.loads((tmp_path/'s'/'metrics.json').read_text())
    m = json.loads((tmp_path/'s'/'metrics.json').read_text())
    assert (tmp_path/'s'/'results.txt').read_text() == f"{m['psnr']:0.6f}, {m['ssim']:0.6f}"    # vsitzmann's test.py

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

def test_unet_baseline_and_eval(data, fitted, tmp_path, capsys):
    rc, _ = cli('update-srn', '--model_type', 'unet', '--data_root', data/'Chair.train', '--logging_root', tmp_path/'u',
                '--img_sidelength', 16, '--max_steps', 2, '--unet_nf0', 4, '--unet_num_down', 2, '--unet-max-channels', 8,
                '--max_num_instances_train', 3, '--device', 'cpu', capsys=capsys)
    assert rc == 0
    unet = tmp_path/'u'/'checkpoints'/'model.tar'
    rc, err = cli('eval-srn', '--eval_mode', 'unet', '--unet_path', unet, '--data_root', data/'Chair.test', capsys=capsys)
    assert rc == 2 and '--checkpoint_path is required' in err            # test.py: the U-Net segments the SRN's renderings
    rc, _ = cli('eval-srn', '--eval_mode', 'unet', '--checkpoint_path', fitted/'checkpoints'/'model.tar', '--unet_path', unet,
                '--data_root', data/'Chair.test', '--logging_root', tmp_path/'e', '--device', 'cpu', capsys=capsys)
    m = json.loads((tmp_path/'e'/'metrics.json').read_text())
    assert rc == 0 and 'miou' in m and m['psnr'] > 0
    rc, _ = cli('eval-srn', '--eval_mode', 'unet', '--unet_input', 'images', '--unet_path', unet, '--data_root', data/'Chair.test',
                '--logging_root', tmp_path/'i', '--device', 'cpu', capsys=capsys)
    m = json.loads((tmp_path/'i'/'metrics.json').read_text())
    assert rc == 0 and 'miou' in m and 'psnr' not in m
    # the paper's UnetModel file (as util.custom_save writes it) imports and scores the same
    from thesis_recon.srn.evaluate import load_model
    u, _ = load_model(unet)
    assert type(u).__name__ == 'UNetBaseline' and u.spec['dropout'] == 0.2 and u.spec['in_channels'] == 4
    src = _as_original(u, tmp_path/'unet.pth', 'optimizer_0')
    rc, err = cli('import-weights', 'semantic-srn-unet', src, tmp_path/'unet.tar', capsys=capsys)
    assert rc == 0, err
    rc, _ = cli('eval-srn', '--eval_mode', 'unet', '--unet_input', 'images', '--unet_path', tmp_path/'unet.tar',
                '--data_root', data/'Chair.test', '--logging_root', tmp_path/'j', '--device', 'cpu', capsys=capsys)
    assert rc == 0 and (tmp_path/'j'/'final_miou.csv').read_text() == (tmp_path/'i'/'final_miou.csv').read_text()
    rc, err = cli('import-weights', 'semantic-srn-unet', src, tmp_path/'x.tar', '--num_classes', 9, capsys=capsys)
    assert rc == 2 and 'has 5 classes but --num_classes is 9' in err and not (tmp_path/'x.tar').exists()

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
    for opt in ('--overwrite_embeddings', '--reverse', '--specific_observation_idcs', '--resume', '--device', '--threads'):
        assert opt in res.stdout
    # the hyphen spelling is accepted (the kit shows one spelling): test_reverse_fits_codes_from_segmentation passes
    # --overwrite-embeddings, test_train_writes_stages_and_resume_continues --val-root


# ---- the originals' flags, written from their scripts' argparse (vsitzmann 8165b50 train.py/test.py; apsk14 3ff49be
# train.py/update.py/test.py); each command must take every one of its script's flags
TRAIN_PY = """img_sidelengths max_steps_per_img_sidelength batch_size_per_img_sidelength data_root val_root logging_root log_dir
obj_name lr class_weight l1_weight kl_weight reg_weight steps_til_ckpt steps_til_val no_validation validation preload
checkpoint_path overwrite_embeddings start_step specific_observation_idcs max_num_instances_train max_num_observations_train
max_num_instances_val max_num_observations_val has_params tracing_steps freeze_networks fit_single_srn use_unet_renderer
embedding_size config_filepath""".split()
UPDATE_PY = """img_sidelengths max_steps_per_img_sidelength batch_size_per_img_sidelength data_root val_root logging_root log_dir
obj_name num_classes model_type lr class_weight steps_til_ckpt steps_til_val validation preload checkpoint_path linear_path
validation_path overwrite_embeddings start_step specific_observation_idcs specific_ins max_num_instances_train
max_num_observations_train max_num_instances_val max_num_observations_val has_params tracing_steps freeze_networks
fit_single_srn use_unet_renderer embedding_size config_filepath""".split()
TEST_PY = """img_sidelength point_cloud data_root obj_name eval_mode reverse logging_root log_dir batch_size preload
max_num_instances specific_observation_idcs input_idcs has_params linear save_out_first_n checkpoint_path linear_path
unet_path num_instances tracing_steps fit_single_srn use_unet_renderer embedding_size config_filepath""".split()

@pytest.mark.parametrize('command,flags', [('train-srn', TRAIN_PY), ('fit-srn', TRAIN_PY), ('update-srn', UPDATE_PY),
                                           ('eval-srn', TEST_PY), ('render-srn', TEST_PY)])
def test_every_original_flag_is_taken(command, flags, capsys):
    with pytest.raises(SystemExit): main([command, '--help'])
    text = capsys.readouterr().out
    assert [f for f in flags if f'--{f}' not in text] == []

def test_update_takes_the_originals_schedule_flags_and_a_shipped_config(data, trained, tmp_path, capsys):
    rc, _ = cli('update-srn', '--data_root', data/'Chair.train', '--checkpoint_path', trained/'checkpoints'/'model.tar',
                '--logging_root', tmp_path, '--log_dir', 'run', '--img_sidelengths', 16, '--batch_size_per_img_sidelength', 2,
                '--max_steps_per_img_sidelength', 2, '--max_num_instances_train', 3, '--class_weight', 8, '--steps_til_ckpt', 1,
                '--preload', '--obj_name', 'Chair', '--device', 'cpu', capsys=capsys)
    assert rc == 0 and (tmp_path/'run'/'checkpoints'/'model.tar').is_file()
    rc, err = cli('train-srn', '--config_filepath', 'srn_train_tiny.yml', '--data_root', data/'Chair.train', '--logging_root',
                  tmp_path/'t', '--img_sidelengths', 8, '--batch_size_per_img_sidelength', 2, '--max_steps_per_img_sidelength', 1,
                  '--set', 'model.tracing_steps=2', capsys=capsys)
    assert rc == 0, err
    assert load_checkpoint(tmp_path/'t'/'checkpoints'/'model.tar')['config']['model']['tracing_steps'] == 2
    rc, err = cli('train-srn', '--data_root', data/'Chair.train', '--fit_single_srn', capsys=capsys)
    assert rc == 2 and '--fit_single_srn' in err

def _as_original(model, path, extra='optimizer'):
    from thesis_recon.srn.convert import original_state_dict
    torch.save({'model': original_state_dict(model), extra: {'state': {}, 'param_groups': []}}, path)
    return path

def test_import_original_srn_then_every_command_loads_it(data, trained, tmp_path, capsys):
    from thesis_recon.srn.evaluate import load_model
    srn, _ = load_model(trained/'checkpoints'/'model.tar')
    src = _as_original(srn, tmp_path/'epoch_0001_iter_000004.pth')
    rc, err = cli('import-weights', 'srn', src, tmp_path/'srn.tar', '--tracing_steps', 3, capsys=capsys)
    assert rc == 0, err
    # the same pixels as our own checkpoint renders
    for name, ck in (('ours', trained/'checkpoints'/'model.tar'), ('imported', tmp_path/'srn.tar')):
        assert cli('render-srn', '--checkpoint_path', ck, '--data_root', data/'Chair.train', '--logging_root', tmp_path/name,
                   '--max_num_instances', 1, '--device', 'cpu', capsys=capsys)[0] == 0
    a, b = (sorted((tmp_path/n).rglob('*.png')) for n in ('ours', 'imported'))
    assert len(a) == len(b) > 0 and all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b))
    assert cli('eval-srn', '--eval_mode', 'srn', '--checkpoint_path', tmp_path/'srn.tar', '--data_root', data/'Chair.train',
               '--device', 'cpu', capsys=capsys)[0] == 0
    rc, _ = cli('update-srn', '--data_root', data/'Chair.train', '--checkpoint_path', tmp_path/'srn.tar', '--logging_root',
                tmp_path/'u', '--img_sidelength', 16, '--max_steps', 2, '--max_num_instances_train', 3, '--device', 'cpu', capsys=capsys)
    assert rc == 0
    rc, _ = cli('fit-srn', '--data_root', data/'Chair.test', '--checkpoint_path', tmp_path/'srn.tar', '--overwrite_embeddings',
                '--logging_root', tmp_path/'f', '--img_sidelength', 16, '--max_steps', 2, '--device', 'cpu', capsys=capsys)
    assert rc == 0
    # the head of update-srn, as apsk14's LinearModel file, on the original SRN file
    sem, _ = load_model(tmp_path/'u'/'checkpoints'/'model.tar')
    head = _as_original(sem, tmp_path/'linear.pth', 'optimizer_0')
    rc, err = cli('import-weights', 'semantic-srn-head', head, tmp_path/'head.tar', '--srn', src, '--tracing_steps', 3, capsys=capsys)
    assert rc == 0, err
    h, _ = load_model(tmp_path/'head.tar')
    assert torch.equal(h.head.linear.weight, sem.head.linear.weight)
    # bad input: one line, exit 2, nothing written
    for args, words in ((('srn', head, tmp_path/'x.tar'), 'a semantic-srn-head checkpoint, not srn'),
                        (('srn', src, tmp_path/'x.tar', '--num_instances', 5), 'has 3 codes but --num_instances is 5'),
                        (('semantic-srn-head', head, tmp_path/'x.tar', '--srn', src, '--num_classes', 9), 'has 5 classes but --num_classes is 9')):
        rc, err = cli('import-weights', *args, capsys=capsys)
        assert rc == 2 and words in err and len(err.strip().splitlines()) == 1 and not (tmp_path/'x.tar').exists(), err
    rc, err = cli('import-weights', 'srn', src, tmp_path/'x.tar', '--num_instances', 5, '--drop_latents', capsys=capsys)
    assert rc == 0 and load_model(tmp_path/'x.tar')[0].num_instances == 5

def test_joint_semantic_srn_trains_imports_and_segments(data, tmp_path, capsys):
    rc, err = cli('train-srn', '--semantic', '--data_root', data/'Chair.train', '--logging_root', tmp_path/'j', '--img_sidelengths', 16,
                  '--batch_size_per_img_sidelength', 1, '--max_steps_per_img_sidelength', 2, '--unet_nf0', 4,
                  '--unet_max_channels', 8, *TINY, capsys=capsys)
    assert rc == 0, err
    from thesis_recon.srn.evaluate import load_model
    joint, _ = load_model(tmp_path/'j'/'checkpoints'/'model.tar')
    assert joint.num_classes == 5 and joint.pixel_generator.net[-1].out_features == 4
    src = _as_original(joint, tmp_path/'sem.pth', 'optimizer_0')
    assert cli('import-weights', 'semantic-srn', src, tmp_path/'sem.tar', '--tracing_steps', 3, capsys=capsys)[0] == 0
    rc, _ = cli('eval-srn', '--eval_mode', 'srn', '--checkpoint_path', tmp_path/'sem.tar', '--data_root', data/'Chair.train',
                '--logging_root', tmp_path/'e', '--device', 'cpu', capsys=capsys)
    assert rc == 0 and 0 <= json.loads((tmp_path/'e'/'metrics.json').read_text())['miou'] <= 1
    for args, words in ((('srn', src), 'a semantic-srn checkpoint, not srn'),
                        (('semantic-srn', src, '--num_classes', 3), 'has 5 classes but --num_classes is 3')):
        rc, err = cli('import-weights', args[0], args[1], tmp_path/'x.tar', *args[2:], capsys=capsys)
        assert rc == 2 and words in err and not (tmp_path/'x.tar').exists(), err
    sd = torch.load(src)['model']; del sd['ray_marcher.lstm.bias_hh']
    torch.save({'model': sd}, tmp_path/'missing.pth')
    rc, err = cli('import-weights', 'semantic-srn', tmp_path/'missing.pth', tmp_path/'x.tar', capsys=capsys)
    assert rc == 2 and 'ray_marcher.lstm.bias_hh' in err and not (tmp_path/'x.tar').exists()

def test_render_like_original_from_the_package(trained):
    from thesis_recon.srn import render_like_original
    from thesis_recon.srn.model import pixel_grid
    from thesis_recon.srn.evaluate import load_model
    srn, _ = load_model(trained/'checkpoints'/'model.tar')
    pose = torch.tensor([[1., 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 1.5], [0, 0, 0, 1]])
    K = torch.tensor([[20., 0, 8], [0, 20, 8], [0, 0, 1]])
    rgb, depth = render_like_original(srn, [2], pose, K, pixel_grid(16))
    out = srn.eval().render(srn.latent_codes.weight[2:3], pose[None], K[None], 16)
    assert rgb.shape == (1, 256, 3) and depth.shape == (1, 256, 1)
    assert torch.allclose(rgb, out['rgb'], atol=1e-6) and torch.allclose(depth[..., 0], out['depth'], atol=1e-6)
    # depth is camera z: the end points' z in the camera frame (the camera looks down its +z, here world -z)
    assert torch.allclose(depth[0, :, 0], 1.5 - out['points'][0, :, 2], atol=1e-5)
