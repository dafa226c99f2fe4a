"""The notebooks as a reader opens them: JupyterLab on a free loopback port, driven by headless Chromium.

The test copies `nbs/` to a temporary folder (JupyterLab saves what it runs, and the sources must stay clean), starts
JupyterLab there, opens `24_demo`, runs all its cells in a real kernel (its `#| slow` cells skipped through
`THESIS_RECON_SKIP_FLAGS`, its `#| gpu` cells where there is no GPU), and checks what a reader sees: no cell raised, the matplotlib figure is an image with pixels in it, and the k3d view is a WebGL canvas that drew something.
Without Chromium (Debian's `chromium`), Playwright or JupyterLab it skips with the reason, unless
`THESIS_RECON_REQUIRE_BROWSER=1`, which turns the skip into a failure. Screenshots go to `_proc/screenshots/`."""
import io, json, os, secrets, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT/'_proc'/'screenshots'
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
# A closed network (no background connections), no first run; WebGL through SwiftShader, as there is no GPU.
CHROMIUM_ARGS = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--use-angle=swiftshader',
                 '--enable-unsafe-swiftshader']
NOTEBOOK = '24_demo.ipynb'
WAIT_MS = 600_000          # a loaded 2-core machine: the server, the kernel and the demo's cells each take a while
# JupyterLab settings for the test: no news pop-up over the page, no update check
LAB_SETTINGS = {'@jupyterlab/apputils-extension:notification': {'fetchNews': 'false', 'checkForUpdates': False}}


def _missing() -> str | None:
    if CHROMIUM is None: return 'Chromium is not installed (apt-get install chromium)'
    for module, extra in (('playwright.sync_api', 'docs'), ('jupyterlab', 'dev'), ('ipykernel', 'dev')):
        try: __import__(module)
        except ImportError: return f'{module.split(".")[0]} is not installed (pip install -e ".[{extra}]")'
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


@pytest.fixture(scope='module')
def lab():
    "(base URL, token, folder) of a JupyterLab serving a copy of nbs/; stopped after the module."
    reason = _missing()
    if reason:
        if os.environ.get('THESIS_RECON_REQUIRE_BROWSER') == '1': pytest.fail(reason)
        pytest.skip(reason)
    work = Path(tempfile.mkdtemp(prefix='thesis-recon-lab-'))
    shutil.copytree(ROOT/'nbs', work/'nbs', ignore=shutil.ignore_patterns('_*', '.ipynb_checkpoints'))
    # nbdev-clean strips the kernelspec; a reader's JupyterLab would ask for one: name the default Python kernel
    nb_file = work/'nbs'/NOTEBOOK
    nb = json.loads(nb_file.read_text())
    nb['metadata']['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3 (ipykernel)', 'language': 'python'}
    nb_file.write_text(json.dumps(nb))
    settings = work/'settings'; settings.mkdir()
    (settings/'overrides.json').write_text(json.dumps(LAB_SETTINGS))
    port, token = _free_port(), secrets.token_hex(16)
    # the kernels skip the `#| slow` cells (core.skip_flagged_cells; a reader runs them) and `#| gpu` ones without a GPU
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTER_RUNTIME_DIR=str(work/'runtime'),
               MPLBACKEND='module://matplotlib_inline.backend_inline', THESIS_RECON_SKIP_FLAGS='slow')
    log = open(work/'server.log', 'w')
    server = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', '--allow-root', '--ip=127.0.0.1',
                               f'--port={port}', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={work/"nbs"}',
                               '--expose-app-in-browser', f'--LabServerApp.app_settings_dir={settings}'],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f'http://127.0.0.1:{port}'
    try:
        deadline = time.time() + WAIT_MS / 1000
        while True:
            try: urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=2); break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    pytest.fail(f'JupyterLab did not start:\n{(work/"server.log").read_text()[-3000:]}')
                time.sleep(0.5)
        yield base, token, work
    finally:
        server.terminate()
        try: server.wait(60)
        except subprocess.TimeoutExpired: server.kill(); server.wait(10)
        log.close(); shutil.rmtree(work, ignore_errors=True)


def _drawn(png: bytes) -> int:
    "How many distinct colours a screenshot holds (1 for an empty canvas)."
    from PIL import Image
    return len(Image.open(io.BytesIO(png)).convert('RGB').getcolors(1 << 24) or ())


def test_demo_notebook_runs_in_jupyterlab(lab):
    base, token, work = lab
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={'width': 1280, 'height': 1000})
            page.goto(f'{base}/lab/tree/{NOTEBOOK}?token={token}')
            kernel = 'window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel'
            page.wait_for_function(f"{kernel}?.status === 'idle'", timeout=WAIT_MS)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            # every code cell has run (an execution count) or one raised (Run All stops there), and the kernel is idle
            page.wait_for_function(
                f"""() => {{ const cells = window.jupyterapp.shell.currentWidget.content.widgets.filter(c => c.model.type === 'code');
                    const raised = cells.some(c => c.model.outputs.toJSON().some(o => o.output_type === 'error'));
                    return {kernel}.status === 'idle' && (raised || cells.every(c =>
                        c.model.sharedModel.source.trim() === '' || c.model.executionCount !== null)); }}""",
                timeout=WAIT_MS, polling=1000)
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS/'jupyterlab_24_demo.png'))
            raised = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
                .flatMap(c => c.model.type === 'code' ? c.model.outputs.toJSON() : [])
                .filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue)""")
            assert not raised, f'a cell raised in JupyterLab: {raised}'
            figures = page.locator('.jp-OutputArea-output img')
            sizes = [figures.nth(i).evaluate('i => [i.naturalWidth, i.naturalHeight]') for i in range(figures.count())]
            assert any(w > 200 and h > 150 for w, h in sizes), f'no matplotlib figure among the outputs: {sizes}'
            canvas = page.locator('.jp-OutputArea-output canvas').first
            canvas.wait_for(timeout=WAIT_MS)
            canvas.scroll_into_view_if_needed(); page.wait_for_timeout(3000)    # let WebGL draw a frame
            assert canvas.evaluate("c => !!(c.getContext('webgl2') || c.getContext('webgl'))"), 'the k3d canvas has no WebGL context'
            shot = canvas.screenshot(path=str(SHOTS/'jupyterlab_24_demo_k3d.png'))
            assert _drawn(shot) > 50, 'the k3d canvas is blank'
        finally:
            browser.close()
