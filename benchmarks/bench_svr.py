"""Single-view reconstruction throughput: target grids, loss shaping, compression, decoding, training steps.

    python benchmarks/bench_svr.py [--quick] [--device auto|cpu|cuda]
    KERAS_BACKEND=torch python benchmarks/bench_svr.py      # the same Keras code on the torch backend

Prints figures (no assertions). Full-size networks (the original's, ORIGINALS §4) with random weights; the target grid is a synthetic
room. On a machine without a GPU everything runs on the CPU; `--device cuda` is refused when the Keras backend sees
no GPU (TensorFlow's CPU build)."""
import argparse, os, time
import numpy as np

def timed(fn, repeat=1):
    fn()                                          # warm-up: compilation, tracing
    t = time.perf_counter()
    for _ in range(repeat): fn()
    return (time.perf_counter() - t) / repeat

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--quick', action='store_true', help='smaller grids and fewer steps')
    p.add_argument('--device', default='auto')
    a = p.parse_args()
    import keras
    from keras import ops
    from thesis_recon.svr.data import make_view_sample, view_poses, TRUNC
    from thesis_recon.svr.shaping import shape_loss
    from thesis_recon.svr.config import SvrConfig
    from thesis_recon.svr.keras_fit import keras_device
    from thesis_recon.svr.decoder import (LatentOptimiser, block_trunc, build_decoder, decode_latent_grid, sample_blocks,
                                          build_auto_decoder, config_loss)
    from thesis_recon.svr.nets import build_normal_unet, build_scene_net, normal_loss, scene_loss
    from thesis_recon.synthetic_scene import make_scene
    print(f'backend {keras.backend.backend()}, cores {len(os.sched_getaffinity(0))}')
    scene = make_scene(1)
    pose = view_poses(scene, 1, seed=1)[0]
    R = 128 if a.quick else 256
    t0 = time.perf_counter(); sample = make_view_sample(scene, pose, 512, R); t_target = time.perf_counter() - t0
    print(f'view + target grid {R}^3 (render 512^2, kernel): {t_target:.1f} s')
    t0 = time.perf_counter(); shaped = shape_loss(sample['tsdf'], sample['classes'], 16); print(f'loss shaping {R}^3: {time.perf_counter() - t0:.1f} s')
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
