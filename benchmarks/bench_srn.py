"""Speed of the scene representation network: rays/s for a training step (render + loss + backward + Adam) and for
rendering (no gradients), for the tiny CPU configuration and the original's full size, on the CPU and, when torch sees
one, the GPU (fp32, and bf16 autocast as the trainer uses on CUDA).

The issue's goal: training at 128x128 on a GPU at least 100x the rate on 2 CPU cores. `--joint` adds the joint semantic
SRN (RGBA pixel generator + U-Net class generator, 8 x cross-entropy) at full size. Prints figures only."""
import argparse, math, time
import numpy as np
import torch
from thesis_recon.srn.model import SRN, srn_loss
from thesis_recon.srn.data import sphere_poses

CONFIGS = {
    'tiny': dict(latent_dim=16, phi_hidden=32, phi_layers=3, tracing_steps=4, rgb_hidden=32, rgb_layers=2),
    'full': dict(latent_dim=256, phi_hidden=256, phi_layers=4, tracing_steps=10, rgb_hidden=256, rgb_layers=5),
}

def batch_of(B: int, s: int, device) -> dict:
    f = s / 2 / math.tan(math.radians(25))
    return dict(instance_idx=torch.arange(B, device=device) % 8,
                pose=torch.tensor(sphere_poses(B, seed=0), dtype=torch.float32, device=device),
                intrinsics=torch.tensor([[f, 0, s / 2], [0, f, s / 2], [0, 0, 1.0]], device=device).expand(B, 3, 3),
                rgb=torch.rand(B, s * s, 3, device=device) * 2 - 1, seg=torch.randint(0, 6, (B, s * s), device=device))

def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()

def time_it(fn, steps: int, device) -> tuple[float, float]:
    fn(); sync(device)                                        # warm up (allocations, kernels)
    t, c = time.perf_counter(), time.process_time()
    for _ in range(steps): fn()
    sync(device)
    return (time.perf_counter() - t) / steps, (time.process_time() - c) / steps

def bench(name: str, side: int, B: int, device, steps: int, bf16: bool = False, joint: bool = False):
    torch.manual_seed(0)
    model = SRN(8, **CONFIGS[name], **(dict(num_classes=6) if joint else {})).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    batch = batch_of(B, side, device)
    ctx = (lambda: torch.autocast('cuda', dtype=torch.bfloat16)) if bf16 else torch.enable_grad
    def train_step():
        with ctx():
            loss, _ = srn_loss(model(batch), batch)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    def render_step():
        with torch.no_grad(), ctx(): model(batch)
    rays = B * side * side
    tw, tc = time_it(train_step, steps, device)
    rw, rc = time_it(render_step, steps, device)
    tag = f'{name + (" joint" if joint else ""):10s} {side:3d}px x {B:2d} views on {device.type}{" bf16" if bf16 else ""}'
    cpu_rate = f', {rays / tc:,.0f} per CPU-second' if device.type == 'cpu' else ''   # wall time is inflated on a shared machine
    print(f'{tag}: train {rays / tw:10,.0f} rays/s ({tw * 1000:7.1f} ms/step{cpu_rate}) | '
          f'render {rays / rw:10,.0f} rays/s ({rw * 1000:7.1f} ms{", %s per CPU-second" % format(rays / rc, ",.0f") if device.type == "cpu" else ""})', flush=True)
    return rays / tw

def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s choice)')
    p.add_argument('--steps', type=int, default=5, help='timed steps per figure')
    p.add_argument('--skip-cpu-full', action='store_true', help='skip the slow full-size CPU figures')
    p.add_argument('--joint', action='store_true', help='also time the joint semantic SRN (full size)')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} CPU threads')
    cpu = torch.device('cpu')
    bench('tiny', 32, 8, cpu, a.steps)
    cpu_full = None
    if not a.skip_cpu_full:
        bench('full', 64, 2, cpu, max(1, a.steps // 2))
        cpu_full = bench('full', 128, 1, cpu, max(1, a.steps // 2))
        if a.joint: bench('full', 64, 2, cpu, max(1, a.steps // 2), joint=True)
    if torch.cuda.is_available():
        gpu = torch.device('cuda')
        print(f'GPU: {torch.cuda.get_device_name(0)}')
        bench('tiny', 32, 8, gpu, a.steps * 4)
        bench('full', 64, 92, gpu, a.steps * 2)
        g = bench('full', 128, 16, gpu, a.steps * 2)
        gb = bench('full', 128, 16, gpu, a.steps * 2, bf16=True)
        if a.joint: bench('full', 128, 8, gpu, a.steps * 2, joint=True)
        if cpu_full: print(f'GPU / CPU training rate at 128px (full size): fp32 {g / cpu_full:.0f}x, bf16 {gb / cpu_full:.0f}x')
    else:
        print('no GPU visible to torch: GPU figures skipped')

if __name__ == '__main__':
    main()
