"""Execute a notebook of `nbs/` in-process, as `nbdev-test` does, keeping its outputs.

Used by `tests/test_notebooks.py` (every notebook is a test case) and by `tools/build_docs.py` (the pages of
the documentation site show the outputs of that same run, so the site never executes anything twice).
Cells carrying a flag of `tst_flags` (pyproject.toml: `slow`, `gpu`) are skipped unless that flag is asked for."""
from __future__ import annotations
import json, os, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = ROOT/'_proc'/'executed'   # executed copies of the notebooks, with outputs (git-ignored)

def _skip_predicate(nb, run_flags):
    from nbdev.config import get_config
    from nbdev.test import does_cell_eval, fm_default_eval, nb_frontmatter
    all_flags = set(get_config(ROOT).get('tst_flags', '').split())
    skip = all_flags - set(run_flags)
    dflt = fm_default_eval(nb_frontmatter(nb))
    def skipped(cell):
        if cell.cell_type != 'code' or not does_cell_eval(cell, dflt): return True
        return bool(skip & set((getattr(cell, 'directives_', None) or {}).keys()))
    return skipped

def run_notebook(nb_path, run_flags=(), save_to: Path | None = EXECUTED, timeout: int = 1800):
    """Run the cells of `nb_path` top to bottom; stop at the first failing cell.

    Returns `(failed_cell, traceback_text)`, both None when every cell ran. With `save_to`, the notebook is
    written there with its outputs (and the failing cell's error) for the documentation site."""
    from execnb.shell import CaptureShell
    from nbdev.process import NBProcessor
    from nbdev.test import working_directory
    nb_path = Path(nb_path)
    nb = NBProcessor(nb_path, rm_directives=False, process=True).nb
    skipped = _skip_predicate(nb, run_flags)
    shell = CaptureShell(nb_path)
    os.environ['IN_TEST'] = '1'
    failed, tb = None, None
    with working_directory(nb_path.parent):
        sys.path.insert(0, str(ROOT))
        try:
            for cell in nb.cells:
                if skipped(cell): continue
                shell.cell(cell, timeout=timeout)
                if shell.exc:
                    failed, tb = cell, shell.prettytb(fname=nb_path) or repr(shell.exc)
                    break
        finally:
            sys.path.remove(str(ROOT))
    if save_to is not None: _save(nb_path, nb, save_to)
    return failed, tb

def _save(nb_path: Path, nb, save_to: Path):
    "Write the raw notebook with the outputs the run produced (cells matched by position)."
    raw = json.loads(nb_path.read_text())
    ran = {c.idx_: c for c in nb.cells}
    for i, cell in enumerate(raw['cells']):
        if cell['cell_type'] != 'code': continue
        done = ran.get(i)
        cell['outputs'] = [dict(o) for o in (getattr(done, 'outputs', None) or [])] if done is not None else []
        cell['execution_count'] = None
    save_to.mkdir(parents=True, exist_ok=True)
    tmp = save_to/f'.{nb_path.name}.{os.getpid()}.tmp'
    tmp.write_text(json.dumps(raw, default=_plain))
    os.replace(tmp, save_to/nb_path.name)

def _plain(o):
    "JSON for the dict-like objects execnb stores outputs in."
    if isinstance(o, dict): return dict(o)
    if isinstance(o, (list, tuple)): return list(o)
    return str(o)
