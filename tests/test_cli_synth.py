"""`thesis-recon synth` as a user runs it: both layouts, resuming, and bad options."""
import json, subprocess, sys

def run(*args):
    return subprocess.run([sys.executable, '-m', 'thesis_recon.cli', 'synth', *args], capture_output=True, text=True)

def test_help_explains_every_option():
    res = run('--help')
    assert res.returncode == 0, res.stderr
    for opt in ('--out', '--scenes', '--frames', '--seed', '--layout', '--noise', '--width', '--height', '--room_type', '--shadows', '--overwrite'):
        assert opt in res.stdout

def test_export_layout(tmp_path):
    res = run('--out', str(tmp_path), '--scenes', '2', '--frames', '4', '--seed', '3', '--width', '80', '--height', '60')
    assert res.returncode == 0, res.stderr
    for name in ('scene0003_00', 'scene0004_00'):
        d = tmp_path/name
        for sub, suffix in (('color', 'jpg'), ('depth', 'png'), ('label', 'png'), ('pose', 'txt')):
            assert sorted(p.name for p in (d/sub).iterdir()) == [f'{i}.{suffix}' for i in range(4)]
        assert (d/'intrinsic'/'intrinsic_depth.txt').is_file()
        assert (d/f'{name}_vh_clean_2.ply').is_file() and (d/f'{name}_vh_clean_2.labels.ply').is_file()
        assert json.loads((d/'.synth.json').read_text())['options']['n_frames'] == 4
    assert 'synth 2 scenes' in res.stderr          # the progress bar
    again = run('--out', str(tmp_path), '--scenes', '2', '--frames', '4', '--seed', '3', '--width', '80', '--height', '60', '--no_progress')
    assert again.returncode == 0 and 'synth 2 scenes' not in again.stderr, again.stderr     # --no_progress: no progress lines

def test_raw_layout_reads_back(tmp_path):
    res = run('--out', str(tmp_path), '--frames', '3', '--layout', 'raw', '--noise', '--shadows', '--no_progress')
    assert res.returncode == 0, res.stderr
    d = tmp_path/'scene0000_00'
    from thesis_recon.sens import SensFile
    s = SensFile(d/'scene0000_00.sens')
    assert len(s) == 3 and (s.header.color_width, s.header.depth_width) == (1296, 640)
    assert s.frame(2).depth.shape == (480, 640)
    assert sorted(p.name for p in (d/'label-filt').iterdir()) == ['0.png', '1.png', '2.png']
    assert (tmp_path/'scannetv2-labels.combined.tsv').is_file()

def test_bad_options_name_themselves(tmp_path):
    res = run('--out', str(tmp_path), '--frames', '0')
    assert res.returncode == 2 and 'n_frames' in res.stderr
    res = run('--out', str(tmp_path), '--scenes', '0')
    assert res.returncode == 2 and 'n_scenes' in res.stderr
    res = run('--out', str(tmp_path), '--layout', 'zip')
    assert res.returncode == 2 and '--layout' in res.stderr
    res = run('--out', str(tmp_path), '--width', '2')
    assert res.returncode == 2 and 'width' in res.stderr
    assert not any(tmp_path.iterdir())

def test_raw_scans_export_through_export_scannet(tmp_path):
    "synth --layout raw, then export-scannet with the written label TSV: the exported frames are the rendered ones."
    import numpy as np
    from thesis_recon.frames import ScanNetScene
    from thesis_recon.images import resize_nearest
    from thesis_recon.export import opencv_nearest
    from thesis_recon.synthetic import make_scene, scan_trajectory, render, default_intrinsics
    scans, out = tmp_path/'scans', tmp_path/'export'
    assert run('--out', str(scans), '--frames', '4', '--seed', '7', '--layout', 'raw', '--no_progress').returncode == 0
    res = subprocess.run([sys.executable, '-m', 'thesis_recon.cli', 'export-scannet', '--scannet_path', str(scans),
                          '--output_path', str(out), '--export_label_images', '--label_map_file',
                          str(scans/'scannetv2-labels.combined.tsv'), '--frame_skip', '3', '--n_proc', '0'],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    sc = ScanNetScene(out/'scene0007_00')
    assert sc.frame_ids == [0, 3]
    scene = make_scene(7); poses = scan_trajectory(scene, 4, seed=7)
    for i in sc.frame_ids:
        fr, ref = sc.frame(i), render(scene, poses[i], default_intrinsics(), 640, 480)
        assert np.allclose(fr.pose, poses[i], atol=1e-6)
        assert (fr.label == resize_nearest(resize_nearest(ref['label'], (1296, 968)), (320, 240))).all()
        assert np.abs(fr.depth - opencv_nearest(ref['depth'], (320, 240))).max() <= 0.0005 + 1e-6   # the SensReader's resize
