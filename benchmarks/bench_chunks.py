"""Chunk preparation and loading speed on a synthetic 300-frame scan.

Prints seconds per scene for `prep-backproj-data train` (100 chunks x 5 views judged at 328x256; goal <= 30 s; the
thesis's sampler and view rule, then this package's earlier ones, `train_sampling: inside` and `view_voxels: occupied`,
and the CPU ratio) and chunks per second for `ChunkDataset` through `chunk_loader` with 2 workers at 328x256 RGB (goal >= 50), plus the
same at 41x32 features.

usage: python benchmarks/bench_chunks.py [--frames 300] [--size 640x480] [--keep DIR]
"""
from bench_common import policy_line, scratch_folder   # first: the package's thread policy before torch / NumPy load
import argparse, os, sys, time
import numpy as np
import yaml

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--frames', type=int, default=300)
    p.add_argument('--size', default='640x480', help='exported frame size WxH (ScanNet depth: 640x480)')
    p.add_argument('--keep', default=None, help='work in this folder and keep it (default: a temporary folder)')
    a = p.parse_args(argv)
    print(policy_line())
    W, H = map(int, a.size.split('x'))
    from thesis_recon.synthetic import make_synthetic_scans
    from thesis_recon.voxelize import prep_occ_grid_scene
    from thesis_recon.chunks import prep_backproj_data
    from thesis_recon.nets3d.data import ChunkDataset, chunk_loader
    tmp = scratch_folder(a.keep, 'bench_chunks_')
    t0 = time.perf_counter()
    scan = make_synthetic_scans(tmp/'scans', n_scenes=1, n_frames=a.frames, seed=0, width=W, height=H)[0]
    print(f'synthetic scan: {a.frames} frames at {W}x{H} in {time.perf_counter() - t0:.1f} s')
    t0 = time.perf_counter()
    prep_occ_grid_scene(scan, tmp/'occ')
    print(f'prep-occ-grid: {time.perf_counter() - t0:.2f} s/scene')
    (tmp/'train.txt').write_text('scene0000_00\n'); (tmp/'val.txt').write_text('scene0000_00\n')
    cfg = dict(root='scans', occ_root='occ', label_file=None, train_list='train.txt', val_list='val.txt',
               subvol_size=[32, 32, 64], subvols_per_scene=100, num_nearest_images=5, img_size=[328, 256],
               frame_skip=1, voxel_size=0.05, depth_min=0.4, depth_max=4.0,
               min_occ={'start': 0.2, 'step': 0.01, 'every': 20, 'floor': 0.01}, seed=0)
    (tmp/'cfg.yml').write_text(yaml.safe_dump(cfg))
    out = tmp/'train.hdf5'
    if out.exists(): out.unlink()
    t0, c0 = time.perf_counter(), time.process_time()
    prep_backproj_data(tmp/'cfg.yml', 'train', out, n_proc=0)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    import h5py
    with h5py.File(out, 'r') as f: n = len(f['x'])
    print(f'prep-backproj-data train: {dt:.1f} s/scene wall, {dc:.1f} s CPU ({n} chunks x 5 views at 328x256; goal <= 30 s)')
    # the earlier rules (train_sampling: inside, view_voxels: occupied) beside the thesis's, the default
    (tmp/'cfg_old.yml').write_text(yaml.safe_dump({**cfg, 'train_sampling': 'inside', 'view_voxels': 'occupied'}))
    t0, c0 = time.perf_counter(), time.process_time()
    prep_backproj_data(tmp/'cfg_old.yml', 'train', tmp/'train_old.hdf5', n_proc=0)
    dt_old, dc_old = time.perf_counter() - t0, time.process_time() - c0
    print(f'  with train_sampling: inside, view_voxels: occupied: {dt_old:.1f} s wall, {dc_old:.1f} s CPU; '
          f'the thesis rules take {dc / dc_old:.2f}x the CPU')

    for label, kw in (('RGB 328x256', {}), ('features 41x32', {'features_root': tmp/'features'})):
        if 'features_root' in kw:
            d = tmp/'features'/'scene0000_00'; d.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng(0)
            for pose in (scan/'pose').glob('*.txt'):
                np.save(d/f'{pose.stem}.npy', rng.normal(size=(128, 32, 41)).astype(np.float16))
        ds = ChunkDataset(out, tmp/'scans', **kw)
        from thesis_recon.kernels import set_num_threads
        import torch
        prev, prev_torch = set_num_threads(1), torch.get_num_threads(); torch.set_num_threads(1)
        ds[0]
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(1, len(ds)): ds[i]
        wall, cpu = (time.perf_counter() - t0) / (len(ds) - 1), (time.process_time() - c0) / (len(ds) - 1)
        set_num_threads(prev); torch.set_num_threads(prev_torch)
        print(f'ChunkDataset {label}, one process: {1000 * cpu:.1f} ms CPU ({1000 * wall:.1f} ms wall) per chunk '
              f'-> {2 / cpu:.0f} chunks/s for 2 workers on 2 free cores')
        dl = chunk_loader(ds, batch_size=8, num_workers=2)
        t0 = time.perf_counter()
        for _ in dl: pass
        first = time.perf_counter() - t0
        t0 = time.perf_counter(); m = 0
        for _ in range(2):
            for b in dl: m += len(b['x'])
        rate = m / (time.perf_counter() - t0)
        print(f'ChunkDataset {label}, chunk_loader 2 workers: {rate:.1f} chunks/s (load average {os.getloadavg()[0]:.1f} '
              f'on {os.cpu_count()} cores) (first epoch incl. worker start {first:.1f} s; goal >= 50)')
        del dl
    return 0

if __name__ == '__main__':
    sys.exit(main())
