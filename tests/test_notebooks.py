"""Run every notebook in nbs/ as one pytest case, in-process, as `nbdev-test` does.

Cells carrying a flag of `tst_flags` (pyproject.toml: `slow`, `gpu`) are skipped unless named with
`--flags`. A failing cell fails its notebook's case, and the report shows that cell and its traceback."""
import os, sys
from pathlib import Path
import pytest
from execnb.shell import CaptureShell
from nbdev.config import get_config
from nbdev.process import NBProcessor
from nbdev.test import does_cell_eval, fm_default_eval, nb_frontmatter, working_directory

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith('_'))

def _skip_predicate(nb, run_flags):
    all_flags = set(get_config(ROOT).get('tst_flags', '').split())
    skip = all_flags - set(run_flags)
    dflt = fm_default_eval(nb_frontmatter(nb))
    def skipped(cell):
        if cell.cell_type != 'code' or not does_cell_eval(cell, dflt): return True
        return bool(skip & set((getattr(cell, 'directives_', None) or {}).keys()))
    return skipped

@pytest.mark.parametrize('nb_path', NBS, ids=[p.stem for p in NBS])
def test_notebook(nb_path, request):
    run_flags = request.config.getoption('--flags').split()
    nb = NBProcessor(nb_path, rm_directives=False, process=True).nb
    skipped = _skip_predicate(nb, run_flags)
    shell = CaptureShell(nb_path)
    os.environ['IN_TEST'] = '1'
    with working_directory(nb_path.parent):
        sys.path.insert(0, str(ROOT))
        try:
            for cell in nb.cells:
                if skipped(cell): continue
                shell.cell(cell, timeout=1800)
                if shell.exc:
                    tb = shell.prettytb(fname=nb_path) or repr(shell.exc)
                    pytest.fail(f'{nb_path.name}, cell {cell.idx_}:\n{cell.source}\n\n{tb}', pytrace=False)
        finally:
            sys.path.remove(str(ROOT))
