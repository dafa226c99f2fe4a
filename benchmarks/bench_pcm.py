"""Point-cloud module: training points/s and recovery time per 640x480 depth map (CPU, and the GPU when there is one).

    python benchmarks/bench_pcm.py [--points 20000] [--batch 4] [--steps 5] [--repeats 3] [--threads N]

Training: LeReS's network (SPVCNN_CLASSIFICATION, widths 32/64/128/256) on distorted synthetic clouds of at most --points
points (one per voxel, as LeReS quantises), forward + backward + AdamW step, shift model (3 channels, voxel 0.01) and focal
model (5 channels, voxel 0.005). Recovery: LeReS's focal -> shift -> focal (three network passes) on one 640x480 synthetic
depth map, at most 5k .. 100k points per cloud (the one-point-per-voxel cloud of this map may hold fewer: printed).
Prints figures; asserts nothing.
"""
import argparse, time
import numpy as np
import torch
from thesis_recon.pcm.data import load_synthetic
from thesis_recon.pcm.distort import make_sample, pcm_collate, leres_cloud
from thesis_recon.pcm.nets import PCMNet
from thesis_recon.pcm.recover import recover_shift_focal


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()


def bench_training(device, points, batch, steps, depth, K):
    for target, channels, voxel in ((0, 3, 0.01), (2, 5, 0.005)):
        rng = np.random.default_rng(0)
        items = []
        for _ in range(batch):
            feats, coords, label, _ = make_sample(depth, K, target, rng, distort_s=target == 0, distort_f=target == 2,
                                                  channels=channels, max_points=points)
            items.append({'feats': torch.from_numpy(feats), 'coords': torch.from_numpy(coords), 'label': torch.tensor(label)})
        b = {k: v.to(device) for k, v in pcm_collate(items).items()}
        net = PCMNet(channels, voxel).to(device)
        n_points = len(b['feats'])
        opt = torch.optim.AdamW(net.parameters(), 1e-3)
        def step():
            opt.zero_grad()
            torch.nn.functional.l1_loss(net(b['feats'], b['batch'], b['coords']), b['label']).backward()
            opt.step()
        step(); sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps): step()
        sync(device)
        dt, dc = (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps
        print(f'  train {"shift" if target == 0 else "focal"} model: {n_points / dt:9.0f} points/s, {batch / dt:6.1f} samples/s '
              f'({dt * 1000:.0f} ms, {dc:.2f} CPU-s per batch of {batch} clouds, {n_points} points)')


def bench_recovery(device, repeats, depth, K):
    focal = PCMNet(5, 0.005, out_bias=1.0).to(device).eval()
    shift = PCMNet(3, 0.01, out_bias=0.1).to(device).eval()
    dn = depth / np.percentile(depth[depth > 0], 98)
    for pts in (5000, 10000, 20000, 100000):
        sizes = [len(leres_cloud(dn, K[0, 0], K[0, 2], K[1, 2], 3, v, pts)[0]) for v in (0.01, 0.005)]
        recover_shift_focal(depth, focal, shift, max_points=pts, device=device); sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(repeats): recover_shift_focal(depth, focal, shift, max_points=pts, device=device)
        sync(device)
        print(f'  recover 640x480, max {pts:6d} points (clouds of {sizes[0]} / {sizes[1]} at 0.01 / 0.005): '
              f'{(time.perf_counter() - t0) / repeats:.3f} s per depth map '
              f'({(time.process_time() - c0) / repeats:.3f} CPU-s: on a shared machine the CPU seconds are the cost, the wall time the queue)')


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--points', type=int, default=20000)
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s choice)')
    p.add_argument('--only', choices=('train', 'recover'), default=None, help='run one of the two parts')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    depth, K = load_synthetic((0, 1), width=640, height=480)
    devices = [torch.device('cpu')] + ([torch.device('cuda')] if torch.cuda.is_available() else [])
    for dev in devices:
        name = torch.cuda.get_device_name() if dev.type == 'cuda' else f'CPU, {torch.get_num_threads()} threads'
        print(f'{dev.type} ({name})')
        if a.only != 'recover': bench_training(dev, a.points, a.batch, a.steps, depth, K)
        if a.only != 'train': bench_recovery(dev, a.repeats, depth, K)
