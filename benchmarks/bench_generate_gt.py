"""`thesis-recon generate-gt` on synthetic scenes: seconds per scene and peak memory.

Makes 3 synthetic scenes of 300 frames (640x480, cached under --work), and copies of them cut to their first 100
frames, then runs generate-gt on each set in a fresh process and reports the wall time per scene and the
process's peak resident memory. Frames stream from disk, so the peak must not grow with the number of frames.

    python benchmarks/bench_generate_gt.py [--work /tmp/bench_generate_gt] [--scenes 3] [--frames 300]
"""
from bench_common import policy_line   # first: the package's thread policy before torch / NumPy load
import argparse, os, shutil, subprocess, sys, time
from pathlib import Path


def measure(args: list[str]) -> tuple[float, float, str]:
    "Run `thesis-recon generate-gt args` in a fresh wrapper process; (seconds, peak RSS in MiB of the command, stdout)."
    code = ('import resource, subprocess, sys, time\n'
            't = time.perf_counter()\n'
            f'r = subprocess.run([sys.executable, "-m", "thesis_recon.cli", "generate-gt", *{args!r}], capture_output=True, text=True)\n'
            'dt = time.perf_counter() - t\n'
            'print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, r.returncode)\n'
            'print(r.stdout[-2000:]); print(r.stderr[-2000:], file=sys.stderr)\n')
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    first, _, rest = res.stdout.partition('\n')
    dt, mib, rc = first.split()
    if rc != '0': raise SystemExit(f'generate-gt failed ({rc}):\n{rest}\n{res.stderr}')
    return float(dt), float(mib), rest


def cut(src: Path, dst: Path, n: int):
    "A copy of the exported scene `src` holding its first `n` frames (hard links, no data copied)."
    shutil.rmtree(dst, ignore_errors=True)
    ids = sorted(int(p.stem) for p in (src/'pose').glob('*.txt'))[:n]
    shutil.copytree(src/'intrinsic', dst/'intrinsic')
    for sub, ext in (('pose', 'txt'), ('depth', 'png')):
        (dst/sub).mkdir(parents=True)
        for i in ids: os.link(src/sub/f'{i}.{ext}', dst/sub/f'{i}.{ext}')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--work', default='/tmp/bench_generate_gt')
    ap.add_argument('--scenes', type=int, default=3)
    ap.add_argument('--frames', type=int, default=300)
    ap.add_argument('--short', type=int, default=100, help='frames of the cut copies (memory must not depend on it)')
    a = ap.parse_args()
    print(policy_line())
    from thesis_recon.synthetic import make_synthetic_scans
    work = Path(a.work)
    t0 = time.perf_counter()
    dirs = make_synthetic_scans(work/'full'/'scans', n_scenes=a.scenes, n_frames=a.frames, progress=False)
    print(f'{a.scenes} synthetic scenes of {a.frames} frames (640x480) ready in {time.perf_counter() - t0:.0f} s')
    for d in dirs: cut(d, work/'short'/'scans'/d.name, a.short)
    splits = work/'splits'; splits.mkdir(exist_ok=True)
    (splits/'scannetv2_train.txt').write_text('\n'.join(d.name for d in dirs) + '\n')
    (splits/'scannetv2_val.txt').write_text('')
    print(f'{"run":<34} {"s/scene":>8} {"peak MiB":>9}')
    for name, frames in (('short', a.short), ('full', a.frames)):
        for n_proc in (0, 2):
            shutil.rmtree(work/name/'all_tsdf_9', ignore_errors=True)
            dt, mib, _ = measure(['--data_path', str(work/name), '--split_dir', str(splits), '--n_proc', str(n_proc)])
            label = f'{frames} frames, ' + ('in process' if n_proc == 0 else f'{n_proc} workers')
            print(f'{label:<34} {dt / a.scenes:8.1f} {mib:9.0f}' + ('  (largest single process)' if n_proc else ''))
    import pickle
    frags = pickle.loads((work/'full'/'all_tsdf_9'/'fragments_train.pkl').read_bytes())
    print(f'{len(frags)} fragments over {a.scenes} scenes')


if __name__ == '__main__':
    main()
