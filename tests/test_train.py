"""The trainer across processes (torchrun, gloo on CPU) and with real signals; the rest is in nbs/36_train.ipynb."""
import importlib.util, json, os, signal, subprocess, sys, threading, time
from pathlib import Path
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset
from thesis_recon.core import ThesisReconError
from thesis_recon.train import TrainOptions, deferred_sigint, fit, load_checkpoint

HERE = Path(__file__).resolve().parent
SCRIPT = HERE/'ddp_fit_script.py'

def _run(cmd, tmp_path):
    "Run the script (its OUT is cmd's argument after SCRIPT); each rank's result from OUT/result_rank*.json, and stderr."
    out = Path(cmd[cmd.index(str(SCRIPT)) + 1])
    for old in out.glob('result_rank*.json'): old.unlink()
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(HERE.parent)}
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return [json.loads(f.read_text()) for f in sorted(out.glob('result_rank*.json'))], p.stderr

def _script():
    spec = importlib.util.spec_from_file_location('ddp_fit_script', SCRIPT)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

def test_ddp_two_processes_match_one(tmp_path):
    one = _script().main(tmp_path/'one', 8)  # one process, batch 8, in this process
    ranks, err = _run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
                       str(SCRIPT), str(tmp_path/'two'), '4'], tmp_path)
    ranks = sorted(ranks, key=lambda r: r['rank'])
    assert [(r['rank'], r['world_size']) for r in ranks] == [(0, 2), (1, 2)]
    # the same samples per step (the two ranks' halves), averaged gradients: the same training
    w1 = load_checkpoint(tmp_path/'one'/'checkpoints'/'latest.tar')['model']
    w2 = load_checkpoint(tmp_path/'two'/'checkpoints'/'latest.tar')['model']
    for k in w1: torch.testing.assert_close(w2[k], w1[k], atol=1e-5, rtol=1e-5)
    for r in ranks:
        assert [h['step'] for h in r['history']] == list(range(1, 7))
        torch.testing.assert_close([h['loss'] for h in r['history']], [h['loss'] for h in one['history']], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close([v['loss'] for v in r['val_history']], [v['loss'] for v in one['val_history']], atol=1e-5, rtol=1e-5)
    # only rank 0 wrote: its checkpoints, one TensorBoard event file, nothing else
    assert ranks[0]['saved'] and ranks[1]['saved'] == []
    assert sorted(p.name for p in (tmp_path/'two'/'checkpoints').iterdir()) == ['best.tar', 'latest.tar']
    assert len(list((tmp_path/'two'/'runs').iterdir())) == 1
    assert err.count('epoch 1/1 (stops at step 6)') >= 1 and 'epoch 1/3' not in err   # max_steps 6 ends the 3 epochs asked in the first (8 steps)

def test_ddp_resume_continues_exactly(tmp_path, request):
    "Two processes with dropout (each rank its own RNG stream): stopping at step 3 and resuming gives steps 4..6 of the uninterrupted run."
    if 'slow' not in request.config.getoption('--flags').split(): pytest.skip('slow: run with --flags slow')
    torchrun = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', str(SCRIPT)]
    full, _ = _run(torchrun + [str(tmp_path/'full'), '4', '--dropout'], tmp_path)
    _run(torchrun + [str(tmp_path/'part'), '4', '--dropout', '--max_steps', '3'], tmp_path)
    resumed, _ = _run(torchrun + [str(tmp_path/'part'), '4', '--dropout', '--resume'], tmp_path)
    full, resumed = (sorted(r, key=lambda x: x['rank']) for r in (full, resumed))
    for f, r in zip(full, resumed):
        assert [h['step'] for h in r['history']] == list(range(1, 7))
        torch.testing.assert_close([h['loss'] for h in r['history']], [h['loss'] for h in f['history']], atol=1e-6, rtol=0)
    w_full = load_checkpoint(tmp_path/'full'/'checkpoints'/'latest.tar')['model']
    w_res = load_checkpoint(tmp_path/'part'/'checkpoints'/'latest.tar')['model']
    for k in w_full: torch.testing.assert_close(w_res[k], w_full[k], atol=1e-6, rtol=0)

def test_ctrl_c_saves_latest_and_resume_continues(tmp_path):
    "A real SIGINT to a training process: latest.tar as of a finished step, KeyboardInterrupt, and --resume goes on."
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(HERE.parent), 'PYTHONFAULTHANDLER': '1'}
    cmd = [sys.executable, str(SCRIPT), str(tmp_path/'run'), '8', '--slow', '--epochs', '100', '--max_steps', '10000']
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))   # not an inherited SIG_IGN
    latest = tmp_path/'run'/'checkpoints'/'latest.tar'
    t0 = time.time()
    while not latest.exists() and time.time() - t0 < 120 and proc.poll() is None: time.sleep(0.2)
    assert latest.exists(), proc.communicate()[1][-2000:]
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    try: out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # SIGABRT makes faulthandler print every thread's stack
        proc.send_signal(signal.SIGABRT); out, err = proc.communicate()
        pytest.fail(f'the training process did not stop within 120 s of SIGINT:\n{err[-8000:]}')
    assert proc.returncode != 0 and 'KeyboardInterrupt' in err and 'interrupted: saved' in err, err[-2000:]
    ck = load_checkpoint(latest)
    k = ck['step']
    assert k >= 2 and [h['step'] for h in ck['extra']['history']] == list(range(1, k + 1))
    (res,), _ = _run([sys.executable, str(SCRIPT), str(tmp_path/'run'), '8', '--epochs', '100', '--max_steps', str(k + 3), '--resume'], tmp_path)
    assert [h['step'] for h in res['history']] == list(range(1, k + 4))
    assert not [p for p in (tmp_path/'run'/'checkpoints').iterdir() if p.name not in ('latest.tar', 'best.tar')]

@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason='signals reach the main thread only')
def test_sigint_inside_the_optimizer_step_is_delivered_after_it():
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)   # Python's own handler, even where pytest was started ignoring SIGINT
    try:
        done, before = [], signal.getsignal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            with deferred_sigint():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
                done.append(True)
        assert done == [True]
        assert signal.getsignal(signal.SIGINT) is before
    finally: signal.signal(signal.SIGINT, outer)

@pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has a GPU')
def test_cuda_without_gpu_is_a_clear_error(tmp_path):
    with pytest.raises(ThesisReconError, match='--device cuda: torch sees no GPU'):
        fit(nn.Linear(2, 1), lambda m, b: m(b[0]).mean(), TensorDataset(torch.zeros(4, 2)),
            options=TrainOptions(device='cuda', checkpoint_dir=tmp_path/'ck', progress=False))
    assert not (tmp_path/'ck').exists()
