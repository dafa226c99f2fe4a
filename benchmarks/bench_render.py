"""Rendering speed of the synthetic engine, and a 300-frame scan end to end (render + write raw layout).

Prints frames/s for 640x480 colour+depth+normals+labels+instances of a room with 30+ objects (goal >= 10 on 2
CPU cores), the NumPy reference's speed on the same frame (ratio), and the time of a 300-frame raw scan
(goal < 60 s). Then the mesh ray caster (`render_mesh`, watertight): the hierarchy build and 640x480 views of a
10^5-triangle marching-cubes sphere, and the NumPy reference against the kernel on a 64x48 view of a small mesh."""
from bench_common import policy_line   # first: the package's thread policy before torch / NumPy load
import argparse, tempfile, time
import numpy as np
from thesis_recon.synthetic import make_scene, scan_trajectory, render, render_reference, write_scannet_raw, default_intrinsics
from thesis_recon.kernels import set_num_threads

def bench_mesh_caster(K, frames: int = 10):
    "Print the mesh ray caster's figures (see the module docstring)."
    from thesis_recon.geometry import look_at
    from thesis_recon.mesh import marching_cubes
    from thesis_recon.render import mesh_bvh, render_mesh, render_mesh_reference
    grid = np.indices((121, 121, 121)).transpose(1, 2, 3, 0) * 0.005 - 0.3
    ball = marching_cubes(np.linalg.norm(grid, axis=-1) - 0.25, 0.0, [-0.3] * 3, 0.005)
    t0 = time.perf_counter(); bvh = mesh_bvh(ball); tb = time.perf_counter() - t0
    poses = [look_at([0.7 * np.cos(a), 0.7 * np.sin(a), 0.3], [0, 0, 0]) for a in np.linspace(0, 2 * np.pi, frames, endpoint=False)]
    render_mesh(ball, poses[0], K, 640, 480, bvh=bvh)                  # compile / load the kernel
    t0 = time.perf_counter()
    for pose in poses: render_mesh(ball, pose, K, 640, 480, bvh=bvh)
    dt = (time.perf_counter() - t0) / len(poses)
    print(f'render_mesh: {len(ball.faces)} triangles, hierarchy {tb:.2f} s, 640x480 {1 / dt:.1f} views/s '
          f'({dt * 1000:.0f} ms/view, shading included)')
    small = marching_cubes(np.linalg.norm(grid[::10, ::10, ::10], axis=-1) - 0.25, 0.0, [-0.3] * 3, 0.05)
    Ks = K.copy(); Ks[:2] /= 10
    t0 = time.perf_counter(); render_mesh_reference(small, poses[0], Ks, 64, 48); tr = time.perf_counter() - t0
    t0 = time.perf_counter(); render_mesh(small, poses[0], Ks, 64, 48); tk = time.perf_counter() - t0
    print(f'render_mesh NumPy reference at 64x48, {len(small.faces)} triangles: {tr:.2f} s; kernel {tk * 1000:.1f} ms; ratio {tr / tk:.0f}x')


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--frames', type=int, default=60, help='frames timed for the frames/s figure')
    p.add_argument('--scan-frames', type=int, default=300, help='frames of the end-to-end scan')
    p.add_argument('--threads', type=int, default=None, help='CPU kernel threads (default: all cores)')
    a = p.parse_args()
    if a.threads: set_num_threads(a.threads)
    print(policy_line())
    t0 = time.perf_counter()
    scene = make_scene(0, room_type='studio', min_objects=30)
    tg = time.perf_counter() - t0
    n_obj = sum(o.name not in ('wall', 'floor', 'ceiling') for o in scene.objects)
    print(f'scene: {scene!r}; {n_obj} objects besides walls/floor/ceiling')
    poses = scan_trajectory(scene, a.frames, seed=0)
    K = default_intrinsics(640, 480)
    render(scene, poses[0], K, 640, 480)                       # compile / load the kernel
    t0 = time.perf_counter()
    for pose in poses: render(scene, pose, K, 640, 480)
    dt = (time.perf_counter() - t0) / len(poses)
    print(f'render 640x480 (kernel, {a.frames} frames along a scan): {1 / dt:.1f} frames/s ({dt * 1000:.1f} ms/frame)')
    t0 = time.perf_counter()
    for pose in poses[:10]: render(scene, pose, K, 640, 480, noise=True, seed=0)
    dn = (time.perf_counter() - t0) / 10
    print(f'render 640x480 with the sensor model: {1 / dn:.1f} frames/s')
    t0 = time.perf_counter()
    for pose in poses[:10]: render(scene, pose, K, 640, 480, shadows=True)
    ds = (time.perf_counter() - t0) / 10
    print(f'render 640x480 with shadows: {1 / ds:.1f} frames/s')
    Ks = default_intrinsics(160, 120)
    t0 = time.perf_counter(); render_reference(scene, poses[0], Ks, 160, 120); tr = time.perf_counter() - t0
    t0 = time.perf_counter(); render(scene, poses[0], Ks, 160, 120); tk = time.perf_counter() - t0
    print(f'NumPy reference at 160x120: {tr:.2f} s/frame; kernel {tk * 1000:.1f} ms/frame; ratio {tr / tk:.0f}x')
    bench_mesh_caster(K)
    t0 = time.perf_counter()
    scan = scan_trajectory(scene, a.scan_frames, seed=0)
    tt = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_scannet_raw(scene, scan, tmp, 'scene0000_00', noise=True)
        te = time.perf_counter() - t0
    print(f'{a.scan_frames}-frame scan end to end: scene {tg:.1f} s + path {tt:.1f} s + render and write raw layout with the '
          f'sensor model (.sens 1296x968 jpeg / 640x480 zlib, label-filt, TSV, PLYs) {te:.1f} s = {tg + tt + te:.1f} s (goal < 60 s)')

if __name__ == '__main__':
    main()
