"""`metrics.mesh_metrics`'s default protocol against Open3D itself, where Open3D is installed: its `voxel_down_sample`
and NeuralRecon's `eval_mesh` (read_point_cloud = the vertices, voxel_down_sample(0.02), KD-tree nearest neighbours)
restated with Open3D's calls on two PLY files."""
import numpy as np
import pytest
from skimage.measure import marching_cubes
from thesis_recon.mesh import Mesh, read_ply, write_ply
from thesis_recon.metrics import mesh_metrics, voxel_down_sample

o3d = pytest.importorskip('open3d', reason='Open3D is not installed (pip install open3d): nothing to compare with')


def sphere(step: float, radius: float = 0.5) -> Mesh:
    "A marching-cubes sphere of `radius` m on a grid of `step` m."
    ax = np.arange(-radius - 2 * step, radius + 2 * step + 1e-9, step)
    x, y, z = np.meshgrid(ax, ax, ax, indexing='ij')
    v, f, _, _ = marching_cubes(np.sqrt(x ** 2 + y ** 2 + z ** 2) - radius, 0.0, spacing=(step,) * 3)
    return Mesh((v + ax[0]).astype(np.float32), f.astype(np.int32))


def eval_mesh_open3d(file_pred, file_trgt, threshold=0.05, down_sample=0.02) -> dict:
    "NeuralRecon's `eval_mesh` (tools/evaluation_utils.py) in Open3D's own calls, for comparison."
    def points(path):
        return np.asarray(o3d.io.read_point_cloud(str(path)).voxel_down_sample(down_sample).points)
    def nearest(ref, queries):
        pcd = o3d.geometry.PointCloud(); pcd.points = o3d.utility.Vector3dVector(ref)
        tree = o3d.geometry.KDTreeFlann(pcd)
        return np.array([np.sqrt(tree.search_knn_vector_3d(q, 1)[2][0]) for q in queries])
    pred, trgt = points(file_pred), points(file_trgt)
    d_pred, d_trgt = nearest(trgt, pred), nearest(pred, trgt)
    prec, rec = np.mean(d_pred < threshold), np.mean(d_trgt < threshold)
    return {'acc': d_pred.mean(), 'comp': d_trgt.mean(), 'precision': prec, 'recall': rec,
            'fscore': 2 * prec * rec / (prec + rec)}


def test_voxel_down_sample_equals_open3d():
    rng = np.random.default_rng(0)
    for scale, voxel in ((1.0, 0.02), (3.7, 0.05), (0.1, 0.013)):
        pts = rng.random((20000, 3)) * scale + rng.normal(size=3)
        pcd = o3d.geometry.PointCloud(); pcd.points = o3d.utility.Vector3dVector(pts)
        theirs = np.asarray(pcd.voxel_down_sample(voxel).points)
        ours = voxel_down_sample(pts, voxel)
        assert ours.shape == theirs.shape
        order = lambda a: a[np.lexsort(a.T[::-1])]
        np.testing.assert_allclose(order(ours), order(theirs), atol=1e-12)


def test_mesh_metrics_equal_neuralrecon_eval_mesh(tmp_path):
    coarse, fine = sphere(0.1), sphere(0.015)   # vertices 10 cm apart: F 0.876 by vertices, 1.000 by area
    write_ply(tmp_path/'coarse.ply', coarse); write_ply(tmp_path/'fine.ply', fine)
    theirs = eval_mesh_open3d(tmp_path/'coarse.ply', tmp_path/'fine.ply')
    ours = mesh_metrics(read_ply(tmp_path/'coarse.ply'), read_ply(tmp_path/'fine.ply'))
    assert ours['protocol'] == 'vertices'
    for k in ('acc', 'comp', 'precision', 'recall', 'fscore'):
        assert ours[k] == pytest.approx(theirs[k], abs=1e-9), k
    assert theirs["fscore"] < 0.9         # by vertices, part of the fine sphere is over 5 cm from every coarse vertex ...
    assert mesh_metrics(coarse, fine, protocol='surface')['fscore'] > 0.99   # ... not from the coarse faces
