"""The thread policy under load: the same workloads with the old default, the package's policy and one thread, on a
quiet machine and beside busy processes that this script starts and stops itself.

    python benchmarks/bench_threads.py [--workloads train infer pcm fit] [--busy 2] [--repeats 2] [--small]

Policies (each workload runs in a fresh process, so that its OpenMP runtime reads the environment at load):
- `old`: what torch does by itself, as before the policy: torch imported before the package with no OMP_* variable
  set (libgomp spins for a while at every barrier), all CPUs whatever the load, OpenBLAS on all CPUs.
- `new`: the package's policy (00_core "Threads"): the package imported first; idle threads spin ~0.1 ms, then sleep; the
  count follows the load ("Threads that follow the load": `follow_load` before each repetition, as the package's
  loops call it between steps; the trainer and the command call it themselves).
- `one`: the policy with OMP_NUM_THREADS=1.
Workloads: `train` ENet (the thesis's `enet3dmv`) training steps at 160x128, batch 8 (loss and AdamW included);
`infer` its inference at 328x256, batch 8; `pcm` LeReS's focal -> shift -> focal recovery of one 640x480 synthetic
depth map at 10k points (untrained networks: the cost does not depend on the weights); `fit` the shared trainer's
2-epoch tiny run (the README's ENet block's shape: 8 steps of 8 images at 80x64 an epoch, 2 loader workers,
validation, checkpoints, TensorBoard), CPU of its loader workers included, imports not; `cli` the README's command
itself, `thesis-recon train-2d --config train_enet_synthetic --set trainer.epochs=2`, on 60 + 20 random 80x64 images
written once by this script: the whole process (imports, data, two epochs, writes), the figure the issue's target
names (its CPU seconds with the policy within 1.3x of the one-thread run, two busy processes beside).
`--busy N` starts N processes that each spin one CPU in a Python loop (stopped when the script ends, also on an
error). Prints, per workload and load, the median wall and CPU seconds of each policy and the ratios old/new and
new/one; asserts nothing. On a machine that is not idle the quiet figures are not quiet: say so with them.
"""
from __future__ import annotations
import argparse, json, os, resource, shutil, statistics, subprocess, sys, time
from pathlib import Path

_START = time.perf_counter()
HERE = Path(__file__).resolve().parent
POLICIES = ('old', 'new', 'one')
WORKLOADS = ('train', 'infer', 'pcm', 'fit', 'cli')


def _env(policy: str) -> dict:
    "The environment of a child for `policy` (inherited thread settings removed: the policy alone decides)."
    env = {k: v for k, v in os.environ.items() if not k.startswith(('OMP_', 'GOMP_', 'KMP_', 'OPENBLAS_', 'MKL_', 'TF_NUM_'))}
    env['PYTHONPATH'] = os.pathsep.join([str(HERE), str(HERE.parent), env.get('PYTHONPATH', '')])
    if policy == 'old': env['OPENBLAS_NUM_THREADS'] = str(len(os.sched_getaffinity(0)))   # OpenBLAS's own default
    if policy == 'one': env['OMP_NUM_THREADS'] = '1'
    return env


def _usage() -> float:
    "CPU seconds of this process and of its finished children."
    me, ch = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def _enet_train(small: bool):
    import torch
    from thesis_recon.seg2d.model import ARCHITECTURES
    from thesis_recon.seg2d.train import fixed_cross_entropy
    torch.manual_seed(0)
    net = ARCHITECTURES['enet3dmv']().train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    images, labels = torch.randn(8, 3, 128, 160), torch.randint(0, 41, (8, 16, 20))
    def step():
        loss = fixed_cross_entropy(net(images), labels, torch.ones(41), 0, 0.1)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    return step, 2 if small else 6


def _enet_infer(small: bool):
    import torch
    from thesis_recon.seg2d.model import ARCHITECTURES
    torch.manual_seed(0)
    net = ARCHITECTURES['enet3dmv']().eval()
    images = torch.randn(8, 3, 256, 328)
    def infer():
        with torch.no_grad(): net(images)
    return infer, 2 if small else 5


def _pcm_recover(small: bool):
    from thesis_recon.pcm.data import load_synthetic
    from thesis_recon.pcm.model import PCMNet
    from thesis_recon.pcm.evaluate import recover_shift_focal
    depth, _ = load_synthetic((0, 1), width=640, height=480)
    focal, shift = PCMNet(5, 0.005, out_bias=1.0).eval(), PCMNet(3, 0.01, out_bias=0.1).eval()
    return (lambda: recover_shift_focal(depth, focal, shift, max_points=10_000)), 2 if small else 5


def _tiny_fit(small: bool):
    import tempfile
    import torch
    from thesis_recon.seg2d.model import ARCHITECTURES
    from thesis_recon.seg2d.train import fixed_cross_entropy
    from thesis_recon.train import TrainOptions, fit
    g = torch.Generator().manual_seed(0)
    data = lambda n: torch.utils.data.TensorDataset(torch.randn(n, 3, 64, 80, generator=g), torch.randint(0, 41, (n, 8, 10), generator=g))
    train_set, val_set = data(64), data(20)
    loss = lambda net, batch: fixed_cross_entropy(net(batch[0]), batch[1], torch.ones(41), 0, 0.1)
    def run():
        with tempfile.TemporaryDirectory() as tmp:
            fit(ARCHITECTURES['enet3dmv'](), loss, train_set, val_set=val_set, optimizer=lambda m: torch.optim.AdamW(m.parameters()),
                options=TrainOptions(epochs=2, batch_size=8, num_workers=2, checkpoint_dir=Path(tmp)/'ck', log_dir=Path(tmp)/'tb',
                                     progress=False))
    return run, 1


def make_2d_images(folder: Path, n_train: int = 60, n_val: int = 20) -> list[str]:
    "Random 80x64 images and labels in prep-2d-dataset's layout under `folder`; train-2d's --set arguments for them."
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    sets = []
    for split, n in (('train', n_train), ('val', n_val)):
        img, lab = folder/'images'/split, folder/'labels'/split
        img.mkdir(parents=True, exist_ok=True); lab.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (64, 80, 3), dtype=np.uint8)).save(img/f'{i}.png')
            Image.fromarray(rng.choice(np.array([1, 2, 5, 12], np.uint8), (64, 80))).save(lab/f'{i}.png')
        sets += ['--set', f'{split}_loader.img_dir={img}', '--set', f'{split}_loader.label_dir={lab}']
    return sets


def _train_2d_command(small: bool):
    "The README's train-2d for 2 epochs on the images of BENCH_THREADS_DATA (one call: imports are part of it)."
    from thesis_recon.cli import main
    folder = Path(os.environ['BENCH_THREADS_DATA'])
    argv = ['train-2d', '--config', 'train_enet_synthetic', *json.loads((folder/'sets.json').read_text()), '--set',
            f'save_dir={folder}/saved', '--set', 'trainer.epochs=2', '--run_name', f'r{os.getpid()}', '--no_progress']
    return (lambda: main(argv)), 1


def child(policy: str, workload: str, small: bool):
    "Run one workload under `policy` (this process's environment is the policy's) and print its figures as JSON."
    if policy == 'old':
        import numpy, torch        # noqa: F401  the runtimes load before the package can set anything: their defaults
        import thesis_recon.core
        for k in ('OMP_WAIT_POLICY', 'OPENBLAS_NUM_THREADS'): os.environ.pop(k, None)   # nor do later children see the policy
        thesis_recon.core.follows_load = lambda: False                  # nor does the count follow the load
    from bench_common import policy_line
    make = {'train': _enet_train, 'infer': _enet_infer, 'pcm': _pcm_recover, 'fit': _tiny_fit, 'cli': _train_2d_command}[workload]
    fn, n = make(small)
    if workload not in ('fit', 'cli'): fn()     # warm-up: allocator, oneDNN primitives
    from thesis_recon.core import follow_load
    t0, c0 = time.perf_counter(), _usage()
    if workload == 'cli': t0, c0 = _START, 0.0  # the whole process: its imports are the command's too
    for _ in range(n):
        if workload not in ('fit', 'cli'): follow_load()   # as the package's loops do between steps (nothing under `old`)
        fn()
    line = policy_line() if policy != 'old' else (
        f"torch imported before the package with no OMP_* set (libgomp's spinning default); torch uses "
        f"{sys.modules['torch'].get_num_threads()} threads, OpenBLAS {len(os.sched_getaffinity(0))}")
    print(json.dumps({'wall': (time.perf_counter() - t0) / n, 'cpu': (_usage() - c0) / n, 'policy': line}))


def _run_child(policy: str, workload: str, small: bool) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), '--child', policy, workload] + (['--small'] if small else [])
    p = subprocess.run(cmd, env=_env(policy), capture_output=True, text=True)
    if p.returncode != 0: raise SystemExit(f'bench_threads: {policy} {workload} failed:\n{p.stderr[-3000:]}')
    return json.loads(p.stdout.strip().splitlines()[-1])


def _start_busy(n: int) -> list:
    procs = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(n)]
    time.sleep(1.0)   # let them reach their loops
    return procs


def _stop_busy(procs: list):
    for p in procs: p.terminate()
    for p in procs: p.wait(timeout=30)


def measure(workloads, busy: int, repeats: int, small: bool) -> dict:
    "{(workload, load): {policy: [figures per repeat]}}; policies interleaved, their order rotated each repeat."
    out = {}
    if 'cli' in workloads:   # the command's images, written once
        import atexit, tempfile   # not bench_common's scratch_folder: this parent must not import the package (its policy)
        folder = Path(tempfile.mkdtemp(prefix='bench_threads_'))
        atexit.register(shutil.rmtree, folder, True)
        (folder/'sets.json').write_text(json.dumps(make_2d_images(folder)))
        os.environ['BENCH_THREADS_DATA'] = str(folder)
    for load in ('quiet', f'{busy} busy') if busy else ('quiet',):
        procs = _start_busy(busy) if load != 'quiet' else []
        print(f'{load}: load average {os.getloadavg()[0]:.1f}', file=sys.stderr, flush=True)
        try:
            for w in workloads:
                res = out.setdefault((w, load), {p: [] for p in POLICIES})
                for r in range(repeats):
                    for policy in POLICIES[r % 3:] + POLICIES[:r % 3]:
                        res[policy].append(_run_child(policy, w, small))
                        print(f'  {w:5s} {load:7s} {policy}: {res[policy][-1]["wall"]:.3f} s wall, {res[policy][-1]["cpu"]:.3f} s CPU',
                              file=sys.stderr, flush=True)
        finally: _stop_busy(procs)
    if 'cli' in workloads: shutil.rmtree(os.environ.pop('BENCH_THREADS_DATA'), ignore_errors=True)
    return out


def report(results: dict) -> str:
    med = lambda runs, key: statistics.median(r[key] for r in runs)
    lines = ['workload  load      ' + '  '.join(f'{p + " wall/CPU s":>18s}' for p in POLICIES)
             + '   old/new wall  old/new CPU  new/one wall  new/one CPU']
    for (w, load), res in results.items():
        fig = {p: (med(res[p], 'wall'), med(res[p], 'cpu')) for p in POLICIES}
        cells = '  '.join(f'{fig[p][0]:8.3f} / {fig[p][1]:7.3f}' for p in POLICIES)
        lines.append(f'{w:9s} {load:8s} {cells}   {fig["old"][0] / fig["new"][0]:11.2f}x {fig["old"][1] / fig["new"][1]:11.2f}x'
                     f' {fig["new"][0] / fig["one"][0]:12.2f}x {fig["new"][1] / fig["one"][1]:11.2f}x')
    for policy in POLICIES: lines.append(f'{policy}: {next(iter(results.values()))[policy][0]["policy"]}')
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--workloads', nargs='+', choices=WORKLOADS, default=list(WORKLOADS))
    p.add_argument('--busy', type=int, default=2, help='busy processes beside the loaded runs (0: quiet only)')
    p.add_argument('--repeats', type=int, default=2, help='runs of each policy per workload and load (median shown)')
    p.add_argument('--small', action='store_true', help='fewer steps per run (a quick look, noisier)')
    p.add_argument('--child', nargs=2, metavar=('POLICY', 'WORKLOAD'), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child: return child(*a.child, a.small)
    if a.busy < 0 or a.repeats < 1: p.error('--busy must be >= 0 and --repeats >= 1')
    print(f'{len(os.sched_getaffinity(0))} CPUs; load average before: {os.getloadavg()[0]:.1f} (not idle: the quiet figures are not quiet)'
          if os.getloadavg()[0] > 0.5 else f'{len(os.sched_getaffinity(0))} CPUs, idle', flush=True)
    print(report(measure(a.workloads, a.busy, a.repeats, a.small)))


if __name__ == '__main__':
    main()
