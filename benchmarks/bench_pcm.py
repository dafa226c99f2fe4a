"""Point-cloud module: recovery time per 640x480 depth map and training points/s (CPU, and the GPU when there is one),
each beside the reference: the same network with its convolutions as one gather of whole neighbourhoods (zero rows for
missing neighbours) and one dense matrix product, the form PCMNet had before it ran torchsparse's pairs per offset.

    python benchmarks/bench_pcm.py [--points 20000] [--batch 4] [--steps 5] [--repeats 3] [--threads N] [--only train|recover]

Recovery: LeReS's focal -> shift -> focal (three network passes, LeReS's widths 32/64/128/256, focal voxels 0.005,
shift 0.01) on one 640x480 synthetic depth map, at most 5k .. 100k points per cloud; the issue's target is under 1 s
at 10k points on 2 cores. Training: forward + backward + AdamW step on distorted synthetic clouds of at most --points
points (LeReS's widths and voxels), and the small configs' setting (160x120 maps, voxels 0.03, widths 16/32/64/128,
batches of 16). Pairs and reference run interleaved (A, B, A, B ...) in one process, with the same weights and inputs;
the best of --repeats is printed with the ratio reference / pairs (> 1: the pairs are faster). On a shared machine the
CPU seconds are the cost, the wall time the queue. Prints figures; asserts nothing.
"""
from bench_common import policy_line   # first: the package's thread policy before torch / NumPy load
import argparse, contextlib, time
import numpy as np
import torch
from thesis_recon.pcm.data import load_synthetic
from thesis_recon.pcm.data import make_sample, leres_cloud
from thesis_recon.pcm.model import PCMNet, SparseConv3d, pcm_collate
from thesis_recon.pcm.evaluate import recover_shift_focal


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()


def _gather_forward(self, feats, table=None):
    "The reference convolution: one gather of whole neighbourhoods (a zero row for a missing neighbour), one matrix product."
    if self.kernel_size == 1: return feats @ self.kernel
    if not isinstance(table, torch.Tensor): raise TypeError('the reference takes the table')
    padded = torch.cat([feats, feats.new_zeros(1, feats.shape[1])])
    return padded.index_select(0, table.reshape(-1)).reshape(len(table), -1) @ self.kernel.reshape(-1, self.c_out)


@contextlib.contextmanager
def reference_convolutions():
    "PCMNet with the gather + dense product convolutions while the block runs (its tables instead of kernel maps)."
    import thesis_recon.pcm.model as nets
    forward, kmap = SparseConv3d.forward, nets.kernel_map
    SparseConv3d.forward, nets.kernel_map = _gather_forward, lambda table, m_in: table
    try: yield
    finally: SparseConv3d.forward, nets.kernel_map = forward, kmap


def timed(fn, device) -> tuple[float, float]:
    "(wall s, CPU s) of one call."
    sync(device); t0, c0 = time.perf_counter(), time.process_time()
    fn(); sync(device)
    return time.perf_counter() - t0, time.process_time() - c0


def ab(fn, device, repeats: int) -> dict:
    "Best (wall, CPU) of `fn` with the pairs ('pairs') and with the reference ('reference'), interleaved."
    fn()
    with reference_convolutions(): fn()
    best = {'pairs': [], 'reference': []}
    for _ in range(repeats):
        best['pairs'].append(timed(fn, device))
        with reference_convolutions(): best['reference'].append(timed(fn, device))
    return {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in best.items()}


def line(what: str, r: dict) -> str:
    (w, c), (rw, rc) = r['pairs'], r['reference']
    return (f'  {what}: {w:.3f} s wall, {c:.3f} CPU-s; reference {rw:.3f} s, {rc:.3f} CPU-s; '
            f'reference / pairs {rw / w:.2f}x wall, {rc / c:.2f}x CPU')


def bench_recovery(device, repeats, depth, K):
    torch.manual_seed(0)
    focal, shift = PCMNet(5, 0.005).to(device).eval(), PCMNet(3, 0.01).to(device).eval()
    with torch.no_grad():        # random weights, outputs near a focal scale of 1 and a shift of 0.1 (never <= 0)
        for net, start in ((focal, 1.0), (shift, 0.1)): net.classifier[0].weight.mul_(0.05); net.classifier[0].bias.fill_(start)
    dn = depth / np.percentile(depth[depth > 0], 98)
    for pts in (5000, 10000, 20000, 100000):
        sizes = [len(leres_cloud(dn, K[0, 0], K[0, 2], K[1, 2], 3, v, pts)[0]) for v in (0.01, 0.005)]
        run = lambda: recover_shift_focal(depth, focal, shift, max_points=pts, device=device)
        out = run()
        with reference_convolutions(): ref = run()
        r = ab(run, device, repeats)
        print(line(f'recover 640x480, max {pts:6d} points (clouds of {sizes[0]} / {sizes[1]} at 0.01 / 0.005)', r) +
              f'; shift, focal {out[0]:.6f}, {out[1]:.3f} (reference {ref[0]:.6f}, {ref[1]:.3f})')


def training_batch(depth, K, target, channels, voxel, points, batch, device):
    rng = np.random.default_rng(0)
    items = []
    for _ in range(batch):
        feats, coords, label, _ = make_sample(depth, K, target, rng, distort_s=target == 0, distort_f=target == 2,
                                              channels=channels, max_points=points, voxel_size=voxel)
        items.append({'feats': feats, 'coords': coords, 'label': label})
    return {k: v.to(device) for k, v in pcm_collate(items).items()}


def bench_training(device, points, batch, steps, depth, K, small):
    settings = [('shift', 0, 3, 0.01, points, batch, (32, 64, 128, 256), depth, K),
                ('focal', 2, 5, 0.005, points, batch, (32, 64, 128, 256), depth, K),
                ('small shift', 0, 3, 0.03, 4096, 16, (16, 32, 64, 128), *small),
                ('small focal', 2, 5, 0.03, 4096, 16, (16, 32, 64, 128), *small)]
    for name, target, channels, voxel, pts, bs, widths, d, k in settings:
        b = training_batch(d, k, target, channels, voxel, pts, bs, device)
        torch.manual_seed(0)
        net = PCMNet(channels, voxel, widths).to(device)
        opt = torch.optim.AdamW(net.parameters(), 1e-3)
        def run():
            for _ in range(steps):
                opt.zero_grad()
                torch.nn.functional.l1_loss(net(b['feats'], b['batch'], b['coords']), b['label']).backward()
                opt.step()
        r = ab(run, device, 2)
        n = len(b['feats'])
        print(line(f'train {name} model, {steps} steps of {bs} clouds ({n} points, widths {widths})', r) +
              f'; {n * steps / r["pairs"][0]:.0f} points/s')


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--points', type=int, default=20000)
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--steps', type=int, default=3)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=None, help="torch CPU threads (default: the package's policy)")
    p.add_argument('--only', choices=('train', 'recover'), default=None, help='run one of the two parts')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    print(policy_line())
    depth, K = load_synthetic((0, 1), width=640, height=480)
    small = load_synthetic((0, 1), width=160, height=120)
    devices = [torch.device('cpu')] + ([torch.device('cuda')] if torch.cuda.is_available() else [])
    for dev in devices:
        name = torch.cuda.get_device_name() if dev.type == 'cuda' else f'CPU, {torch.get_num_threads()} threads'
        print(f'{dev.type} ({name})')
        if a.only != 'train': bench_recovery(dev, a.repeats, depth, K)
        if a.only != 'recover': bench_training(dev, a.points, a.batch, a.steps, depth, K, small)
