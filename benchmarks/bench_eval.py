"""The time of `infer-3d`'s evaluation of one synthetic scene (prediction excluded), by part.

A tiny synthetic val scene (`make_tiny_chunks`: 40 frames at 160x120, 10 cm voxels) whose "prediction" is its own
ground truth (so every score is 1 and the work is that of a real scene of the same size), scored by
`nets3d.evaluate.evaluate_scene` against the thesis's GT scenes: the reassembly and the two meshes, the mesh metrics by
each protocol, the labels (nearest vertex, one confusion), and the depth evaluation (the mesh ray-cast into every
frame at 328x256). Prints the best of `--repeats` for each part and for the whole.

    python benchmarks/bench_eval.py [--repeats 3] [--work DIR]
"""
from bench_common import policy_line, scratch_folder   # first: the package's thread policy before torch / NumPy load
import argparse, time
from pathlib import Path
import h5py
import numpy as np
from thesis_recon.metrics import mesh_metrics
from thesis_recon.nets3d.config import load_3d_config
from thesis_recon.nets3d.data import make_tiny_chunks
from thesis_recon.nets3d.evaluate import (evaluate_scene, ground_truth_meshes, label_scores, scene_depth_metrics, scene_frames,
                                          scene_grids, thesis_mesh)


def best(fn, repeats: int) -> float:
    "The fastest of `repeats` calls of `fn`, seconds."
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--work', default=None, help='folder for the synthetic data (default: a temporary one)')
    a = ap.parse_args()
    print(policy_line())
    work = scratch_folder(a.work, 'bench_eval_')
    tiny = make_tiny_chunks(work/'data')
    with h5py.File(tiny['val'], 'r') as f: x, y, w2g, sid, scan = f['x'][:], f['y'][:], f['world_to_grid'][:], f['scene_id'][:], f['scan_id'][:]
    scene = f'scene{int(sid[0]):04d}_{int(scan[0]):02d}'
    pred = {'classes': np.maximum(y, 0).astype(np.int16), 'occupied': (x > 0).astype(np.float32), 'labels': np.maximum(y, 0),
            'x': x, 'y': y, 'world_to_grid': w2g}
    cfg = load_3d_config({'root': str(tiny['root']), 'train_file': str(tiny['train']), 'val_file': str(tiny['val']),
                          'out_dir': str(work/'run'), 'image_shape': [80, 64], 'depth_shape': [80, 64], 'num_images': 3,
                          'subvol_size': [16, 16, 32], 'voxel_size': 0.1, 'model_3d': {'num_classes': 41}})
    grids = scene_grids(pred, cfg.voxel_size)
    g2w = grids['grid_to_world']
    mesh = thesis_mesh(grids['classes'] > 0, g2w)
    gt_surface, gt_labelled = ground_truth_meshes(scene, grids, cfg.root, 'thesis')
    frames = scene_frames(Path(cfg.root)/scene)
    parts = {
        'reassemble + meshes (prediction, GT surface, GT labels)': lambda: (thesis_mesh(scene_grids(pred, cfg.voxel_size)['classes'] > 0, g2w),
                                                                          ground_truth_meshes(scene, grids, cfg.root, 'thesis')),
        "mesh metrics, protocol 'vertices'": lambda: mesh_metrics(mesh, gt_surface, protocol='vertices'),
        "mesh metrics, protocol 'surface'": lambda: mesh_metrics(mesh, gt_surface, protocol='surface'),
        'labels (nearest vertex, confusion, thesis IoU)': lambda: label_scores(grids['classes'], g2w, gt_labelled, 'thesis'),
        f'depth ({len(frames)} frames rendered at 328x256)': lambda: scene_depth_metrics(mesh, frames),
        'evaluate_scene, all of it (both protocols, depth)': lambda: evaluate_scene(scene, pred, cfg, protocols=('vertices', 'surface')),
    }
    print(f'{scene}: {len(x)} chunks of 16x16x32 at 10 cm, mesh {len(mesh.vertices)} vertices, GT {len(gt_surface.vertices)}; '
          f'best of {a.repeats}')
    for name, fn in parts.items(): print(f'{best(fn, a.repeats):8.3f} s  {name}')


if __name__ == '__main__':
    main()
