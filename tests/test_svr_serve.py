"""Reconstruction servers and clients as a deployment runs them: servers in subprocesses on free loopback ports.

The generic behaviour (queue, deadline, shutdown, disconnects, 32 concurrent clients, the client's retries) runs on a
server of `thesis_recon.svr.serve` whose networks are small deterministic NumPy functions (this file, run as
`python tests/test_svr_serve.py toy-server ...`), so every answer can be checked against a direct call; the tests at
the end run `thesis-recon serve` on the real single-view networks and compare with `predict-svr`."""
import io, json, select, signal, socket, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import numpy as np
import pytest

HOST = '127.0.0.1'       # loopback only, always
ROOT = Path(__file__).resolve().parents[1]


# ---- the toy networks (deterministic; the expected answers are direct calls of these) ----
def toy_normals(colors, delay=0.0):
    if delay: time.sleep(delay)
    grey = colors.astype(np.float32).mean(-1) / 255
    gy, gx = np.gradient(grey)
    n = np.stack([-gx, -gy, np.ones_like(grey)], -1)
    return (n / np.linalg.norm(n, axis=-1, keepdims=True)).astype(np.float32)

_W = np.random.default_rng(0).normal(size=(4, 6, 8)).astype(np.float32)

def toy_latents(colors, normals):
    h, w = colors.shape[:2]
    feats = np.concatenate([colors.astype(np.float32) / 255, normals], -1)
    pooled = feats[: h // 4 * 4, : w // 4 * 4].reshape(4, h // 4, 4, w // 4, 6).mean((1, 3))
    return np.tanh(np.einsum('yxc,zck->xyzk', pooled, _W)).astype(np.float32)

def toy_decode(latents, resolution=None):
    r = resolution or 4 * latents.shape[0]
    up = latents.repeat(r // latents.shape[0], 0).repeat(r // latents.shape[1], 1).repeat(r // latents.shape[2], 2)
    return (0.1 * up[..., 0]).astype(np.float32), up.argmax(-1).astype(np.uint8)


def _toy_server(argv):
    "Entry point of the subprocess: a real server (make_app + run_server, as `serve` runs them) on the toy networks."
    import argparse
    from thesis_recon.svr.serve import SVRService, make_app, bind_socket, base_url, run_server
    p = argparse.ArgumentParser()
    p.add_argument('service'); p.add_argument('--delay', type=float, default=0); p.add_argument('--workers', type=int, default=1)
    p.add_argument('--queue', type=int, default=8); p.add_argument('--timeout', type=float, default=30)
    p.add_argument('--max-request-mb', type=float, default=4)
    a = p.parse_args(argv)
    svc = SVRService(normals=lambda c: toy_normals(c, a.delay), latents=toy_latents, decode=toy_decode,
                     latent_shape=(4, 4, 4, 8), weights='toy')
    app = make_app(a.service, svc, workers=a.workers, queue=a.queue, timeout=a.timeout, max_request_mb=a.max_request_mb)
    sock = bind_socket(HOST, 0)
    print(f'listening on {base_url(sock)}', flush=True)
    run_server(app, sock, log_level='warning', timeout=a.timeout)
    print('stopped', flush=True)


# ---- helpers ----
def start(cmd, tmp_path, startup=60):
    "Start a server subprocess; wait (bounded) for its 'listening on URL' line. Returns (proc, url)."
    err = open(tmp_path/f'server-{time.monotonic_ns()}.log', 'w')
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
    proc.err_path = err.name
    deadline = time.monotonic() + startup
    while time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.2)[0]:
            line = proc.stdout.readline()
            if 'listening on ' in line: return proc, line.split('listening on ')[1].split()[0]
            if not line: break                     # it exited
    proc.kill(); proc.wait(10)
    raise AssertionError(f'server did not start: {" ".join(map(str, cmd))}\n{Path(err.name).read_text()[-3000:]}')

def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait(10)
    return proc.returncode

def toy_server(tmp_path, service='all', **opts):
    args = [f'--{k.replace("_", "-")}={v}' for k, v in opts.items()]
    return start([sys.executable, __file__, 'toy-server', service, *args], tmp_path, startup=30)

def cli(*args, timeout=120):
    return subprocess.run([sys.executable, '-m', 'thesis_recon.cli', *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)

def post(url, body, timeout=60, **kw):
    import httpx
    return httpx.post(url, content=body, timeout=timeout, trust_env=False, **kw)

def npz(r):
    return dict(np.load(io.BytesIO(r.content), allow_pickle=False))

def png_bytes(img):
    from PIL import Image
    buf = io.BytesIO(); Image.fromarray(img).save(buf, 'PNG'); return buf.getvalue()

def npz_bytes(**arrays):
    buf = io.BytesIO(); np.savez(buf, **arrays); return buf.getvalue()

def image(seed, size=32):
    return (np.random.default_rng(seed).random((size, size, 3)) * 255).astype(np.uint8)


# ---- the generic server behaviour (toy networks) ----
def test_32_concurrent_clients_all_answered_correctly(tmp_path):
    proc, url = toy_server(tmp_path, workers=2, queue=32)
    try:
        imgs = [image(i) for i in range(32)]
        with ThreadPoolExecutor(32) as pool:
            rs = list(pool.map(lambda im: post(url + '/reconstruct', png_bytes(im)), imgs))
        assert [r.status_code for r in rs] == [200] * 32
        for im, r in zip(imgs, rs):                # each client got the answer to its own image
            got, n = npz(r), toy_normals(im)
            lat = toy_latents(im, n)
            tsdf, classes = toy_decode(lat)
            np.testing.assert_array_equal(got['combined_latent_block'], lat)
            np.testing.assert_array_equal(got['tsdf'], tsdf)
            np.testing.assert_array_equal(got['classes'], classes)
    finally:
        assert stop(proc) == 0


def test_queue_full_every_request_answered(tmp_path):
    "One worker, one waiting place, a 3 s network, 8 concurrent requests: 2 served, 6 refused 503 + Retry-After."
    proc, url = toy_server(tmp_path, service='normals', workers=1, queue=1, delay=3)
    try:
        im = image(0)
        with ThreadPoolExecutor(8) as pool:
            rs = list(pool.map(lambda _: post(url + '/normals', png_bytes(im)), range(8)))
        codes = sorted(r.status_code for r in rs)
        assert codes == [200, 200] + [503] * 6, codes
        for r in rs:
            if r.status_code == 503:
                assert int(r.headers['retry-after']) >= 1 and r.json()['status'] == 503
            else:
                np.testing.assert_array_equal(npz(r)['normals'], toy_normals(im))
        health = json.loads(__import__('httpx').get(url + '/health', trust_env=False).text)
        assert health['jobs_pending'] == 0 and health['jobs_served'] == 2
    finally:
        assert stop(proc) == 0


def test_sigterm_finishes_in_flight_then_exits_0(tmp_path):
    proc, url = toy_server(tmp_path, service='normals', delay=3)
    im, result = image(3), {}
    t = threading.Thread(target=lambda: result.setdefault('r', post(url + '/normals', png_bytes(im))))
    t.start()
    import httpx
    for _ in range(200):                           # until the job is running (bounded)
        if httpx.get(url + '/health', trust_env=False).json()['jobs_pending'] == 1: break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    t.join(30)
    assert proc.wait(30) == 0
    r = result['r']
    assert r.status_code == 200
    np.testing.assert_array_equal(npz(r)['normals'], toy_normals(im))
    assert 'stopped' in proc.stdout.read()
    with pytest.raises(httpx.ConnectError): httpx.get(url + '/health', trust_env=False)


def test_disconnect_and_stall_mid_upload_do_not_hurt_others(tmp_path):
    proc, url = toy_server(tmp_path, service='normals', timeout=8)
    host, port = url[len('http://'):].split(':')
    body, im = png_bytes(image(5)), image(5)
    try:
        head = f'POST /normals HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body) + 10000}\r\n\r\n'.encode()
        for _ in range(5):                         # clients that send half a body and hang up
            with socket.create_connection((host, int(port))) as s:
                s.sendall(head + body[: len(body) // 2])
        stalled = socket.create_connection((host, int(port)))   # and one that stalls
        stalled.sendall(head + body[:100])
        r = post(url + '/normals', body)           # others are served meanwhile,
        assert r.status_code == 200
        np.testing.assert_array_equal(npz(r)['normals'], toy_normals(im))
        assert not select.select([stalled], [], [], 0)[0]          # not after the staller: it has no answer yet
        stalled.settimeout(30)
        assert stalled.recv(4096).startswith(b'HTTP/1.1 408')   # the staller gets its 408 after --timeout
        stalled.close()
        assert post(url + '/normals', body).status_code == 200
    finally:
        assert stop(proc) == 0
    assert 'Traceback' not in Path(proc.err_path).read_text()


def test_oversize_refused_while_streaming(tmp_path):
    "A chunked upload with no Content-Length is cut at the limit; the server stays up."
    import httpx
    proc, url = toy_server(tmp_path, service='normals', max_request_mb=1)
    sent = [0]
    def chunks():
        for _ in range(256):                       # 32 MB offered
            sent[0] += 2**17; yield bytes(2**17)
    try:
        try: status = httpx.post(url + '/normals', content=chunks(), timeout=30, trust_env=False).status_code
        except httpx.HTTPError: status = 'closed'  # the server may close the socket under a still-sending client
        assert status in (413, 'closed') and sent[0] < 16 * 2**20, (status, sent[0])
        assert post(url + '/normals', png_bytes(image(1))).status_code == 200
    finally:
        assert stop(proc) == 0


# ---- the client command against a server ----
def test_client_writes_the_original_keys(tmp_path):
    import h5py
    from thesis_recon.svr.data import quantise_tsdf
    proc, url = toy_server(tmp_path)
    im = image(7)
    (tmp_path/'in.png').write_bytes(png_bytes(im))
    n = toy_normals(im); lat = toy_latents(im, n); tsdf, classes = toy_decode(lat)
    try:
        res = cli('client', 'all', tmp_path/'in.png', tmp_path/'all.hdf5', '--url', url)
        assert res.returncode == 0, res.stderr
        with h5py.File(tmp_path/'all.hdf5') as f:
            assert sorted(f) == ['classes', 'combined_latent_block', 'voxelblock']
            assert f['combined_latent_block'].compression == 'gzip'
            np.testing.assert_array_equal(f['combined_latent_block'][()], lat)
            assert f['voxelblock'].dtype == np.uint16 and f['classes'].dtype == np.uint8
            np.testing.assert_array_equal(f['voxelblock'][()], quantise_tsdf(tsdf))
            np.testing.assert_array_equal(f['classes'][()], classes)
        # scene from an hdf5 with colors (float in [0, 1]) and normals, then decoder from what it wrote
        flat = np.zeros_like(n); flat[..., 2] = 1
        with h5py.File(tmp_path/'in.hdf5', 'w') as f:
            f['colors'] = im.astype(np.float32) / 255; f['normals'] = flat
        res = cli('client', 'scene', tmp_path/'in.hdf5', tmp_path/'scene.hdf5', '--url', url)
        assert res.returncode == 0, res.stderr
        with h5py.File(tmp_path/'scene.hdf5') as f:
            assert sorted(f) == ['combined_latent_block']
            np.testing.assert_array_equal(f['combined_latent_block'][()], toy_latents(im, flat))
        res = cli('client', 'decoder', tmp_path/'scene.hdf5', tmp_path/'dec.hdf5', '--url', url, '--resolution', 8)
        assert res.returncode == 0, res.stderr
        with h5py.File(tmp_path/'dec.hdf5') as f:
            assert sorted(f) == ['classes', 'voxelblock'] and f['classes'].shape == (8, 8, 8)
            np.testing.assert_array_equal(f['classes'][()], toy_decode(toy_latents(im, flat), 8)[1])
        # the server answers an error: one clear line, exit 2
        (tmp_path/'bad.png').write_bytes(b'not an image')
        res = cli('client', 'all', tmp_path/'bad.png', tmp_path/'x.hdf5', '--url', url)
        assert res.returncode == 2 and 'answered 400' in res.stderr and 'Traceback' not in res.stderr
        assert not (tmp_path/'x.hdf5').exists()
    finally:
        assert stop(proc) == 0
    # the server is down
    res = cli('client', 'all', tmp_path/'in.png', tmp_path/'x.hdf5', '--url', url)
    assert res.returncode == 2 and 'cannot reach the server' in res.stderr, res.stderr


def test_client_retries_a_busy_server(tmp_path, capsys):
    "No waiting place and a 3 s network: while one request runs the client is refused (503), waits, and gets its answer."
    import h5py, httpx
    from thesis_recon.cli import main
    proc, url = toy_server(tmp_path, workers=1, queue=0, delay=3)
    im = image(9)
    (tmp_path/'in.png').write_bytes(png_bytes(im))
    try:
        with ThreadPoolExecutor(1) as pool:
            hog = pool.submit(post, url + '/normals', png_bytes(image(10)))
            for _ in range(200):                   # until the hog runs (bounded)
                if httpx.get(url + '/health', trust_env=False).json()['jobs_pending'] == 1: break
                time.sleep(0.05)
            # the client command in this process, so that it asks at once (a new interpreter may take seconds to start)
            assert main(['client', 'scene', str(tmp_path/'in.png'), str(tmp_path/'out.hdf5'), '--url', url, '--retries', '10']) == 0
            assert hog.result().status_code == 200
        assert 'busy (503); asking again in' in capsys.readouterr().err
        with h5py.File(tmp_path/'out.hdf5') as f:
            np.testing.assert_array_equal(f['combined_latent_block'][()], toy_latents(im, toy_normals(im)))
    finally:
        assert stop(proc) == 0


def test_serve_start_errors(tmp_path, capsys):
    "Bad options and an unusable port: one line on stderr, exit 2, before any network loads (the command, in-process)."
    from thesis_recon.cli import main
    for args, msg in [(['decoder', '--weights', tmp_path/'nowhere'], 'nowhere: no such folder'),
                      (['all'], '--random-weights'),
                      (['all', '--random-weights', '--workers', '0'], '--workers'),
                      (['all', '--random-weights', '--queue', '-1'], '--queue'),
                      (['all', '--random-weights', '--port', '70000'], '--port')]:
        assert main(['serve', *map(str, args)]) == 2
        err = capsys.readouterr().err
        assert msg in err and 'Traceback' not in err, (args, err)
    with socket.socket() as s:                     # a port in use
        s.bind((HOST, 0)); s.listen()
        assert main(['serve', 'decoder', '--random-weights', '--port', str(s.getsockname()[1])]) == 2
        assert 'cannot listen' in capsys.readouterr().err


# ---- the real single-view networks (tiny configuration) ----
def write_weights_folder(out, models):
    "A weights folder as the training commands lay it out, holding `models` (here: untrained, tiny)."
    from thesis_recon.svr.config import write_weights_config
    from thesis_recon.svr.train import LatentDatabase, save_keras_weights
    write_weights_config(out, models.config)
    for name, net in (('normals', models.normals_net), ('scene', models.scene_net), ('decoder', models.decoder)):
        save_keras_weights(net, Path(out)/f'{name}.weights.h5')
    LatentDatabase(np.zeros((0, 64), np.float32), np.zeros((0, models.latent_dim), np.float32),
                   models.empty_latent, models.filled_latent).save(Path(out)/'svr_latents.npz')
    return Path(out)


@pytest.fixture(scope='module')
def svr(tmp_path_factory):
    "A weights folder of the tiny networks, a view (4:3, as a camera gives it) and predict-svr's answer for it."
    import h5py
    from thesis_recon.cli import main
    from thesis_recon.svr.evaluate import load_svr_models
    d = tmp_path_factory.mktemp('svr')
    weights = write_weights_folder(d/'weights', load_svr_models(random_weights=True))
    yy, xx = np.mgrid[:48, :64] / 64
    view = np.clip(np.stack([xx, yy, 1 - xx * yy], -1) * 255 + np.random.default_rng(0).normal(0, 10, (48, 64, 3)), 0, 255).astype(np.uint8)
    (d/'view.png').write_bytes(png_bytes(view))
    assert main(['predict-svr', str(d/'view.png'), '--out', str(d/'ref.hdf5'), '--weights', str(weights),
                 '--mesh', str(d/'ref.ply'), '--device', 'cpu']) == 0        # the command, in this process
    with h5py.File(d/'ref.hdf5') as f: ref = {k: f[k][()] for k in f}
    return d, weights, ref


def real_server(service, svr, tmp_path, *args):
    return start([sys.executable, '-m', 'thesis_recon.cli', 'serve', service, '--port', '0', '--weights', svr[1],
                  '--device', 'cpu', '--log-level', 'warning', *map(str, args)], tmp_path, startup=180)


def assert_same_hdf5(path, ref, keys):
    import h5py
    with h5py.File(path) as f:
        assert sorted(f) == sorted(keys)
        for k in keys: np.testing.assert_array_equal(f[k][()], ref[k], err_msg=k)


def test_all_in_one_round_trip_equals_predict_svr(svr, tmp_path):
    from thesis_recon.cli import main
    d, weights, ref = svr
    proc, url = real_server('all', svr, tmp_path)
    try:
        import httpx
        health = httpx.get(url + '/health', trust_env=False).json()
        assert (health['service'], health['model_loaded'], health['device']) == ('all', True, 'cpu:0')
        assert str(weights) in health['weights'] and health['latent_shape'] == list(ref['combined_latent_block'].shape)
        # the client command, in this process (TensorFlow is loaded here already, for the mesh)
        assert main(['client', 'all', str(d/'view.png'), str(tmp_path/'out.hdf5'), '--url', url, '--mesh', str(tmp_path/'out.ply')]) == 0
        assert_same_hdf5(tmp_path/'out.hdf5', ref, ['combined_latent_block', 'voxelblock', 'classes'])
        assert (tmp_path/'out.ply').read_bytes() == (d/'ref.ply').read_bytes()
        r = post(url + '/decode', b'\x80\x04junk')                 # the real server refuses a pickle too
        assert r.status_code == 400 and 'pickle' in r.json()['error']
    finally:
        assert stop(proc) == 0


def test_scene_normals_decoder_servers_equal_predict_svr(svr, tmp_path):
    "The original's deployment: scene (asking the normal server over HTTP), normals, decoder; one client after the other."
    d, weights, ref = svr
    normals, normals_url = real_server('normals', svr, tmp_path)
    scene, scene_url = real_server('scene', svr, tmp_path, '--normals-url', normals_url)
    decoder, decoder_url = real_server('decoder', svr, tmp_path, '--url-file', tmp_path/'decoder.url')
    try:
        assert (tmp_path/'decoder.url').read_text() == decoder_url + '\n'      # what a script hands to `client --url`
        res = cli('client', 'scene', d/'view.png', tmp_path/'scene.hdf5', '--url', scene_url)
        assert res.returncode == 0, res.stderr
        assert_same_hdf5(tmp_path/'scene.hdf5', ref, ['combined_latent_block'])
        res = cli('client', 'decoder', tmp_path/'scene.hdf5', tmp_path/'decoded.hdf5', '--url', decoder_url)
        assert res.returncode == 0, res.stderr
        assert_same_hdf5(tmp_path/'decoded.hdf5', ref, ['voxelblock', 'classes'])
        # the empty latent everywhere decodes to free space only: --mesh writes nothing, says why in one line, exit 0
        (tmp_path/'empty.npz').write_bytes(npz_bytes(combined_latent_block=np.zeros_like(ref['combined_latent_block'])))
        res = cli('client', 'decoder', tmp_path/'empty.npz', tmp_path/'empty.hdf5', '--url', decoder_url, '--mesh', tmp_path/'empty.ply')
        assert res.returncode == 0, res.stderr
        assert (tmp_path/'empty.hdf5').is_file() and not (tmp_path/'empty.ply').exists()
        note = [l for l in res.stderr.splitlines() if '--mesh' in l]
        assert len(note) == 1 and f'voxelblock of {tmp_path/"empty.hdf5"} holds no surface (every voxel free' in note[0], res.stderr
        assert 'no mesh' in res.stdout
        r = post(decoder_url + '/decode', npz_bytes(combined_latent_block=np.zeros((2, 2, 2, 3), np.float32)))
        assert r.status_code == 422 and 'combined_latent_block' in r.json()['error']
        assert stop(normals) == 0
        # the normal server is gone: colour alone cannot be answered (502, naming it); the client says so
        res = cli('client', 'scene', d/'view.png', tmp_path/'x.hdf5', '--url', scene_url)
        assert res.returncode == 2 and '502' in res.stderr and normals_url in res.stderr, res.stderr
    finally:
        codes = [stop(p) for p in (scene, normals, decoder)]
    assert codes == [0, 0, 0]
    assert not (tmp_path/'decoder.url').exists()                  # a stopped server leaves no URL behind


def test_mismatched_weights_refused_at_start(svr, tmp_path, capsys):
    "A weights folder whose config does not fit its networks: `serve` says so and exits 2 before it listens."
    import json, shutil
    from thesis_recon.cli import main
    bad = tmp_path/'bad'
    shutil.copytree(svr[1], bad)
    cfg = json.loads((bad/'svr_config.json').read_text())
    cfg['decoder']['latent_dim'] *= 2
    (bad/'svr_config.json').write_text(json.dumps(cfg))
    with socket.socket() as s:
        s.bind((HOST, 0)); port = s.getsockname()[1]
    assert main(['serve', 'decoder', '--weights', str(bad), '--port', str(port)]) == 2
    err = capsys.readouterr().err
    assert 'does not fit' in err and str(bad) in err, err
    (bad/'scene.weights.h5').unlink()
    assert main(['serve', 'scene', '--weights', str(bad), '--port', str(port)]) == 2
    assert 'scene.weights.h5: not found' in capsys.readouterr().err


# ---- the original's released decoder, imported (a checkpoint of random values under the original's keys) ----
MANIFESTS = ROOT/'tests'/'originals'

def original_generator(values, xyz, latents, tau=0.8):
    "The original Generator's forward pass (Fourier, [512, 128] ReLU, clipped TSDF, softmax classes) from its checkpoint arrays."
    B = np.random.RandomState(0).normal(scale=0.5, size=(64, 3)).T
    proj = (2 * np.pi * xyz.astype(np.float64)) @ B
    dense = lambda x, g, i: x @ values[f'{g}/{i}/kernel'] + values[f'{g}/{i}/bias']
    h = np.concatenate([np.sin(proj), np.cos(proj), latents], -1)
    h = np.maximum(dense(h, '_layers', 0), 0); h = np.maximum(dense(h, '_layers', 1), 0)
    tsdf = np.clip(dense(h, '_layers', 2), -tau, tau)[:, 0]
    logits = dense(np.maximum(dense(h, '_class_layers', 0), 0), '_class_layers', 1)
    return tsdf, logits.argmax(-1)

@pytest.fixture(scope='module')
def imported(tmp_path_factory):
    "A TF checkpoint with the original decoder's keys (random values), its latent file, imported with import-weights."
    import h5py
    from thesis_recon.cli import main
    from thesis_recon.svr.convert import manifest_tf_checkpoint
    d = tmp_path_factory.mktemp('imported')
    values = manifest_tf_checkpoint(MANIFESTS/'svr_implicit_decoder.json', d/'ckpt'/'cp-0000.ckpt', seed=3, scale=0.08)
    rng = np.random.default_rng(0)
    empty, filled = rng.normal(size=512).astype(np.float32), rng.normal(size=512).astype(np.float32)
    with h5py.File(d/'ckpt'/'empty_and_filled_latent_value.hdf5', 'w') as f:
        f['empty_latent_vec'], f['filled_latent_vec'] = empty, filled
    assert main(['import-weights', 'svr-decoder', str(d/'ckpt'/'cp-0000.ckpt.index'), str(d/'weights')]) == 0
    return d, values, empty, filled

def test_served_imported_decoder_answers_like_the_original(imported, tmp_path):
    "serve decoder --weights IMPORTED: the empty blocks at +tau, the others as the original's server decodes them."
    d, values, empty, filled = imported
    lat = np.broadcast_to(empty, (16, 16, 16, 512)).copy()
    rng = np.random.default_rng(1)
    blocks = [(3, 4, 5), (10, 2, 7), (15, 15, 0), (0, 9, 12)]
    for b in blocks: lat[b] = rng.normal(0, 1, 512)
    lat[8, 8, 8] = filled
    proc, url = start([sys.executable, '-m', 'thesis_recon.cli', 'serve', 'decoder', '--port', '0', '--weights', d/'weights',
                       '--device', 'cpu', '--log-level', 'warning'], tmp_path, startup=180)
    try:
        r = post(url + '/decode', npz_bytes(combined_latent_block=lat.astype(np.float32)), timeout=600)
        assert r.status_code == 200, r.text
        got = dict(np.load(io.BytesIO(r.content)))
    finally:
        assert stop(proc) == 0
    tsdf, classes = got['tsdf'], got['classes']
    assert tsdf.shape == (256, 256, 256)
    unit = 2 / 16                                                   # block units -> scene units
    assert np.all(tsdf[128:144, 128:144, 128:144] == -0.1)          # the filled block
    rest = np.ones((16, 16, 16), bool); rest[8, 8, 8] = False
    for b in blocks: rest[b] = False
    assert np.all(tsdf.reshape(16, 16, 16, 16, 16, 16).transpose(0, 2, 4, 1, 3, 5)[rest] == 0.1)   # empty blocks
    def centres(r):
        c = np.arange(r) / (r / 2) - 1 + 1 / r                     # the original server's cell-centred points
        return np.stack(np.meshgrid(c, c, c, indexing='ij'), -1).reshape(-1, 3)
    fine = 0
    for b in blocks:
        sl = tuple(slice(16 * i, 16 * i + 16) for i in b)
        probe, _ = original_generator(values, centres(8), np.broadcast_to(lat[b], (512, 512)))
        if (probe > 0).any() and (probe <= 0).any():
            t, c = original_generator(values, centres(16), np.broadcast_to(lat[b], (4096, 512)))
            np.testing.assert_allclose(tsdf[sl].ravel(), t * unit, atol=2e-5)
            np.testing.assert_array_equal(classes[sl].ravel(), c)
            fine += 1
        else: assert np.all(tsdf[sl] == (0.1 if probe[0] > 0 else -0.1))
    print(f'{fine} of {len(blocks)} blocks decoded fine')

def test_serve_refuses_an_incomplete_imported_folder(imported, tmp_path, capsys):
    import shutil
    from thesis_recon.cli import main
    with socket.socket() as s:
        s.bind((HOST, 0)); port = s.getsockname()[1]
    for missing in ('decoder.weights.h5', 'svr_latents.npz', 'svr_config.json'):
        bad = tmp_path/missing
        shutil.copytree(imported[0]/'weights', bad)
        (bad/missing).unlink()
        assert main(['serve', 'decoder', '--weights', str(bad), '--port', str(port)]) == 2
        err = capsys.readouterr().err
        assert f'{missing}: not found' in err and 'Traceback' not in err, err
    # a decoder-only folder serves the decoder, not the scene network
    assert main(['serve', 'scene', '--weights', str(imported[0]/'weights'), '--port', str(port)]) == 2
    assert 'scene.weights.h5: not found' in capsys.readouterr().err


def test_help(capsys):
    from thesis_recon.cli import main
    for cmd, opts in (('serve', ('--port', '--url-file', '--random-weights')), ('client', ('--url', '--mesh'))):
        with pytest.raises(SystemExit) as e: main([cmd, '--help'])
        out = capsys.readouterr().out
        assert e.value.code == 0 and f'thesis-recon {cmd}' in out and all(o in out for o in opts), (cmd, out)
    assert main(['client', 'all', 'room.png', 'room.hdf5', '--url', '']) == 2      # `--url "$(cat server.url)"` without a file
    assert "--url '': expected a URL" in capsys.readouterr().err


if __name__ == '__main__' and sys.argv[1:2] == ['toy-server']:
    _toy_server(sys.argv[2:])
