"""The GPU against the CPU backend on the same machine (issue 15).

Prints, each beside the CPU figure:
  - TSDF fusion frames/s at 4, 2 and 1 cm (default band), the volume resident on the GPU: with the frames already on
    the GPU, with one plain upload per frame (`cupy.asarray`), and uploaded ahead (`upload_ahead`: pinned staging on a
    copy stream, overlapping the previous frame's integration); data: the 7-Scenes excerpt, or a synthetic 640x480 scan
    with sensor noise when shared/data is absent (the first line says which);
  - `fuse_scan` of that scan's folder at 4 and 2 cm end to end (reading and decoding the files included);
  - ray casting frames/s at 640x480 and 1296x968, with and without shadows (colour, depth, normals and labels
    downloaded to NumPy each frame);
  - `thesis-recon synth` and `thesis-recon demo` wall time end to end with --device cuda and --device cpu.
Without CuPy or a GPU it says so and exits with status 0.

    python benchmarks/bench_gpu.py [--frames 100] [--cpu-frames 20] [--render-frames 200] [--skip-cli]
"""
from bench_common import policy_line, scratch_folder   # first: the package's thread policy before torch / NumPy load
import argparse, os, subprocess, sys, tempfile, time
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--frames', type=int, default=100, help='TSDF frames on the GPU')
    ap.add_argument('--cpu-frames', type=int, default=20, help='TSDF frames on the CPU (it is slower)')
    ap.add_argument('--render-frames', type=int, default=200, help='ray-cast frames on the GPU (a tenth of them on the CPU)')
    ap.add_argument('--skip-cli', action='store_true', help='skip the synth/demo end-to-end runs')
    a = ap.parse_args()
    print(policy_line())
    from thesis_recon.kernels import gpu_available
    if not gpu_available():
        print('no GPU: CuPy is not installed or sees no device (pip install "thesis-recon[gpu]"); nothing to measure')
        return 0
    import cupy as cp
    from thesis_recon.core import shared_data
    from thesis_recon.frames import ScanNetScene, SevenScenes
    from thesis_recon.geometry import scale_intrinsics, view_frustum
    from thesis_recon.synthetic import default_intrinsics, make_scene, render, scan_trajectory
    from thesis_recon.kernels import upload_ahead
    from thesis_recon.tsdf import TSDFVolume, fuse_scan
    sync = cp.cuda.Stream.null.synchronize
    print(f'GPU: {cp.cuda.runtime.getDeviceProperties(0)["name"].decode()}, CPU cores: {len(os.sched_getaffinity(0))}')

    # --- TSDF ---------------------------------------------------------------------------------------------------
    folder = shared_data('7scenes-excerpt')
    if folder is not None: path, scan, data = folder, SevenScenes(folder, load_color=False), f'the 7-Scenes excerpt ({folder})'
    else:
        from thesis_recon.synthetic import make_synthetic_scans
        path = make_synthetic_scans(scratch_folder(prefix='bench_gpu_'), n_frames=a.frames, noise=True, progress=False)[0]
        scan, data = ScanNetScene(path, load_color=False, load_label=False), 'a synthetic 640x480 scan with sensor noise'
    frames = [f for f in scan if f.pose_valid][:a.frames]
    print(f'TSDF data: {data}, {len(frames)} frames {frames[0].depth.shape[1]}x{frames[0].depth.shape[0]}')
    pts = np.concatenate([view_frustum(f.depth, f.K, f.pose) for f in frames])
    bnds = np.stack([pts.min(0), pts.max(0)], 1)
    dev_depths = [cp.asarray(f.depth) for f in frames]
    for vs in (0.04, 0.02, 0.01):
        row = {}
        host = [f.depth for f in frames]
        for name, depths, device, n in (('GPU, frames resident', lambda: dev_depths, 'cuda', len(frames)),
                                         ('GPU, one upload per frame', lambda: host, 'cuda', len(frames)),
                                         ('GPU, uploaded ahead', lambda: (d for (d,) in upload_ahead(((d,) for d in host), 'cuda')),
                                          'cuda', len(frames)),
                                         ('CPU', lambda: host, 'cpu', min(a.cpu_frames, len(frames)))):
            vol = TSDFVolume(bnds, vs, device=device)
            vol.integrate(host[0], frames[0].K, frames[0].pose); sync()      # compile and warm up outside the timing
            vol = TSDFVolume(bnds, vs, device=device); sync()
            t0 = time.perf_counter()
            for d, f in zip(depths(), frames[:n]): vol.integrate(d, f.K, f.pose)
            sync()
            row[name] = n / (time.perf_counter() - t0)
        print(f'TSDF {vs * 100:g} cm, {"x".join(map(str, vol.dims))} voxels: '
              + ', '.join(f'{k} {v:,.0f} frames/s' for k, v in row.items())
              + f'  (GPU {row["GPU, frames resident"] / row["CPU"]:.1f}x CPU)')

    row = {}
    for device in ('cuda', 'cpu'):
        t0 = time.perf_counter()
        fuse_scan(path, (0.04, 0.02), progress=False, device=device)
        sync()
        row[device] = time.perf_counter() - t0
    print(f'fuse_scan of the scan folder ({len(scan)} frames, 4 and 2 cm, files read and decoded): '
          f'GPU {row["cuda"]:.2f} s, CPU {row["cpu"]:.2f} s ({row["cpu"] / row["cuda"]:.1f}x)')

    # --- ray casting --------------------------------------------------------------------------------------------
    scene = make_scene(0)
    poses = scan_trajectory(scene, a.render_frames, seed=0)
    for (w, h) in ((640, 480), (1296, 968)):
        K = scale_intrinsics(default_intrinsics(), (640, 480), (w, h))
        for shadows in (False, True):
            row = {}
            for device, n in (('cuda', len(poses)), ('cpu', max(1, len(poses) // 10))):
                render(scene, poses[0], K, w, h, shadows=shadows, device=device)      # buffers up, kernel compiled
                t0 = time.perf_counter()
                for p in poses[:n]: render(scene, p, K, w, h, shadows=shadows, device=device)
                row[device] = n / (time.perf_counter() - t0)
            print(f'ray casting {w}x{h}{" with shadows" if shadows else ""}: GPU {row["cuda"]:,.0f} frames/s, '
                  f'CPU {row["cpu"]:,.1f} frames/s ({row["cuda"] / row["cpu"]:.1f}x)')

    # --- end to end ---------------------------------------------------------------------------------------------
    if not a.skip_cli:
        for cmd in (['synth', '--frames', '300', '--no_progress'], ['demo', '--frames', '100']):
            row = {}
            for device in ('cuda', 'cpu'):
                with tempfile.TemporaryDirectory() as tmp:
                    out = ['--out', os.path.join(tmp, 'out')]
                    t0 = time.perf_counter()
                    res = subprocess.run([sys.executable, '-m', 'thesis_recon.cli', *cmd, *out, '--device', device],
                                         capture_output=True, text=True)
                    row[device] = time.perf_counter() - t0
                    if res.returncode: print(f'{cmd[0]} --device {device} failed:\n{res.stderr[-2000:]}')
            print(f'thesis-recon {" ".join(cmd)}: --device cuda {row["cuda"]:.1f} s, --device cpu {row["cpu"]:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
