"""TSDF fusion speed: the 100 frames of the 7-Scenes excerpt at 2 cm (without shared/data, or with
THESIS_RECON_NO_SHARED=1: a synthetic 640x480 scan with sensor noise; the first line says which).

Prints frames/s for thesis_recon's kernel (block band, and every block; depth only and with colour, alternating), the
NumPy reference (on a few frames: it is slow) and Open3D's CPU VoxelBlockGrid (its block-sparse TSDF) on the same frames,
plus the F-score between our mesh and Open3D's. `--demo` also times `thesis-recon demo` on a synthetic scan (made once)
with colour and with `--no_color`, alternating: fusion seconds and total seconds of each. Frames are decoded before timing; only integration is timed. Open3D is optional (pip install open3d;
it needs the system library libusb-1.0-0) and not a dependency of the package.

    python benchmarks/bench_tsdf.py [--frames 100] [--voxel 0.02] [--reference-frames 3] [--demo]
"""
from bench_common import policy_line, scratch_folder   # first: the package's thread policy before torch / NumPy load
import argparse, os, tempfile, time
import numpy as np
from thesis_recon.core import shared_data
from thesis_recon.frames import ScanNetScene, SevenScenes
from thesis_recon.geometry import invert_pose, view_frustum
from thesis_recon.mesh import Mesh
from thesis_recon.metrics import mesh_metrics
from thesis_recon.tsdf import TSDFVolume, color_like_depth, integrate_reference, volume_dims


def timed(fn):
    t0 = time.perf_counter(); out = fn(); return out, time.perf_counter() - t0


def colour_cost(frames, colors, bnds, a) -> tuple[float, float]:
    "Best seconds of fusing `frames` depth only and with `colors` (the two alternate, `a.repeats` times each)."
    def run(color):
        v = TSDFVolume(bnds, a.voxel, a.margin, color=color)
        for f, c in zip(frames, colors): v.integrate(f.depth, f.K, f.pose, color=c if color else None)
    best = {False: 1e9, True: 1e9}
    for _ in range(a.repeats):
        for color in (False, True): best[color] = min(best[color], timed(lambda: run(color))[1])
    return best[False], best[True]


def demo_colour_cost(repeats: int) -> None:
    "Print the demo's fusion and total seconds with colour and with --no_color, alternating, on one synthetic scan."
    from thesis_recon.demo import demo
    from thesis_recon.synthetic import make_synthetic_scans
    with tempfile.TemporaryDirectory() as tmp:
        scan = make_synthetic_scans(f'{tmp}/scan', n_frames=100, noise=True, progress=False)[0]
        runs = {True: [], False: []}
        for k in range(repeats):
            for color in (True, False):
                rep = demo(f'{tmp}/out_{color}_{k}', scene=scan, progress=False, color=color)
                runs[color].append(rep['seconds'])
    for color in (True, False):
        fus, tot = min(r['fusion'] for r in runs[color]), min(r['total'] for r in runs[color])
        print(f'demo (100 frames 640x480, 4 + 2 cm), {"with colour" if color else "--no_color  "}: fusion {fus:.2f} s, '
              f'total {tot:.2f} s (best of {repeats}; the scan made beforehand)')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--frames', type=int, default=100)
    ap.add_argument('--voxel', type=float, default=0.02)
    ap.add_argument('--margin', type=float, default=3)
    ap.add_argument('--reference-frames', type=int, default=3)
    ap.add_argument('--o3d-block', type=int, default=8, help="Open3D's block resolution (voxels a side)")
    ap.add_argument('--o3d-block-count', type=int, default=40000)
    ap.add_argument('--repeats', type=int, default=3, help='timed runs of ours and of Open3D, alternating; the best counts')
    ap.add_argument('--demo', action='store_true', help='also time the demo with colour and with --no_color')
    a = ap.parse_args()
    print(policy_line())
    folder = shared_data('7scenes-excerpt')
    if folder is not None: scene, data = SevenScenes(folder), f'the 7-Scenes excerpt ({folder})'
    else:
        from thesis_recon.synthetic import make_synthetic_scans
        path = make_synthetic_scans(scratch_folder(prefix='bench_tsdf_'), n_frames=a.frames, noise=True, progress=False)[0]
        scene = ScanNetScene(path, load_label=False)
        data = 'a synthetic scan with sensor noise (shared/data/7scenes-excerpt not found)'
    print(f'data: {data}')
    frames = [scene[i] for i in range(min(a.frames, len(scene)))]
    pts = np.concatenate([view_frustum(f.depth, f.K, f.pose) for f in frames])
    bnds = np.stack([pts.min(0), pts.max(0)], 1)
    trunc = a.margin * a.voxel
    print(f'{len(frames)} frames {frames[0].depth.shape[1]}x{frames[0].depth.shape[0]}, voxel {a.voxel} m, trunc {trunc} m, '
          f'grid {"x".join(map(str, volume_dims(bnds, a.voxel)))}, cores {len(os.sched_getaffinity(0))}')

    rows = {}
    colors = [color_like_depth(f.color, f.depth.shape, resize=not isinstance(scene, SevenScenes)) for f in frames]
    depth_only, with_colour = colour_cost(frames, colors, bnds, a)
    rows['thesis_recon (band blocks), depth only'] = len(frames) / depth_only
    rows['thesis_recon (band blocks), with colour'] = len(frames) / with_colour
    vol = TSDFVolume(bnds, a.voxel, a.margin)
    vol.integrate(frames[0].depth, frames[0].K, frames[0].pose)       # compile / load the kernel outside the timing
    def run_ours():
        v = TSDFVolume(bnds, a.voxel, a.margin)
        for f in frames: v.integrate(f.depth, f.K, f.pose)
        return v
    vol_full = TSDFVolume(bnds, a.voxel, a.margin)
    _, dt = timed(lambda: [vol_full.integrate(f.depth, f.K, f.pose, band_only=False) for f in frames])
    rows['thesis_recon (all blocks)'] = len(frames) / dt
    ours_full = vol_full.extract_mesh()
    t = np.ones(vol.dims, np.float32); w = np.zeros_like(t)
    n_ref = min(a.reference_frames, len(frames))
    _, dt = timed(lambda: [integrate_reference(t, w, vol.vol_origin, a.voxel, trunc, f.depth, f.K, f.pose) for f in frames[:n_ref]])
    rows[f'NumPy reference ({n_ref} frames)'] = n_ref / dt

    o3d_mesh = None
    vol = None
    try:
        import open3d as o3d
    except ImportError:
        print('open3d not installed: pip install open3d (and apt-get install libusb-1.0-0)')
    else:
        import open3d.core as o3c
        K = o3c.Tensor(frames[0].K, o3c.Dtype.Float64)
        depth_max = float(max(f.depth.max() for f in frames)) + 1
        images = [o3d.t.geometry.Image(o3c.Tensor(np.round(f.depth * 1000).astype(np.uint16))) for f in frames]
        exts = [o3c.Tensor(invert_pose(f.pose), o3c.Dtype.Float64) for f in frames]
        def run_o3d():
            vbg = o3d.t.geometry.VoxelBlockGrid(attr_names=('tsdf', 'weight'), attr_dtypes=(o3c.float32, o3c.float32),
                                                attr_channels=((1), (1)), voxel_size=a.voxel, block_resolution=a.o3d_block,
                                                block_count=a.o3d_block_count, device=o3c.Device('CPU:0'))
            for im, e in zip(images, exts):
                blocks = vbg.compute_unique_block_coordinates(im, K, e, 1000.0, depth_max, float(a.margin))
                vbg.integrate(blocks, im, K, e, 1000.0, depth_max, float(a.margin))
            return vbg
        # the machine is shared: alternate the two and keep each one's best time
        best = {'ours': 1e9, 'o3d': 1e9}
        for _ in range(a.repeats):
            vol, dt = timed(run_ours); best['ours'] = min(best['ours'], dt)
            vbg, dt = timed(run_o3d); best['o3d'] = min(best['o3d'], dt)
        rows['thesis_recon (band blocks)'] = len(frames) / best['ours']
        rows['Open3D VoxelBlockGrid'] = len(frames) / best['o3d']
        m = vbg.extract_triangle_mesh(weight_threshold=1.0).to_legacy()
        o3d_mesh = Mesh(np.asarray(m.vertices), np.asarray(m.triangles).astype(np.int32))

    if vol is None:
        vol, dt = timed(run_ours); rows['thesis_recon (band blocks)'] = len(frames) / dt
    ours, t_mc = timed(vol.extract_mesh)
    w_ = max(map(len, rows))
    for k, v in rows.items():
        print(f'{k:<{w_}}  {v:8.2f} frames/s' + (f'  ({v / rows["Open3D VoxelBlockGrid"]:.2f}x Open3D)'
                                               if 'Open3D VoxelBlockGrid' in rows else ''))
    print(f'marching cubes of our volume: {t_mc:.2f} s, {len(ours.vertices)} vertices')
    m = mesh_metrics(ours, ours_full)
    print(f'band vs all blocks: F-score {m["fscore"]:.4f}')
    if o3d_mesh is not None:
        for name, mine, theirs in (('default extraction (ours: weight > 0; Open3D: its weight_threshold 1)', ours, o3d_mesh),
                                   ('cells seen at least twice (ours weight_threshold=1; Open3D weight_threshold 1)',
                                    vol.extract_mesh(weight_threshold=1), o3d_mesh)):
            m = mesh_metrics(mine, theirs)
            print(f'ours vs Open3D, {name}: F-score {m["fscore"]:.4f} (precision {m["precision"]:.4f}, '
                  f'recall {m["recall"]:.4f}, acc {m["acc"]:.4f} m, comp {m["comp"]:.4f} m)')
    print(f'colour costs {with_colour / depth_only - 1:+.0%} of the depth-only fusion time')
    if a.demo: demo_colour_cost(a.repeats)


if __name__ == '__main__':
    main()
