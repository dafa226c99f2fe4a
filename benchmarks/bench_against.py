"""This checkout against another (an earlier commit), workload by workload, on the same machine in one run.

    git worktree add ../before f83ae23          # or: git archive f83ae23 | tar -x -C ../before
    python benchmarks/bench_against.py ../before [--workloads enet_train enet_infer ...] [--rounds 3]

Each workload runs in a fresh Python process with one checkout's package first on the path and that checkout's own
defaults (its thread policy included: this is what a user of either version gets), alternating between the two
checkouts round by round so that a change of load hits both. A workload is written once here and runs the same
computation in both versions (where a name moved between versions the snippet tries the new place, then the old):

- `enet_train` / `enet_infer`: the thesis's ENet (`ENet3DMV`), a training step (forward, cross-entropy, backward,
  AdamW) and inference of 8 images at 328x256;
- `deeplab_train` / `deeplab_infer`: the thesis's DeepLabV3 (ResNet-50), 2 images at 328x256;
- `surfacenet_train`: SurfaceNet on 2 RGB chunks of 32x32x64 voxels, forward and backward;
- `srn_train`: the SRN at the original's full size, a training step of 4 views at 32 px (render, loss, backward, Adam);
- `pcm_recover`: LeReS's focal -> shift -> focal recovery of one 640x480 synthetic depth map at 10k points
  (untrained networks started at a fixed output, as bench_threads; the cost does not depend on the weights);
- `tsdf_fuse`: `fuse_scan` of a synthetic scan (100 frames at 640x480, colour) at 4 and 2 cm.

Prints, per workload, each checkout's seconds per step (median and min over the rounds, wall and CPU) and the ratio
this/other of the medians (below 1: this checkout is faster). Asserts nothing; run it on an idle machine.
"""
from __future__ import annotations
import argparse, json, os, statistics, subprocess, sys, tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_TIMER = '''
import json, sys, time
def _measure(step, n):
    step()                                           # warm-up: allocations, kernel compilation, caches
    t, c = time.perf_counter(), time.process_time()
    for _ in range(n): step()
    print(json.dumps(dict(wall=(time.perf_counter() - t) / n, cpu=(time.process_time() - c) / n)))
'''

_ENET = '''
import thesis_recon, torch
from thesis_recon.seg2d.enet import ENet3DMV
torch.manual_seed(0)
net = ENet3DMV(num_classes=41)
images, labels = torch.randn(8, 3, 256, 328), torch.randint(0, 41, (8, 32, 41))
'''
_DEEPLAB = '''
import thesis_recon, torch
from thesis_recon.seg2d.deeplab import DeepLabV3
torch.manual_seed(0)
net = DeepLabV3(num_classes=41)
images, labels = torch.randn(2, 3, 256, 328), torch.randint(0, 41, (2, 256, 328))
'''
_TRAIN_STEP = '''
net.train(); opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
def step():
    out = net(images)
    out = out if out.shape[-2:] == labels.shape[-2:] else torch.nn.functional.interpolate(out, labels.shape[-2:])
    loss = torch.nn.functional.cross_entropy(out, labels)
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
'''
_INFER_STEP = '''
net.eval()
def step():
    with torch.no_grad(): net(images)
'''

WORKLOADS = {
    'enet_train': (_ENET + _TRAIN_STEP, 5),
    'enet_infer': (_ENET + _INFER_STEP, 5),
    'deeplab_train': (_DEEPLAB + _TRAIN_STEP, 2),
    'deeplab_infer': (_DEEPLAB + _INFER_STEP, 3),
    'surfacenet_train': ('''
import thesis_recon, torch
from thesis_recon.nets3d.surfacenet import SurfaceNet
torch.manual_seed(0)
net = SurfaceNet(in_channels=3, num_classes=2).train()
opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
chunks = torch.randn(2, 3, 32, 32, 64)
def step():
    out = net(chunks)
    loss = sum(o.float().mean() for o in (out if isinstance(out, (tuple, list)) else [out]))
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
''', 2),
    'srn_train': ('''
import thesis_recon, torch
sys.path.insert(0, BENCHMARKS)
from bench_srn import SRN, srn_loss, CONFIGS, batch_of
torch.manual_seed(0)
model = SRN(8, **CONFIGS['full'])
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
batch = batch_of(4, 32, torch.device('cpu'))
def step():
    loss, _ = srn_loss(model(batch), batch)
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
''', 3),
    'pcm_recover': ('''
import inspect, thesis_recon, torch
from thesis_recon.pcm.data import load_synthetic
try: from thesis_recon.pcm.model import PCMNet
except ImportError: from thesis_recon.pcm.nets import PCMNet
try: from thesis_recon.pcm.evaluate import recover_shift_focal
except ImportError: from thesis_recon.pcm.recover import recover_shift_focal
depth, _ = load_synthetic((0, 1), width=640, height=480)
same = {'rescale_input': False} if 'rescale_input' in inspect.signature(PCMNet).parameters else {}   # LeReS's input, as before
focal = PCMNet(5, 0.005, out_bias=1.0, **same).eval(); shift = PCMNet(3, 0.01, out_bias=0.1, **same).eval()
def step(): recover_shift_focal(depth, focal, shift, max_points=10_000)
''', 3),
    'tsdf_fuse': ('''
import thesis_recon
from thesis_recon.tsdf import fuse_scan
def step(): fuse_scan(SCAN, voxel_sizes=(0.04, 0.02), progress=False)
''', 2),
}


def make_scan(folder: Path) -> Path:
    "The synthetic scan `tsdf_fuse` reads (made once, by this checkout, used by both)."
    code = ('from thesis_recon.synthetic import make_synthetic_scans\n'
            f'print(make_synthetic_scans({str(folder)!r}, n_frames=100, noise=True, progress=False)[0])')
    out = subprocess.run([sys.executable, '-c', code], env=_env(ROOT), capture_output=True, text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1])


def _env(tree: Path) -> dict:
    "A child's environment: `tree` first on the path, no thread setting inherited (each version's own defaults)."
    env = {k: v for k, v in os.environ.items() if not k.startswith(('OMP_', 'GOMP_', 'KMP_', 'OPENBLAS_', 'MKL_', 'TF_NUM_'))}
    env['PYTHONPATH'] = str(tree)
    return env


def run(tree: Path, workload: str, scan: Path | None) -> dict:
    "Seconds per step (wall, cpu) of `workload` with the package of `tree`, in a fresh process."
    body, n = WORKLOADS[workload]
    code = (f'BENCHMARKS = {str(tree/"benchmarks")!r}\nSCAN = {str(scan)!r}\n' + _TIMER + body + f'\n_measure(step, {n})\n')
    out = subprocess.run([sys.executable, '-c', code], env=_env(tree), capture_output=True, text=True, cwd=tempfile.gettempdir())
    if out.returncode: raise SystemExit(f'{workload} with {tree}: failed\n{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('other', type=Path, help='the other checkout (its folder holds thesis_recon/)')
    p.add_argument('--workloads', nargs='+', choices=list(WORKLOADS), default=list(WORKLOADS))
    p.add_argument('--rounds', type=int, default=3, help='alternating rounds per workload (default 3)')
    a = p.parse_args()
    other = a.other.resolve()
    if not (other/'thesis_recon'/'__init__.py').is_file(): p.error(f'{other}: no thesis_recon package there')
    print(f'this: {ROOT}\nother: {other}\nload average at start: {os.getloadavg()[0]:.2f} on {len(os.sched_getaffinity(0))} CPUs', flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        scan = make_scan(Path(tmp)/'scan') if 'tsdf_fuse' in a.workloads else None
        print(f'{"workload":<18}{"this wall":>11}{"other wall":>12}{"this cpu":>10}{"other cpu":>11}{"this/other":>12}')
        for w in a.workloads:
            res = {'this': [], 'other': []}
            for r in range(a.rounds):
                order = (('this', ROOT), ('other', other)) if r % 2 == 0 else (('other', other), ('this', ROOT))
                for name, tree in order: res[name].append(run(tree, w, scan))
            med = {k: {m: statistics.median(x[m] for x in v) for m in ('wall', 'cpu')} for k, v in res.items()}
            best = {k: min(x['wall'] for x in v) for k, v in res.items()}
            print(f'{w:<18}{med["this"]["wall"]:>10.3f}s{med["other"]["wall"]:>11.3f}s{med["this"]["cpu"]:>9.3f}s'
                  f'{med["other"]["cpu"]:>10.3f}s{med["this"]["wall"] / med["other"]["wall"]:>11.2f}x'
                  f'   (min wall {best["this"]:.3f} / {best["other"]:.3f} s)', flush=True)
    print(f'load average at end: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()
