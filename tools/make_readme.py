"""Write README.md from nbs/index.ipynb without Quarto (nbdev-readme needs it).

`python tools/make_readme.py` writes it; `--check` exits 1 if README.md is out of date."""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def render() -> str:
    nb = json.loads((root/'nbs'/'index.ipynb').read_text())
    parts = []
    for cell in nb['cells']:
        src = ''.join(cell['source']).strip()
        if cell['cell_type'] == 'markdown': parts.append(src)
        elif src and not src.startswith('#|'): parts.append(f'```python\n{src}\n```')
    text = '\n\n'.join(parts)
    return re.sub(r'^> (.*)$', r'\1', text, count=1, flags=re.M) + '\n'

if __name__ == '__main__':
    text, dest = render(), root/'README.md'
    if '--check' in sys.argv:
        if not dest.exists() or dest.read_text() != text:
            sys.exit('README.md is out of date: run `python tools/make_readme.py`')
    else: dest.write_text(text)
