"""3D network speed: training chunks/s (RGB input with the thesis's sparse side outputs and with our dense ones; the thesis's
ENet-feature input with a frozen `enet3dmv`) and scene inference seconds.

On the CPU (default) the sizes are scaled down so that the run takes a few minutes on 2 cores: 16x16x32 chunks,
3 views of 80x64, full-width SurfaceNet (channels 32/80/160/300). With --device cuda (or auto on a GPU machine) the
thesis's sizes are used: 32x32x64 chunks, 5 views of 328x256 (ENet features 41x32), batch 16, bf16 autocast, and the
peak GPU memory per batch is printed (goal: feature-input training >= 200 chunks/s on an H100-class GPU).
Both train from the chunk loader (the data path is included), the model steps with AdamW.

usage: python benchmarks/bench_nets3d.py [--device cpu|cuda|auto] [--steps 5] [--keep DIR]
"""
from bench_common import policy_line, scratch_folder   # first: the package's thread policy before torch / NumPy load
import argparse, time
import torch

def train_speed(cfg, device, steps, precision):
    "Chunks/s of `steps` optimizer steps (after 1 warm-up step) through the real loss, loader and model."
    from thesis_recon.nets3d.data import collate_chunks, open_chunks
    from thesis_recon.train import autocast, to_device
    from thesis_recon.nets3d.model import build_model
    from thesis_recon.nets3d.train import class_weights, make_loss
    ds = open_chunks(cfg, cfg.train_file)
    model = build_model(cfg).to(device).train()
    loss_fn = make_loss(cfg.model_3d.num_classes, class_weights(cfg, ds))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], 1e-3)
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, collate_fn=collate_chunks,
                                         num_workers=cfg.num_workers, persistent_workers=cfg.num_workers > 0,
                                         multiprocessing_context='spawn' if cfg.num_workers else None)
    it = iter(loader)
    def batch():
        nonlocal it
        try: return next(it)
        except StopIteration: it = iter(loader); return next(it)
    if device.type == 'cuda': torch.cuda.reset_peak_memory_stats()
    n, t0 = 0, None
    for s in range(steps + 1):
        if s == 1:
            if device.type == 'cuda': torch.cuda.synchronize()
            t0 = time.perf_counter()
        b = to_device(batch(), device)
        with autocast(device, precision): loss = loss_fn(model, b)
        opt.zero_grad(); loss.backward(); opt.step()
        if s >= 1: n += len(b['x'])
    if device.type == 'cuda': torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == 'cuda' else None
    return n / (time.perf_counter() - t0), peak

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'])
    p.add_argument('--steps', type=int, default=5, help='timed optimizer steps per input kind')
    p.add_argument('--keep', default=None, help='work in this folder and keep it')
    a = p.parse_args(argv)
    print(policy_line())
    from thesis_recon.train import resolve_device, save_checkpoint
    from thesis_recon.nets3d.data import make_tiny_chunks
    from thesis_recon.nets3d.config import load_3d_config
    from thesis_recon.nets3d.evaluate import infer_3d
    from thesis_recon.seg2d.enet import ENet3DMV
    device = resolve_device(a.device)
    gpu = device.type == 'cuda'
    tmp = scratch_folder(a.keep, 'bench_nets3d_')
    t0 = time.perf_counter()
    if gpu:
        data = make_tiny_chunks(tmp/'data', n_train_scenes=2, n_val_scenes=1, n_frames=120, frame_size=(640, 480),
                                img_size=(328, 256), subvol_size=(32, 32, 64), voxel_size=0.05, n_views=5, chunks_per_scene=40)
        shape, feat, batch, views, grid, vs, dmin, dmax = [328, 256], [41, 32], 16, 5, [32, 32, 64], 0.05, 0.4, 4.0
    else:
        data = make_tiny_chunks(tmp/'data')
        shape, feat, batch, views, grid, vs, dmin, dmax = [80, 64], [10, 8], 4, 3, [16, 16, 32], 0.1, 0.2, 6.0
    print(f'data: {time.perf_counter() - t0:.1f} s ({device}; {"thesis" if gpu else "reduced"} sizes: chunks {grid}, '
          f'{views} views of {shape[0]}x{shape[1]}, batch {batch})')
    save_checkpoint(tmp/'enet.tar', ENet3DMV(num_classes=41), arch='enet3dmv')
    base = {'root': str(data['root']), 'train_file': str(data['train']), 'val_file': str(data['val']), 'out_dir': str(tmp/'run'),
            'image_shape': shape, 'depth_shape': shape, 'batch_size': batch, 'num_images': views, 'subvol_size': grid,
            'voxel_size': vs, 'proj_depth_min': dmin, 'proj_depth_max': dmax, 'num_workers': 4 if gpu else 0}
    precision = 'bf16' if gpu else 'fp32'
    rgb = load_3d_config(dict(base))
    for side in ('thesis', 'dense'):
        speed, peak = train_speed(load_3d_config({**base, 'model_3d': {'side_outputs': side}}), device, a.steps, precision)
        print(f'train, RGB input ({views * 3} ch), {side:6} side outputs: {speed:8.2f} chunks/s' + (f', peak {peak:.2f} GiB' if gpu else ''))
    fcfg = load_3d_config({**base, 'use_2d_feat_input': True, 'depth_shape': feat,
                           'model_2d': {'arch_2d': 'enet3dmv', 'load_path_2d': str(tmp/'enet.tar')}})
    speed, peak = train_speed(fcfg, device, a.steps, precision)
    print(f'train, ENet features ({views * 128} ch, frozen enet3dmv): {speed:8.2f} chunks/s' + (f', peak {peak:.2f} GiB' if gpu else ''))
    from thesis_recon.nets3d.model import ARCH, build_model
    save_checkpoint(tmp/'run'/'models'/'best.tar', build_model(rgb), arch=ARCH)
    t0 = time.perf_counter()
    rows = infer_3d(rgb, 'val', tmp/'infer', device=str(device.type), progress=False)
    n = len(rows) - 1
    print(f'inference + evaluation, RGB input: {(time.perf_counter() - t0) / n:.2f} s/scene '
          f'({rows[next(iter(rows))]["n_chunks"]} chunks a scene)')
    if not gpu: print('no GPU in use: the bf16 and peak-memory figures (thesis sizes) need --device cuda on a GPU machine')

if __name__ == '__main__': main()
