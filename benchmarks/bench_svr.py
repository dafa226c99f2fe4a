"""Single-view reconstruction throughput: target grids, loss shaping, compression, decoding, training steps.

    python benchmarks/bench_svr.py [--quick] [--device auto|cpu|cuda]
    python benchmarks/bench_svr.py --decode [--rounds 3]    # decoding only: the reference and the lattice decoder, interleaved
    KERAS_BACKEND=torch python benchmarks/bench_svr.py      # the same Keras code on the torch backend

Prints figures (no assertions). Full-size networks (the original's, ORIGINALS §4) with random weights; the target grid is a synthetic
room. On a machine without a GPU everything runs on the CPU; `--device cuda` is refused when the Keras backend sees
no GPU (TensorFlow's CPU build)."""
from bench_common import policy_line   # first: the package's thread policy before torch / NumPy load
import argparse, os, time
import numpy as np

def timed(fn, repeat=1):
    fn()                                          # warm-up: compilation, tracing
    t = time.perf_counter()
    for _ in range(repeat): fn()
    return (time.perf_counter() - t) / repeat

def decode_figures(rounds: int = 3, device: str = 'auto'):
    """Decoding a 256^3 scene at full size (a room: half the blocks empty, a quarter filled, a quarter with a surface):
    `decode_reference` (the Keras model per call, as before) and `decode_latent_grid` (the lattice decoder), interleaved
    A, B, A, B in one process; equal outputs checked; the matmul rate of the machine for scale."""
    import keras
    from keras import ops
    from thesis_recon.svr.config import SvrConfig
    from thesis_recon.svr.model import block_trunc, build_decoder
    from thesis_recon.svr.evaluate import decode_latent_grid, decode_reference
    from thesis_recon.svr.train import keras_device
    cfg, G, R = SvrConfig(), 16, 256
    rng = np.random.default_rng(0)
    with keras_device(device) as dev:
        keras.utils.set_random_seed(0)
        decoder = build_decoder(cfg.decoder, block_trunc(G))
        lat = rng.normal(0, 0.1, (G, G, G, cfg.decoder.latent_dim)).astype(np.float32)
        empty, filled = np.full(cfg.decoder.latent_dim, 5.0, np.float32), np.full(cfg.decoder.latent_dim, -5.0, np.float32)
        kinds = rng.random((G, G, G))
        lat[kinds < 0.5] = empty; lat[(kinds >= 0.5) & (kinds < 0.75)] = filled
        x = ops.convert_to_tensor(rng.normal(size=(16384, 512)).astype(np.float32)); w = ops.convert_to_tensor(rng.normal(size=(512, 128)).astype(np.float32))
        ops.convert_to_numpy(ops.matmul(x, w)); c0 = time.process_time()      # CPU time: a busy machine does not skew it
        for _ in range(10): ops.convert_to_numpy(ops.matmul(x, w))
        rate = 10 * 2 * 16384 * 512 * 128 / (time.process_time() - c0) / 1e9
        stats, times, cpu = {}, {'reference': [], 'lattice': []}, {'reference': [], 'lattice': []}
        decode_latent_grid(decoder, lat[:4, :4, :4], 64, empty, filled)        # warm-up
        for _ in range(rounds):
            for name, fn in (('reference', decode_reference), ('lattice', decode_latent_grid)):
                t0, c0 = time.perf_counter(), time.process_time()
                out = fn(decoder, lat, R, empty, filled, stats=stats)
                times[name].append(time.perf_counter() - t0); cpu[name].append(time.process_time() - c0)
                if name == 'reference': ref = out
                else: np.testing.assert_allclose(out[0], ref[0], atol=1e-5); assert (out[1] == ref[1]).mean() > 0.9999
    b = R // G
    points = stats['probed'] * (b // 2) ** 3 + stats['fine'] * b ** 3
    d = cfg.decoder                                      # multiplications per point of each path (x2: flops)
    after_first = sum(w * v for w, v in zip(d.hidden, [*d.hidden[1:], 1 + d.class_hidden])) + d.class_hidden * 10
    flops = {'reference': 2 * (2 * d.fourier_features * d.hidden[0] + after_first), 'lattice': 2 * after_first}
    best = {k: min(v) for k, v in times.items()}
    print(f'backend {keras.backend.backend()}, device {dev}, cores {len(os.sched_getaffinity(0))}, threads policy '
          f'OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "-")} OMP_WAIT_POLICY={os.environ.get("OMP_WAIT_POLICY", "-")}')
    print(f'decoding {R}^3: {stats}; {points / 1e6:.2f} M points evaluated ({points / R ** 3 * 100:.0f} % of the voxels); '
          f'matmul rate {rate:.0f} GFLOP/s of CPU time')
    for k, v in times.items():
        print(f'  {k:9s} best {best[k]:5.1f} s wall (runs {", ".join(f"{t:.1f}" for t in v)}), {min(cpu[k]):5.1f} s CPU; '
              f'{flops[k] / 1e3:.0f} kflop a point at {points * flops[k] / min(cpu[k]) / 1e9 / rate * 100:.0f} % of the matmul rate')
    print(f'  lattice / reference speed-up: {best["reference"] / best["lattice"]:.2f}x wall, '
          f'{min(cpu["reference"]) / min(cpu["lattice"]):.2f}x CPU (best of {rounds}; interleaved)')

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--quick', action='store_true', help='smaller grids and fewer steps')
    p.add_argument('--device', default='auto')
    p.add_argument('--decode', action='store_true', help='only the decoding figures: before (reference) and after, interleaved')
    p.add_argument('--rounds', type=int, default=3, help='--decode: rounds of (reference, lattice)')
    a = p.parse_args()
    print(policy_line())
    if a.decode: return decode_figures(a.rounds, a.device)
    import keras
    from thesis_recon.svr.data import make_view_sample, view_poses, shape_loss
    from thesis_recon.svr.config import SvrConfig
    from thesis_recon.svr.train import LatentOptimiser, build_auto_decoder, config_loss, keras_device, sample_blocks
    from thesis_recon.svr.evaluate import decode_latent_grid
    from thesis_recon.svr.model import block_trunc, build_decoder, build_normal_unet, build_scene_net, normal_loss, scene_loss
    from thesis_recon.synthetic_scene import make_scene
    print(f'backend {keras.backend.backend()}, cores {len(os.sched_getaffinity(0))}')
    scene = make_scene(1)
    pose = view_poses(scene, 1, seed=1)[0]
    R = 128 if a.quick else 256
    t0 = time.perf_counter(); sample = make_view_sample(scene, pose, 512, R); t_target = time.perf_counter() - t0
    print(f'view + target grid {R}^3 (render 512^2, kernel): {t_target:.1f} s')
    t0 = time.perf_counter(); shape_loss(sample['tsdf'], sample['classes'], 16); print(f'loss shaping {R}^3: {time.perf_counter() - t0:.1f} s')
    cfg = SvrConfig()
    with keras_device(a.device) as dev:
        print(f'device {dev}')
        G = 16
        trunc = block_trunc(G)
        decoder = build_decoder(cfg.decoder, trunc)
        rng = np.random.default_rng(0)
        blocks = sample_blocks(sample['tsdf'], sample['classes'], G, cfg.decoder.points_per_block, rng)
        n = min(len(blocks["points"]), 16 if a.quick else 256)
        steps = 5 if a.quick else 50
        opt = LatentOptimiser(decoder, cfg.decoder, trunc, chunk=n)
        init = np.zeros((n, cfg.decoder.latent_dim), np.float32)
        opt(blocks['points'][:n], blocks['y'][:n], init, 2)
        t0 = time.perf_counter(); opt(blocks['points'][:n], blocks['y'][:n], init, steps); dt = time.perf_counter() - t0
        print(f'compression: {n} blocks x {steps} steps in {dt:.1f} s = {n * steps / dt:.0f} block-steps/s '
              f'-> {n * steps / dt / cfg.decoder.compress_steps:.2f} blocks/s at {cfg.decoder.compress_steps} steps')
        lat = rng.normal(0, 0.1, (G, G, G, cfg.decoder.latent_dim)).astype(np.float32)
        empty, filled = np.full(cfg.decoder.latent_dim, 5.0, np.float32), np.full(cfg.decoder.latent_dim, -5.0, np.float32)
        kinds = rng.random((G, G, G))
        lat[kinds < 0.5] = empty; lat[(kinds >= 0.5) & (kinds < 0.75)] = filled       # a room: half empty, a quarter filled
        stats = {}
        t0 = time.perf_counter(); decode_latent_grid(decoder, lat, 256, empty, filled, stats=stats); t_dec = time.perf_counter() - t0
        print(f'decoding 256^3 (coarse to fine, {stats}): {t_dec:.1f} s/scene')
        auto = build_auto_decoder(decoder, len(blocks['points']), cfg.decoder.latent_dim, gradient_norm=cfg.decoder.gradient_weight > 0)
        decoder.trainable = True
        auto.compile(optimizer=keras.optimizers.Adam(cfg.decoder.lr), loss=config_loss(cfg.decoder, trunc))
        ids = np.arange(8, dtype=np.int32)
        k = 3 if a.quick else 20
        t = timed(lambda: [auto.train_on_batch([ids, blocks['points'][:8]], blocks['y'][:8]) for _ in range(k)]) / k
        print(f'decoder training (batch 8 x {cfg.decoder.points_per_block} points, with the gradient-norm term): {1 / t:.1f} steps/s')
        S = 256 if a.quick else 512
        unet = build_normal_unet(cfg.normals, S)
        unet.compile(optimizer=keras.optimizers.Adam(1e-4), loss=normal_loss)
        x = rng.normal(size=(1, S, S, 3)).astype(np.float32); y = x / np.linalg.norm(x, axis=-1, keepdims=True)
        t = timed(lambda: unet.train_on_batch(x, y), 2)
        print(f'normal U-Net training ({S}^2, batch 1): {1 / t:.2f} steps/s')
        if not a.quick:
            net = build_scene_net(cfg.scene, 16, 512, 512)
            net.compile(optimizer=keras.optimizers.Adam(1e-4), loss=scene_loss(512))
            x = rng.normal(size=(1, 512, 512, 6)).astype(np.float32); y = rng.normal(size=(1, 16, 16, 16, 513)).astype(np.float32)
            t = timed(lambda: net.train_on_batch(x, y), 1)
            print(f'scene network training (512^2, batch 1, full size): {1 / t:.2f} steps/s')

if __name__ == '__main__':
    main()
