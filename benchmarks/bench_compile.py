"""`train.speed_up` (what `--compile` does): the 2D networks' inference, and the thesis's 3D training step with frozen ENet
features, eager against the channels_last layout and against torch.compile (+ channels_last).

    python benchmarks/bench_compile.py [--models enet3dmv enet deeplabv3] [--repeats 5] [--no_compile] [--no_3d]

Inference: batch 8 at 328x256 (the thesis's image size) in eval mode under no_grad. Eager and channels_last runs are
interleaved (A, B, A, B ...) and the median of each is taken, so a shared machine's load hits both alike. With
compile: the seconds of the first call (the compile; cached by torch's inductor cache for later runs of the same
model), then the compiled model interleaved with eager, and the largest difference of the outputs. The 3D step: the
thesis's feature-input model (`pretrained_feat_input_3d_recon_tiny`'s shapes: frozen `enet3dmv` features of 5 views)
with its 2D features compiled; the frozen net is what `--compile` speeds up in `train-3d`. Prints figures; asserts nothing.
"""
from __future__ import annotations
from bench_common import policy_line   # first: the package's thread policy before torch loads
import argparse, copy, statistics, time
import torch


def interleaved(fns: dict, repeats: int) -> dict:
    "Median seconds per call of each function, calls interleaved round by round."
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter(); fn(); times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_inference(name: str, repeats: int, compile: bool):
    from thesis_recon.seg2d.model import ARCHITECTURES
    from thesis_recon.train import speed_up
    torch.manual_seed(0)
    net = ARCHITECTURES[name]().eval()
    images = torch.randn(8, 3, 256, 328)
    run = lambda m: (lambda: m(images))
    models = {'eager': net, 'channels_last': speed_up(copy.deepcopy(net), channels_last=True)}
    with torch.no_grad():
        for m in models.values(): m(images)          # warm-up: oneDNN primitives
        t = interleaved({k: run(m) for k, m in models.items()}, repeats)
        line = f'  {name:9s} eager {8 / t["eager"]:6.1f} img/s, channels_last {8 / t["channels_last"]:6.1f} img/s ({t["eager"] / t["channels_last"]:.2f}x)'
        if compile:
            fast = speed_up(copy.deepcopy(net), compile=True, channels_last=True)
            t0 = time.perf_counter(); out = fast(images); first = time.perf_counter() - t0
            diff = (out - net(images)).abs().max().item()
            fast(images[:3])                            # the last, smaller batch: no second compile
            tc = interleaved({'eager': run(net), 'compiled': run(fast)}, repeats)
            line += (f', compiled + channels_last {8 / tc["compiled"]:6.1f} img/s ({tc["eager"] / tc["compiled"]:.2f}x; compile '
                     f'{first:.0f} s, max |difference| {diff:.1e})')
    print(line, flush=True)


def bench_3d_step(repeats: int, compile: bool, batch: int = 2, views: int = 5, grid=(16, 16, 32)):
    """Seconds per training step (forward, backward, AdamW) of the thesis's feature-input model: frozen `enet3dmv`
    features of `views` 328x256 views per chunk, back-projected into `grid` chunks, SurfaceNet at a quarter of the
    thesis's widths (CPU scale); each chunk voxel seen by one pixel of each view."""
    from thesis_recon.nets3d.model import Model2D3D
    from thesis_recon.nets3d.surfacenet import SurfaceNet
    from thesis_recon.seg2d.enet import ENet3DMV
    torch.manual_seed(0)
    make = lambda: Model2D3D(SurfaceNet(128 * views, 2, (8, 20, 40, 75), 4, 25), ENet3DMV().eval(), views, grid, freeze_2d=True)
    n_vox, n_pix = grid[0] * grid[1] * grid[2], 41 * 32
    g = torch.Generator().manual_seed(0)
    view = torch.arange(batch * views).repeat_interleave(n_vox)
    idx = torch.stack([view, torch.arange(n_vox).repeat(batch * views), torch.randint(0, n_pix, (len(view),), generator=g)])
    images = torch.randn(batch, views, 3, 256, 328, generator=g)
    target = torch.randint(0, 2, (batch, *grid), generator=g)
    def stepper(model):
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], 1e-3)
        def step():
            loss = torch.nn.functional.cross_entropy(model(images, idx), target)
            opt.zero_grad(); loss.backward(); opt.step()
        return step
    eager = make(); features = lambda m: (lambda: m.features_2d(images.flatten(0, 1)))
    models = {'eager': eager, 'channels_last': speed_up_2d(make(), channels_last=True)}
    for m in models.values(): stepper(m)()
    t = interleaved({k: stepper(m) for k, m in models.items()}, repeats)
    tf = interleaved({k: features(m) for k, m in models.items()}, repeats)
    line = (f'  3D step, frozen ENet features ({batch}x{views} views): eager {t["eager"]:.2f} s (features {tf["eager"]:.2f} s), '
            f'channels_last features {t["channels_last"]:.2f} s ({t["eager"] / t["channels_last"]:.2f}x)')
    if compile:
        fast = speed_up_2d(make(), compile=True, channels_last=True)
        t0 = time.perf_counter(); stepper(fast)(); first = time.perf_counter() - t0
        tc = interleaved({'eager': stepper(eager), 'compiled': stepper(fast)}, repeats)
        tfc = interleaved({'eager': features(eager), 'compiled': features(fast)}, repeats)
        line += (f', compiled + channels_last features {tc["compiled"]:.2f} s ({tc["eager"] / tc["compiled"]:.2f}x the step, '
                 f'{tfc["eager"] / tfc["compiled"]:.2f}x the features; first step {first:.0f} s)')
    print(line, flush=True)


def speed_up_2d(model, **kw):
    "`speed_up` applied to a Model2D3D's frozen 2D network (its `features`), as train-3d --compile does."
    from thesis_recon.train import speed_up
    speed_up(model.net_2d, method='features', **kw)
    return model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--models', nargs='+', default=['enet3dmv', 'enet', 'deeplabv3'], choices=['enet3dmv', 'enet', 'deeplabv3'])
    p.add_argument('--repeats', type=int, default=5, help='interleaved timed calls of each variant (median shown)')
    p.add_argument('--no_compile', action='store_true', help='channels_last only (compiling takes minutes per model)')
    p.add_argument('--no_3d', action='store_true', help='skip the 3D training step')
    a = p.parse_args(argv)
    print(policy_line())
    print('inference, batch 8 at 328x256 (CPU):')
    for name in a.models: bench_inference(name, a.repeats, not a.no_compile)
    if not a.no_3d: bench_3d_step(a.repeats, not a.no_compile)


if __name__ == '__main__':
    main()
