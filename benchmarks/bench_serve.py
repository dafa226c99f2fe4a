"""Load benchmark of the reconstruction servers on loopback: requests/s and p50/p99 latency of the decoder and the
all-in-one server at concurrency 1, 8 and 32, and a check that the queue bound held (every request answered with a
result or a 503; nothing lost, nothing else).

    python benchmarks/bench_serve.py                       # tiny untrained networks (--random-weights)
    python benchmarks/bench_serve.py --weights DIR --requests 128 --queue 16 --workers 2

Each level sends at most --requests requests and stops launching new ones after --max-seconds. Clients do not retry
a 503 here: a refusal is counted, so the figures show what the queue bound does under overload.
"""
from bench_common import policy_line   # first: the package's thread policy before torch / NumPy load
import argparse, asyncio, io, select, subprocess, sys, time
from pathlib import Path
import numpy as np
import httpx

ROOT = Path(__file__).resolve().parents[1]


def start_server(service, args, startup=180):
    cmd = [sys.executable, '-m', 'thesis_recon.cli', 'serve', service, '--host', '127.0.0.1', '--port', '0',
           '--log-level', 'warning', *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + startup
    while time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.5)[0]:
            line = proc.stdout.readline()
            if 'listening on ' in line: return proc, line.split('listening on ')[1].split()[0]
            if not line: break
    proc.kill()
    sys.exit(f'{service} server did not start:\n{proc.stderr.read()[-3000:]}')


def stop_server(proc):
    proc.terminate()
    try: return proc.wait(60)
    except subprocess.TimeoutExpired: proc.kill(); return proc.wait()


async def level(url, body, keys, concurrency, n_requests, max_seconds, timeout):
    "Send up to n_requests with `concurrency` in flight; per request (status, seconds)."
    results, next_i = [], 0
    t_end = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(trust_env=False, timeout=timeout, limits=limits) as client:
        async def worker():
            nonlocal next_i
            while next_i < n_requests and time.monotonic() < t_end:
                next_i += 1
                t0 = time.monotonic()
                try:
                    r = await client.post(url, content=body, headers={'content-type': 'application/x-npz'})
                    status = r.status_code
                    if status == 200:
                        got = np.load(io.BytesIO(r.content), allow_pickle=False)
                        if sorted(got.files) != sorted(keys): status = 'bad answer'
                except httpx.HTTPError as e:
                    status = type(e).__name__
                results.append((status, time.monotonic() - t0))
        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results, time.monotonic() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--weights', default=None, help='trained networks (default: --random-weights, the tiny configuration)')
    p.add_argument('--levels', default='1,8,32', help='concurrency levels (default: 1,8,32)')
    p.add_argument('--requests', type=int, default=64, help='requests per level at most (default: 64)')
    p.add_argument('--max-seconds', type=float, default=30, help='stop launching requests after this long per level (default: 30)')
    p.add_argument('--workers', type=int, default=1, help='server inference threads (default: 1)')
    p.add_argument('--queue', type=int, default=8, help='server queue places (default: 8)')
    p.add_argument('--image-size', type=int, default=128, help='side of the test image (default: 128)')
    p.add_argument('--device', default='cpu', help='server --device (default: cpu)')
    a = p.parse_args()
    print(policy_line())
    weights = ['--weights', a.weights] if a.weights else ['--random-weights']
    common = [*weights, '--workers', str(a.workers), '--queue', str(a.queue), '--device', a.device, '--timeout', '120']
    levels = [int(c) for c in a.levels.split(',')]
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:a.image_size, :a.image_size] / a.image_size
    colors = np.clip(np.stack([xx, yy, 1 - xx * yy], -1) * 255 + rng.normal(0, 8, (a.image_size, a.image_size, 3)), 0, 255).astype(np.uint8)

    def npz(**arrays):
        buf = io.BytesIO(); np.savez(buf, **arrays); return buf.getvalue()

    print(f'# bench_serve: loopback, {"random weights (tiny)" if not a.weights else a.weights}, '
          f'workers {a.workers}, queue {a.queue}, image {a.image_size}^2, <= {a.requests} requests or {a.max_seconds:g} s per level')
    all_proc, all_url = start_server('all', common)
    dec_proc, dec_url = start_server('decoder', common)
    ok = True
    try:
        r = httpx.post(all_url + '/scene', content=npz(colors=colors), timeout=300, trust_env=False)
        r.raise_for_status()
        latents = np.load(io.BytesIO(r.content), allow_pickle=False)['combined_latent_block']
        health = httpx.get(all_url + '/health', trust_env=False).json()
        print(f'# latent grid {latents.shape}, device {health["device"]}, version {health["version"]}')
        cases = [('decoder', dec_url + '/decode', npz(combined_latent_block=latents), ('tsdf', 'classes')),
                 ('all', all_url + '/reconstruct', npz(colors=colors), ('normals', 'combined_latent_block', 'tsdf', 'classes'))]
        print(f'{"server":8s} {"conc":>4s} {"sent":>5s} {"200":>5s} {"503":>5s} {"other":>5s} {"req/s":>7s} {"ok/s":>7s} '
              f'{"p50 ms":>8s} {"p99 ms":>8s} {"p50 ok":>8s}')
        for name, url, body, keys in cases:
            asyncio.run(level(url, body, keys, 1, 2, 60, 300))          # warm up (graph tracing, caches)
            for c in levels:
                res, secs = asyncio.run(level(url, body, keys, c, a.requests, a.max_seconds, 300))
                status = [s for s, _ in res]
                lat = np.array([t for _, t in res]) * 1000
                lat_ok = np.array([t for s, t in res if s == 200]) * 1000
                n200, n503 = status.count(200), status.count(503)
                other = len(res) - n200 - n503
                ok &= other == 0
                pct = lambda x, q: f'{np.percentile(x, q):8.1f}' if len(x) else f'{"-":>8s}'
                print(f'{name:8s} {c:4d} {len(res):5d} {n200:5d} {n503:5d} {other:5d} {len(res) / secs:7.2f} '
                      f'{n200 / secs:7.2f} {pct(lat, 50)} {pct(lat, 99)} {pct(lat_ok, 50)}', flush=True)
                if other: print(f'#   unexpected answers: {sorted(set(s for s in status if s not in (200, 503)), key=str)}')
    finally:
        codes = stop_server(all_proc), stop_server(dec_proc)
    print(f'# servers stopped with SIGTERM, exit codes {codes}')
    print('# queue bound held: every request answered with a result or a 503' if ok else '# FAILED: some requests got another answer')
    return 0 if ok and codes == (0, 0) else 1


if __name__ == '__main__':
    sys.exit(main())
