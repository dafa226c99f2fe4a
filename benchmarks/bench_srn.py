"""Speed of the scene representation network: rays/s for a training step (render + loss + backward + Adam) and for
rendering (no gradients), for the tiny CPU configuration and the original's full size, on the CPU and, when torch sees
one, the GPU (fp32, and bf16 autocast as the trainer uses on CUDA).

The issue's goal: training at 128x128 on a GPU at least 100x the rate on 2 CPU cores. `--joint` adds the joint semantic
SRN (RGBA pixel generator + U-Net class generator, 8 x cross-entropy) at full size.

`--vs_original` (issue 31: ">= 1.0x vsitzmann's") times a training step of ours against vsitzmann's own `SRNsModel`
(scene-representation-networks `srns.py`, with pytorch_prototyping) in the same process, on the same weights and
rays, alternating A, B, A, B: the chairs' network (latent 256, phi 4 x 256, 10 steps) at 64 px. It runs only where
the original's code is on disk (`--original DIR`, default /work/originals/vsitzmann+scene-representation-networks,
pytorch_prototyping beside it or inside it); on the CPU its `.cuda()` calls are made no-ops, and torchvision and cv2,
which it imports for logging and data loading only, are stubbed. Its training-mode prints (the ray marcher's depth
range at every step) go to a buffer, its every-100th-call figure is skipped. Prints figures only."""
from bench_common import policy_line   # first: the package's thread policy before torch loads
import argparse, contextlib, io, math, statistics, sys, time, types
from pathlib import Path
import torch
from thesis_recon.srn.model import SRN, pixel_grid
from thesis_recon.srn.train import srn_loss
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

ORIGINAL = Path('/work/originals/vsitzmann+scene-representation-networks')

def load_original(root: Path):
    "vsitzmann's `srns` module importable on the CPU, or None when its code is not at `root`."
    proto = next((d for d in (root/'pytorch_prototyping', root.parent/'vsitzmann+pytorch_prototyping')
                  if (d/'pytorch_prototyping.py').is_file()), None)
    if not (root/'srns.py').is_file() or proto is None: return None
    for name in ('torchvision', 'torchvision.utils', 'cv2'):           # imported for logging / data loading only
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules['torchvision'].utils = sys.modules['torchvision.utils']
    sys.modules['torchvision.utils'].make_grid = lambda *a, **k: None
    sys.path[:0] = [str(root), str(proto)]
    import pytorch_prototyping as pp_module
    package = types.ModuleType('pytorch_prototyping'); package.pytorch_prototyping = pp_module
    sys.modules['pytorch_prototyping'] = package                     # `from pytorch_prototyping import pytorch_prototyping`
    torch.Tensor.cuda = lambda self, *a, **k: self                    # the original calls .cuda() throughout
    torch.nn.Module.cuda = lambda self, *a, **k: self
    import srns
    return srns

def phi_before(phi_params, points):
    "apply_phi as it was before issue 31 (einsum, bias added out of place, ReLU out of place): the 'before' figure."
    h = points
    for w, b in phi_params: h = torch.relu(torch.nn.functional.layer_norm(torch.einsum('boi,bni->bno', w, h) + b[:, None], (w.shape[1],)))
    return h

def vs_original(srns, side: int, B: int, rounds: int, steps: int):
    """Training steps per CPU-second of ours, of ours before issue 31 (`phi_before`, out-of-place ReLUs) and of the
    original's SRNsModel (same weights, rays and optimiser), alternating."""
    import thesis_recon.srn.model as srn_model
    from thesis_recon.srn.convert import original_state_dict
    torch.manual_seed(0)
    ours = SRN(8, **CONFIGS['full'])
    orig = srns.SRNsModel(num_instances=8, latent_dim=256, tracing_steps=10)
    orig.load_state_dict(original_state_dict(ours), strict=True)
    orig.ray_marcher.counter = 1                                      # its figure logging runs every 100th call
    batch = batch_of(B, side, torch.device('cpu'))
    inp = dict(instance_idx=batch['instance_idx'], pose=batch['pose'], intrinsics=batch['intrinsics'],
               uv=pixel_grid(side).long().expand(B, -1, -1))
    gt = dict(rgb=batch['rgb'])
    opt_ours, opt_orig = torch.optim.Adam(ours.parameters(), lr=5e-5), torch.optim.Adam(orig.parameters(), lr=5e-5)
    relus = [m for m in ours.modules() if isinstance(m, torch.nn.ReLU)]
    def step_ours():
        loss, _ = srn_loss(ours(batch), batch)
        opt_ours.zero_grad(set_to_none=True); loss.backward(); opt_ours.step()
    def step_before():
        phi, srn_model.apply_phi = srn_model.apply_phi, phi_before
        for m in relus: m.inplace = False
        try: step_ours()
        finally:
            srn_model.apply_phi = phi
            for m in relus: m.inplace = True
    def step_orig():                                                   # train.py: 200 x image + 1 x latent + 1e-3 x depth
        with contextlib.redirect_stdout(io.StringIO()):
            out = orig(inp)
            loss = 200 * orig.get_image_loss(out, gt) + orig.get_latent_loss() + 1e-3 * orig.get_regularization_loss(out, gt)
            opt_orig.zero_grad(); loss.backward(); opt_orig.step()
    for f in (step_ours, step_before, step_orig): f()                   # warm up
    t = {'ours': [], 'before': [], 'original': []}
    for _ in range(rounds):
        for name, f in (('ours', step_ours), ('before', step_before), ('original', step_orig)):
            c = time.process_time()
            for _ in range(steps): f()
            t[name].append((time.process_time() - c) / steps)
        print('  round: ' + ', '.join(f'{k} {v[-1] * 1000:7.1f} ms' for k, v in t.items()) + ' CPU/step', flush=True)
    med = lambda a, b: statistics.median(x / y for x, y in zip(t[a], t[b]))
    print(f"vs vsitzmann's SRNsModel, {side}px x {B} views, full size, training-step rate per CPU-second (median of {rounds} "
          f"rounds; best rounds in brackets): ours {med('original', 'ours'):.2f}x the original's "
          f"[{min(t['original']) / min(t['ours']):.2f}x], before issue 31 {med('original', 'before'):.2f}x "
          f"[{min(t['original']) / min(t['before']):.2f}x]; ours / before {med('before', 'ours'):.2f}x")

def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s choice)')
    p.add_argument('--steps', type=int, default=5, help='timed steps per figure')
    p.add_argument('--skip-cpu-full', action='store_true', help='skip the slow full-size CPU figures')
    p.add_argument('--joint', action='store_true', help='also time the joint semantic SRN (full size)')
    p.add_argument('--vs_original', action='store_true', help="only the training step against vsitzmann's code (see above)")
    p.add_argument('--original', type=Path, default=ORIGINAL, help='the scene-representation-networks checkout')
    p.add_argument('--rounds', type=int, default=7, help='alternating rounds of --vs_original')
    p.add_argument('--side', type=int, default=64, help='image side length of --vs_original')
    p.add_argument('--views', type=int, default=2, help='views per step of --vs_original')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} CPU threads')
    print(policy_line())
    if a.vs_original:
        srns = load_original(a.original)
        if srns is None: print(f'{a.original}: no srns.py with pytorch_prototyping beside it: comparison skipped'); return
        vs_original(srns, a.side, a.views, a.rounds, a.steps)
        return
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
