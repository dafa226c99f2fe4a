"""Run every notebook in nbs/ as one pytest case, in-process, as `nbdev-test` does.

Cells carrying a flag of `tst_flags` (pyproject.toml: `slow`, `gpu`) are skipped unless named with
`--flags`. A failing cell fails its notebook's case, and the report shows that cell and its traceback.
Each executed notebook is kept with its outputs in `_proc/executed/`, where `tools/build_docs.py` finds them."""
import sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from nbrun import run_notebook   # noqa: E402

NBS = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith('_'))

@pytest.mark.parametrize('nb_path', NBS, ids=[p.stem for p in NBS])
def test_notebook(nb_path, request):
    failed, tb = run_notebook(nb_path, request.config.getoption('--flags').split())
    if failed is not None:
        pytest.fail(f'{nb_path.name}, cell {failed.idx_}:\n{failed.source}\n\n{tb}', pytrace=False)
