"""2D segmentation throughput: the thesis's ENet (`enet3dmv`), the paper's full ENet (`enet`) and DeepLabV3 training and
inference images/s at 328x256, and the data loader.

    python benchmarks/bench_seg2d.py [--threads 2] [--steps 5] [--models enet3dmv enet deeplabv3] [--loader-workers 2]

Prints figures; asserts nothing about speed. On the CPU: fp32 training (the thesis's loss, labels at the network's
output size: 41x32 for enet3dmv; AdamW step included) and inference images/s for each model, the ratio of enet3dmv's
training rate to the full ENet's, then the 2D data set's images/s (resize-crop, augmentation, normalisation) through
a DataLoader with `--loader-workers` workers, compared with the thesis ENet's training rate (the goal: at least 1.5x,
so the model never waits for data). With a CUDA GPU (skipped cleanly without one): the same with bf16 autocast at larger batches,
plus the achieved TFLOP/s (FLOPs counted by torch.utils.flop_counter for one step, divided by the measured time).
"""
from __future__ import annotations
from bench_common import policy_line, scratch_folder   # first: the package's thread policy before torch / NumPy load
import argparse, os, sys, time
import numpy as np
import torch

from thesis_recon.seg2d.model import ARCHITECTURES
from thesis_recon.seg2d.train import fixed_cross_entropy

W, H = 328, 256


def _sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()


def _model(name: str):
    return ARCHITECTURES[name]()


def _train_step(net, opt, images, labels, device, bf16: bool):
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = net(images)
    loss = fixed_cross_entropy(logits, labels, torch.ones(41, device=device), 0, 0.1)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _flops(fn) -> float:
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def bench_model(name: str, device, batch: int, steps: int, bf16: bool = False, count_flops: bool = False) -> dict:
    "Training and inference images/s (and TFLOP/s if `count_flops`) of one model at 328x256."
    torch.manual_seed(0)
    net = _model(name).to(device)
    images = torch.randn(batch, 3, H, W, device=device)
    stride = getattr(net, 'output_stride', 1)                  # labels at the network's output size, as the thesis
    labels = torch.randint(0, 41, (batch, H // stride, W // stride), device=device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    net.train()
    step = lambda: _train_step(net, opt, images, labels, device, bf16)
    for _ in range(2 if device.type == 'cuda' else 1): step()   # warm-up (allocator, cuDNN autotuning)
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps): step()
    _sync(device)
    train_s = (time.perf_counter() - t) / steps
    net.eval()
    def infer():
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            net(images)
    infer(); _sync(device)
    t = time.perf_counter()
    for _ in range(steps): infer()
    _sync(device)
    infer_s = (time.perf_counter() - t) / steps
    out = {'model': name, 'batch': batch, 'train_img_s': batch / train_s, 'infer_img_s': batch / infer_s,
           'params_M': sum(p.numel() for p in net.parameters()) / 1e6}
    if count_flops:
        net.train(); out['train_tflops'] = _flops(step) / train_s / 1e12
        net.eval(); out['infer_tflops'] = _flops(infer) / infer_s / 1e12
    return out


def bench_loader(workers: int, batch: int = 8, epochs: int = 2) -> float:
    "Images/s of the 2D data set (augmented, 328x256 from 320x240 exported frames) through a DataLoader."
    from thesis_recon.synthetic import make_synthetic_scans
    from thesis_recon.seg2d.data import prep_2d_dataset, Seg2dDataset
    tmp = scratch_folder(prefix='bench_seg2d_')
    make_synthetic_scans(tmp/'exported', n_scenes=2, n_frames=24, width=320, height=240, progress=False)
    (tmp/'train.txt').write_text('scene0000_00\nscene0001_00\n')
    prep_2d_dataset(tmp/'exported', tmp/'2d', tmp/'train.txt', progress=False)
    ds = Seg2dDataset(tmp/'2d/scannet_250k_images/trainset', tmp/'2d/labels_250k_images/trainset', augmentation=True)
    dl = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers,
                                     persistent_workers=workers > 0)
    for _ in dl: pass                                   # start the workers, warm the page cache
    t, n = time.perf_counter(), 0
    for _ in range(epochs):
        for b in dl: n += len(b['image'])
    return n / (time.perf_counter() - t)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--threads', type=int, default=2, help='torch CPU threads (default 2)')
    p.add_argument('--steps', type=int, default=3, help='timed steps per measurement on the CPU (default 3)')
    p.add_argument('--gpu-steps', type=int, default=20, help='timed steps per measurement on the GPU (default 20)')
    p.add_argument('--models', nargs='+', default=['enet3dmv', 'enet', 'deeplabv3'], choices=list(ARCHITECTURES))
    p.add_argument('--cpu-batch', type=int, default=4, help='batch on the CPU (default 4)')
    p.add_argument('--rounds', type=int, default=1,
                   help='CPU: measure every model this many times, in turn, and report the medians (steadier on a shared machine)')
    p.add_argument('--loader-workers', type=int, default=2, help='DataLoader workers for the loader figure (default 2)')
    p.add_argument('--skip-cpu', action='store_true', help='only the GPU figures')
    p.add_argument('--no-loader', action='store_true', help='skip the data loader figure')
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    print(policy_line())
    print(f'torch {torch.__version__}, {a.threads} CPU threads of {os.cpu_count()} cores')
    rates = {}
    if not a.skip_cpu:
        print('\nCPU, fp32, 328x256:')
        runs = {name: [] for name in a.models}
        for _ in range(a.rounds):                      # models in turn, so a change in the machine's load hits all alike
            for name in a.models: runs[name].append(bench_model(name, torch.device('cpu'), a.cpu_batch, a.steps))
        for name, rs in runs.items():
            med = lambda key: float(np.median([r[key] for r in rs]))
            rates[name] = med('train_img_s')
            print(f"  {name:<10} {rs[0]['params_M']:6.2f} M params  train {rates[name]:7.2f} img/s  "
                  f"inference {med('infer_img_s'):7.2f} img/s  (batch {rs[0]['batch']}, median of {len(rs)})")
        if 'enet3dmv' in rates and 'enet' in rates:
            print(f"  enet3dmv trains {rates['enet3dmv'] / rates['enet']:.2f}x as fast as the full ENet")
        if not a.no_loader:
            lr = bench_loader(a.loader_workers)
            print(f'\ndata loader (augmented, 320x240 jpeg -> 328x256), {a.loader_workers} workers: {lr:.1f} img/s')
            ref = 'enet3dmv' if 'enet3dmv' in rates else next(iter(rates), None)
            if ref is not None:
                print(f"  = {lr / rates[ref]:.1f}x {ref}'s CPU training rate (goal >= 1.5x)")
    if torch.cuda.is_available():
        dev = torch.device('cuda')
        print(f'\nGPU {torch.cuda.get_device_name(0)}, bf16 autocast, 328x256:')
        for name, batch in (('enet3dmv', 64), ('enet', 64), ('deeplabv3', 32)):
            if name not in a.models: continue
            r = bench_model(name, dev, batch, a.gpu_steps, bf16=True, count_flops=True)
            goal = 300 if name == 'deeplabv3' else 1500
            print(f"  {name:<10} train {r['train_img_s']:8.1f} img/s ({r['train_tflops']:.1f} TFLOP/s; goal on H100 >= {goal})  "
                  f"inference {r['infer_img_s']:8.1f} img/s ({r['infer_tflops']:.1f} TFLOP/s)  (batch {batch})")
    else:
        print('\nno CUDA GPU: GPU figures skipped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
