"""The console script as a user runs it."""
import json, os, subprocess, sys, textwrap
import pytest

def run(*args, env=None):
    return subprocess.run([sys.executable, '-m', 'thesis_recon.cli', *args], capture_output=True, text=True, env=env)

def test_help_lists_installed_commands():
    from thesis_recon.cli import available_commands
    res = run('--help')
    assert res.returncode == 0, res.stderr
    assert 'usage: thesis-recon' in res.stdout
    for name in available_commands(): assert name in res.stdout

def test_unknown_command_fails_in_one_line():
    res = run('frobnicate')
    assert res.returncode == 2 and res.stderr == "thesis-recon: unknown command 'frobnicate' (thesis-recon --help lists them)\n"


# --- the thread policy (issue 31 item 1) ------------------------------------------------------------------------------

def clean_env(**extra):
    "This environment without the thread settings a user could have made, plus `extra`."
    drop = ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'TF_NUM_INTRAOP_THREADS',
            'TF_NUM_INTEROP_THREADS', 'PYTEST_XDIST_WORKER')
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}

def python(code, env):
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return res

def test_the_package_import_sets_the_policy_before_torch_and_numpy():
    probe = ('import os, sys, thesis_recon\nprint(os.environ["OMP_WAIT_POLICY"], os.environ["OPENBLAS_NUM_THREADS"], '
             '"torch" in sys.modules, "numpy" in sys.modules, os.environ.get("TF_NUM_INTRAOP_THREADS"))')
    assert python(probe, clean_env()).stdout == 'PASSIVE 1 False False None\n'
    spin = 'import os, thesis_recon\nprint(os.environ.get("OMP_WAIT_POLICY"), os.environ.get("GOMP_SPINCOUNT"))'
    assert python(spin, clean_env()).stdout == 'PASSIVE 10000\n'
    assert python(spin, clean_env(GOMP_SPINCOUNT='0')).stdout == 'None 0\n'        # the user chose: nothing added
    chosen = clean_env(OMP_WAIT_POLICY='active', OMP_NUM_THREADS='1')      # the user's settings win
    assert python(probe.replace('os.environ["OPENBLAS_NUM_THREADS"]', 'os.environ.get("OPENBLAS_NUM_THREADS")'),
                  chosen).stdout == 'active None False False 1\n'

def test_numpy_imported_first_still_gets_one_openblas_thread():
    "NumPy's OpenBLAS read its thread count when NumPy loaded; the package import sets it to one through OpenBLAS's own call."
    probe = ("import ctypes, numpy\nlib = [l.split()[-1] for l in open('/proc/self/maps') if 'openblas' in l][0]\n"
             "get = ctypes.CDLL(lib).scipy_openblas_get_num_threads64_\nbefore = get()\nimport thesis_recon\nprint(before, get())")
    assert python(probe, clean_env()).stdout == f'{len(os.sched_getaffinity(0))} 1\n'

KERNEL = '''
import numpy as np
from thesis_recon.kernels import RawKernel
k = RawKernel('extern "C" __global__ void add_one(float* x, int n) {int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] += 1.0f;}', 'add_one')
x = np.zeros(4096, np.float32); k((4,), (1024,), (x, np.int32(4096))); assert x.min() == 1
print(*{'torch' if '/torch/' in l else 'system' for l in open('/proc/self/maps') if 'libgomp' in l})'''

def spin_counts(code, **env):
    "(GOMP_SPINCOUNT of every OpenMP runtime that loaded, stdout) of `code` in a fresh process (libgomp prints what it read)."
    res = python(code, clean_env(OMP_DISPLAY_ENV='VERBOSE', **env))
    return [l.split('=')[1].strip(" '") for l in res.stderr.splitlines() if 'GOMP_SPINCOUNT' in l], res.stdout.strip()

def test_the_policy_reaches_torchs_and_the_kernels_openmp():
    "Idle threads spin 10,000 loops, not libgomp's 300,000, in torch's libgomp and in the system's (our kernels without torch)."
    assert spin_counts('import thesis_recon, torch; torch.ones(64, 64) @ torch.ones(64, 64)') == (['10000'], '')
    assert spin_counts('import thesis_recon' + KERNEL) == (['10000'], 'system')
    assert spin_counts('import thesis_recon' + KERNEL, OMP_WAIT_POLICY='ACTIVE') == (['30000000000'], 'system')
    assert spin_counts('import thesis_recon' + KERNEL, OMP_WAIT_POLICY='PASSIVE') == (['0'], 'system')   # the user's
    assert spin_counts('import thesis_recon' + KERNEL, GOMP_SPINCOUNT='500') == (['500'], 'system')
    assert spin_counts('import thesis_recon, torch' + KERNEL) == (['10000'], 'torch')    # with torch, one libgomp for both
    assert spin_counts('import torch, thesis_recon') == (['300000'], '')        # too late: libgomp read its environment

def test_a_wait_policy_openmp_does_not_know_is_one_line(tmp_path):
    res = subprocess.run([sys.executable, '-m', 'thesis_recon.cli', 'synth', str(tmp_path/'out')], capture_output=True,
                         text=True, env=clean_env(OMP_WAIT_POLICY='spin'))
    assert (res.returncode, res.stderr) == (2, "thesis-recon synth: OMP_WAIT_POLICY='spin' (set in the environment): "
                                                "expected ACTIVE or PASSIVE\n"), res.stderr
    assert list(tmp_path.iterdir()) == []
    res = subprocess.run([sys.executable, '-m', 'thesis_recon.cli', 'synth', str(tmp_path/'out')], capture_output=True,
                         text=True, env=clean_env(GOMP_SPINCOUNT='lots'))
    assert (res.returncode, res.stderr) == (2, "thesis-recon synth: GOMP_SPINCOUNT='lots' (set in the environment): expected "
                                                "a whole number of spins (a k, M, G or T suffix allowed) or INFINITE\n"), res.stderr
    assert list(tmp_path.iterdir()) == []

def test_pytest_workers_get_one_thread_unless_the_user_chose():
    root = os.path.dirname(os.path.abspath(__file__))
    probe = (f'import runpy; runpy.run_path({os.path.join(root, "conftest.py")!r})\n'
             'import os, torch, thesis_recon.core as core\n'
             'print(core.num_threads(), torch.get_num_threads(), os.environ.get("TF_NUM_INTRAOP_THREADS"))')
    assert python(probe, clean_env(PYTEST_XDIST_WORKER='gw0')).stdout == '1 1 1\n'
    assert python(probe, clean_env(PYTEST_XDIST_WORKER='gw0', OMP_NUM_THREADS='2')).stdout == '2 2 2\n'

def test_the_count_follows_the_load_beside_busy_processes():
    "Two processes spinning on this process's two CPUs: the count falls to one thread; a count the user chose stays."
    cpus = sorted(os.sched_getaffinity(0))[:2]
    if len(cpus) < 2: pytest.skip('needs two CPUs to keep busy')
    probe = textwrap.dedent(f'''
        import os, subprocess, sys, time
        os.sched_setaffinity(0, {set(cpus)!r})
        import torch
        from thesis_recon import core
        spin = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in {cpus!r}]
        try:
            for p, c in zip(spin, {cpus!r}): os.sched_setaffinity(p.pid, {{c}})
            x, counts, t = torch.randn(128, 128), [], time.monotonic()
            while time.monotonic() - t < 4: x @ x; counts.append(core.follow_load())
            print(core.num_threads(), counts[-1], torch.get_num_threads())
        finally:
            for p in spin: p.kill()''')
    assert python(probe, clean_env()).stdout == '2 1 1\n'
    assert python(probe, clean_env(OMP_NUM_THREADS='2')).stdout == '2 2 2\n'

def test_threads_more_than_the_cpus_is_a_warning_and_the_cpu_count():
    probe = textwrap.dedent('''
        import contextlib, io, os, torch
        from thesis_recon.cli import main
        from thesis_recon.core import cpu_count, num_threads
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try: main(['train-2d', '--threads', '99', '--help'])
            except SystemExit: pass
        print(repr(err.getvalue()), cpu_count(), num_threads(), torch.get_num_threads(), os.environ['OMP_NUM_THREADS'])''')
    out = python(probe, clean_env()).stdout.split()
    n = out[-4]
    assert out[-3:] == [n, n, n], out
    assert ' '.join(out[:-4]) == repr(f'UserWarning: --threads 99: more than the {n} CPUs this process may use; using {n}\n')


# --- extras (issue 25) -------------------------------------------------------------------------------------------

HIDE = '''
import sys
HIDDEN = set(%r)
class Hide:
    "Makes the hidden top-level modules (and everything under them) unimportable, as if never installed."
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in HIDDEN: raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Hide())
'''

def hidden_env(tmp_path, *modules):
    "An environment whose Python cannot import `modules` (a sitecustomize that installs a meta-path hook)."
    site = tmp_path/'hide'; site.mkdir(exist_ok=True)
    (site/'sitecustomize.py').write_text(HIDE % (sorted(modules),))
    return {**os.environ, 'PYTHONPATH': os.pathsep.join([str(site), os.environ.get('PYTHONPATH', '')]).rstrip(os.pathsep)}

def test_the_hook_hides_what_it_should(tmp_path):
    env = hidden_env(tmp_path, 'fastapi', 'tensorflow', 'keras')
    probe = 'import numpy, httpx\ntry: import fastapi.responses\nexcept ModuleNotFoundError as e: print(e.name)\nimport keras'
    res = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True, env=env)
    assert res.returncode == 1 and res.stdout == 'fastapi\n' and "No module named 'keras'" in res.stderr, (res.stdout, res.stderr)

@pytest.mark.parametrize('cmd,extras', [('serve', 'serve,svr'), ('client', 'serve'), ('predict-svr', 'svr'),
                                        ('train-svr-decoder', 'svr')])
def test_a_command_whose_extra_is_missing_says_what_to_install(cmd, extras, tmp_path):
    env = hidden_env(tmp_path, 'fastapi', 'tensorflow', 'keras')
    res = run(cmd, '--help', env=env)
    assert res.returncode == 2 and res.stdout == '', (res.stdout, res.stderr)
    assert res.stderr.count('\n') == 1 and 'Traceback' not in res.stderr, res.stderr
    assert res.stderr.startswith(f'thesis-recon {cmd}: needs the ') and res.stderr.endswith(f'pip install "thesis-recon[{extras}]"\n')

def test_help_marks_the_commands_that_cannot_run(tmp_path):
    res = run('--help', env=hidden_env(tmp_path, 'fastapi', 'tensorflow', 'keras'))
    assert res.returncode == 0, res.stderr
    lines = {l.split()[0]: l for l in res.stdout.splitlines() if l.startswith('  ')}
    assert lines['serve'].endswith('[needs pip install "thesis-recon[serve,svr]"]')
    assert lines['eval-svr'].endswith('[needs pip install "thesis-recon[svr]"]')
    assert not any('[needs' in lines[c] for c in ('synth', 'demo', 'svr-data', 'train-2d', 'import-weights'))
    full = run('--help')                                  # with everything installed (dev), nothing is marked
    assert full.returncode == 0 and '[needs' not in full.stdout

def test_help_is_fast_and_imports_no_framework(tmp_path):
    probe = textwrap.dedent('''
        import contextlib, io, sys, time
        t = time.perf_counter()
        from thesis_recon.cli import main
        with contextlib.redirect_stdout(io.StringIO()): main(['--help'])
        heavy = sorted(m for m in ('torch', 'tensorflow', 'keras', 'cupy', 'h5py', 'scipy', 'numpy') if m in sys.modules)
        print(heavy, time.perf_counter() - t)''')
    res = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True)
    heavy, seconds = res.stdout.rsplit(' ', 1)
    assert res.returncode == 0 and heavy == '[]', res.stdout + res.stderr
    assert float(seconds) < 3, seconds

def test_ray_address_without_ray_names_the_extra(tmp_path):
    probe = ('from thesis_recon.core import ThesisReconError\nfrom thesis_recon.runner import run_scenes\n'
             'try: run_scenes(print, ["scene0000_00"], ray_address="local")\nexcept ThesisReconError as e: print(e)')
    res = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True, env=hidden_env(tmp_path, 'ray'))
    assert res.returncode == 0, res.stderr
    assert res.stdout == '--ray_address local: needs Ray, the [ray] extra: pip install "thesis-recon[ray]"\n', res.stdout

def test_the_extras_table_matches_pyproject_and_the_imports(tmp_path):
    """Every extra named in cli.EXTRAS exists in pyproject.toml; with the [svr] and [serve] modules hidden, a command whose
    module fails to import is one that cli.NEEDS says needs the missing module's extra (a command module may import its
    extra lazily, so the converse is not required)."""
    import tomllib
    from pathlib import Path
    from thesis_recon.cli import COMMANDS, EXTRAS, NEEDS
    extras = tomllib.loads((Path(__file__).resolve().parents[1]/'pyproject.toml').read_text())['project']['optional-dependencies']
    assert set(EXTRAS) <= set(extras) and set(NEEDS) <= set(COMMANDS), (set(EXTRAS) - set(extras), set(NEEDS) - set(COMMANDS))
    hidden = EXTRAS['svr'] + EXTRAS['serve']
    probe = textwrap.dedent(f'''
        import importlib, json
        out = {{}}
        for module in sorted({sorted({v[0].split(':')[0] for v in COMMANDS.values()})!r}):
            try: importlib.import_module(module); out[module] = None
            except ModuleNotFoundError as e: out[module] = e.name.split('.')[0]
        print(json.dumps(out))''')
    res = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True, env=hidden_env(tmp_path, *hidden))
    assert res.returncode == 0, res.stderr[-3000:]
    failed = json.loads(res.stdout.strip().splitlines()[-1])
    for cmd, (target, _) in COMMANDS.items():
        missing = failed[target.split(':')[0]]
        if missing is None: continue
        extra = next(x for x, mods in EXTRAS.items() if missing in mods)
        assert extra in NEEDS.get(cmd, ()), f'{cmd} ({target}) needs {missing} of [{extra}], cli.NEEDS says {NEEDS.get(cmd, ())}'

# Commands of the learned stages that still declare their own --device (issue 25 moves them to core.add_device_arg).
OWN_DEVICE_OPTION = set()   # none left: every command's --device is core.add_device_arg
# Commands that run nothing multi-threaded (files, PIL, single-threaded NumPy; client's marching cubes is scikit-image's):
# every other command takes --threads (issue 31 item 1).
NO_THREADS = {'write-config', 'import-weights', 'client', 'clean-backproj-data', 'augment-backproj-data', 'prep-2d-dataset'}
# Commands that render with the package kernels but do not take --threads yet; each owner adds core.add_threads_arg
# (or add_device_arg) and removes the command here (none left: srn-data has it).
THREADS_PENDING = set()

def test_every_command_in_the_table_answers_help():
    """Each entry of cli.COMMANDS points at a function that parses `--help` (exit 0, usage naming the command), a
    command with --device has the one device option (core.add_device_arg), apart from those listed above, and every
    command but NO_THREADS takes the one --threads (core.add_threads_arg)."""
    probe = textwrap.dedent('''
        import contextlib, io, json
        from thesis_recon.cli import COMMANDS, main
        from thesis_recon.core import DEVICE_HELP, THREADS_HELP
        bad, own, threads = [], [], []
        for cmd in COMMANDS:
            out, code = io.StringIO(), None
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()): code = main([cmd, '--help'])
            except SystemExit as e: code = e.code
            if code != 0 or f'thesis-recon {cmd}' not in out.getvalue().split(chr(10))[0]: bad.append([cmd, code, out.getvalue()[:200]])
            text = ' '.join(out.getvalue().split())
            if '--device' in text and not ('--device {auto,cpu,cuda}' in text and ' '.join(DEVICE_HELP.split()) in text): own.append(cmd)
            if '--threads N' in text and ' '.join(THREADS_HELP.split()) in text: threads.append(cmd)
        print(json.dumps([bad, own, threads]))''')
    res = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    bad, own, threads = json.loads(res.stdout.strip().splitlines()[-1])
    assert bad == []
    from thesis_recon.cli import COMMANDS
    assert set(COMMANDS) - set(threads) == NO_THREADS | THREADS_PENDING, (set(COMMANDS) - set(threads)) ^ (NO_THREADS | THREADS_PENDING)
    print('commands with their own --device:', ' '.join(own))
    assert set(own) <= OWN_DEVICE_OPTION, set(own) - OWN_DEVICE_OPTION


# --- fast answers (issue 26 item 5) --------------------------------------------------------------------------------
# Commands whose `--help` and argument errors load no torch, TensorFlow, CuPy or Ray (their parsers live in light
# modules that import the working module inside the main, after the checks). Extend this list as commands join.
FAST_HELP = ['prep-2d-dataset', 'train-2d', 'test-2d', 'predict-2d', 'srn-data', 'train-srn', 'update-srn', 'fit-srn',
             'render-srn', 'eval-srn', 'experiment-srn-fewshot', 'train-3d', 'infer-3d', 'experiment',
             'pcm-data', 'train-pcm', 'reconstruct-depth', 'predict-svr', 'eval-svr', 'client']
HEAVY = ('torch', 'tensorflow', 'keras', 'cupy', 'ray')

FAST_PROBE = textwrap.dedent('''
    import contextlib, io, json, sys
    from thesis_recon.cli import main
    out = []
    for argv in json.loads(sys.argv[1]):
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try: code = main(argv)
            except SystemExit as e: code = e.code
        out.append([argv[0], code, err.getvalue(), sorted(m for m in %r if m in sys.modules)])
    print(json.dumps(out))''' % (HEAVY,))

def fast_answers(argvs, cwd=None):
    res = subprocess.run([sys.executable, '-c', FAST_PROBE, json.dumps(argvs)], capture_output=True, text=True, cwd=cwd)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])

def test_help_of_the_light_commands_loads_no_framework():
    "`thesis-recon CMD --help` of every FAST_HELP command, in one fresh process: exit 0 and no heavy framework imported."
    for cmd, code, err, heavy in fast_answers([[c, '--help'] for c in FAST_HELP]):
        assert (code, heavy) == (0, []), (cmd, code, heavy, err)

@pytest.mark.parametrize('argv,message', [
    (['train-2d', '--config', 'train_enet_synthetic', '--set', 'trainer.epoch=3'], "unknown key 'trainer.epoch'"),
    (['train-2d', '--config', 'nosuch_config'], 'no shipped config named nosuch_config'),
    (['test-2d', '--config', 'test_enet', '--device', 'tpu'], "invalid choice: 'tpu'"),
    (['srn-data', 'out', '--sidelength', '0'], '--sidelength 0: must be at least 8'),
    (['srn-data', 'out', '--n_train', '-3'], '--n_train -3: must be at least 1'),
    (['train-srn', '--config', 'srn_train_tiny', '--set', 'nosuch=1'], "unknown key 'nosuch'"),
    (['eval-srn', '--config', 'nosuch.yml'], 'nosuch.yml'),
    (['eval-srn', '--data_root', 'nosuch', '--checkpoint_path', 'model.tar'], '--data_root nosuch: no such folder'),
    (['render-srn', '--checkpoint_path', 'model.tar'], '--data_root is required'),
    (['render-srn', '--data_root', '.', '--checkpoint_path', 'model.tar'], '--checkpoint_path model.tar: no such file'),
    (['train-srn', '--config', 'srn_train_tiny', '--set', 'data_root=""'], '--data_root: required'),
    (['train-srn', '--config_filepath', 'srn_train_tiny.yml', '--set', 'data_root=nosuch'], '--data_root '),
    (['fit-srn', '--data_root', '.', '--checkpoint_path', 'nosuch.tar'], '--checkpoint_path '),
    (['update-srn', '--data_root', 'nosuch', '--checkpoint_path', 'x.tar'], '--data_root '),
    (['predict-2d', 'room.png', '--out', 'o', '--config', 'test_enet'], 'room.png: image not found'),
    (['pcm-data', '--synthetic', '4', '--width', '0', '--out', 'o'], '--width 0: must be at least 1'),
    (['train-pcm', '--config', 'pcm_shift', '--set', 'max_points=-1'], 'max_points (--max_points): must be at least 1, got -1'),
    (['reconstruct-depth', 'd.npz', '--out', 'c.ply'], 'd.npz: depth file not found'),
    (['predict-svr', 'nothing.png', '--weights', 'w', '--out', 'o.hdf5'], 'nothing.png: image not found'),
    (['eval-svr', '--data', 'nosuch', '--weights', 'w'], 'svr_data.json: not found'),
    (['client', 'all', 'nothing.png', 'o.hdf5'], 'nothing.png'),
    # issue 32 item 5: argparse's own errors in one line, suggestions only when close
    (['srn-data', 'out', '--sidelength', 'abc'], "--sidelength: invalid int value: 'abc' (see --help)"),
    (['srn-data', 'out', '--no_such_option'], 'unrecognized arguments: --no_such_option (see --help)'),
    (['train-2d'], 'the following arguments are required: --config (see --help)'),
    (['train-2d', '--config', 'missing.json'], 'no shipped config named missing.json; shipped: backproj_prep.yml, '),
    (['train-2d', '--config', 'train_enett'], "no shipped config named train_enett; did you mean 'train_enet'?"),
    (['import-weights', 'thesis-enett', 'a.pth', 'b.tar'], "unknown kind 'thesis-enett'; did you mean 'thesis-enet'?"),
    # issue 31 item 1: --threads
    (['train-2d', '--config', 'train_enet_synthetic', '--threads', '0'], '--threads: must be at least 1, got 0 (see --help)'),
    (['train-2d', '--config', 'train_enet_synthetic', '--threads', '-1'], '--threads: must be at least 1, got -1 (see --help)'),
    (['train-pcm', '--config', 'pcm_shift', '--threads', 'all'], "--threads: expected a whole number of threads, got 'all'"),
])
def test_argument_errors_answer_fast_in_one_line_and_write_nothing(argv, message, tmp_path):
    (cmd, code, err, heavy), = fast_answers([argv], cwd=tmp_path)
    assert code == 2 and heavy == [], (code, heavy, err)
    assert message in err and err.count(cmd) == 1 and err.count('\n') == 1 and err.startswith(f'thesis-recon {cmd}: '), err
    assert list(tmp_path.iterdir()) == []

def test_no_far_fetched_suggestion(tmp_path):
    "`--config missing.json` once suggested svr_tiny.json: a name is suggested only when it is a likely typo."
    (cmd, code, err, heavy), = fast_answers([['train-2d', '--config', 'missing.json']], cwd=tmp_path)
    assert code == 2 and 'did you mean' not in err, err

def test_export_scannet_names_a_missing_scans_folder_not_the_label_table(tmp_path):
    res = run('export-scannet', '--scannet_path', str(tmp_path/'nosuch'), '--output_path', str(tmp_path/'out'),
              '--export_label_images')
    assert (res.returncode, res.stderr) == (2, f'thesis-recon export-scannet: --scannet_path {tmp_path/"nosuch"}: folder not found\n')
    assert list(tmp_path.iterdir()) == []

def test_a_truncated_checkpoint_is_named_in_whole_sentences(tmp_path):
    "torch's text for a truncated file runs to four sentences; ours quotes its first one whole, never cut mid-word."
    import torch
    torch.save({'model': {'w': torch.ones(1000)}}, tmp_path/'ck.pth')
    data = (tmp_path/'ck.pth').read_bytes(); (tmp_path/'ck.pth').write_bytes(data[:len(data) // 2])
    res = run('import-weights', 'thesis-enet', str(tmp_path/'ck.pth'), str(tmp_path/'out.tar'))
    assert res.returncode == 2 and res.stderr.count('\n') == 1, res.stderr
    assert res.stderr.startswith(f'thesis-recon import-weights: {tmp_path/"ck.pth"}: truncated or corrupt torch file (')
    assert res.stderr.endswith('.)\n'), res.stderr            # torch 2.13: '... failed finding central directory.'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['ck.pth']

def test_predict_svr_refuses_a_bad_image_or_weights_folder_before_tensorflow(tmp_path):
    "An empty file, a missing image and a weights folder without its files: one line naming it, exit 2, no TensorFlow."
    from PIL import Image
    (tmp_path/'empty.png').touch(); Image.new('RGB', (8, 8)).save(tmp_path/'ok.png'); (tmp_path/'w').mkdir(); (tmp_path/'v').mkdir()
    for f in ('svr_config.json', 'normals.weights.h5', 'scene.weights.h5', 'decoder.weights.h5', 'svr_latents.npz'): (tmp_path/'v'/f).touch()
    cases = [('empty.png', 'w', 'empty.png: not an image'), ('nothing.png', 'w', 'nothing.png: image not found'),
             ('ok.png', 'w', '--weights w: svr_config.json not found'), ('ok.png', 'v', 'v/svr_config.json: not valid JSON')]
    got = fast_answers([['predict-svr', f, '--weights', w, '--out', 'o.hdf5'] for f, w, _ in cases], cwd=tmp_path)
    for (cmd, code, err, heavy), (*_, message) in zip(got, cases):
        assert (code, heavy, err.count('\n')) == (2, [], 1) and message in err, (code, heavy, err)
    assert sorted(f.name for f in tmp_path.iterdir()) == ['empty.png', 'ok.png', 'v', 'w']
