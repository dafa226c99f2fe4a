"""Build the documentation site offline, without Quarto: every notebook as a page with its outputs, the README as
the home page, an API reference of every exported function and class, search, and links between the stages.

    python tools/build_docs.py [--out _docs] [--execute] [--flags slow] [--no-check]

The pages show the outputs of the test run: `pytest` keeps each executed notebook in `_proc/executed/`
(`tools/nbrun.py`). A notebook with no executed copy, or whose source is newer than its copy, is executed here
first; `--execute` executes every notebook. The generator is MkDocs with the Material theme, mkdocs-jupyter for
the notebooks and mkdocstrings for the API (`pip install -e ".[docs]"`). After building, the site is checked: a
page for every notebook, no notebook cell that raised, and no internal link or image pointing at nothing. Any
failure exits 1 with the list. Users who have Quarto can build nbdev's own site with `nbdev-docs` instead."""
from __future__ import annotations
import argparse, html.parser, json, re, shutil, subprocess, sys, time
from pathlib import Path
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbrun import EXECUTED, ROOT, run_notebook   # noqa: E402
import make_readme   # noqa: E402

NBS = ROOT/'nbs'
SECTIONS = {   # first digit of a notebook's number -> its section in the navigation (data-flow order)
    '0': 'Foundation: data and I/O', '1': 'Synthetic scenes', '2': 'TSDF fusion and ground truth',
    '3': 'Chunks and back-projection', '4': '2D segmentation', '5': '3D networks and the thesis experiments',
    '6': 'Single-view reconstruction', '7': 'Semantic SRN', '8': 'Point-cloud module', '9': 'Experiments and the command line'}
MAX_OUTPUT_LINES = 40   # longer text outputs are shown in a scrolling box of about this height

def notebooks() -> list[Path]:
    return sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith('_') and p.stem != 'index')

def module_of(nb_path: Path) -> str | None:
    "The module a notebook exports to (`#| default_exp`), as a dotted name under thesis_recon."
    for cell in json.loads(nb_path.read_text())['cells']:
        m = re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(cell['source']), re.M)
        if m: return 'thesis_recon.' + m.group(1)
    return None

def executed_copy(nb_path: Path, execute: bool, flags) -> tuple[Path, str | None]:
    "The executed copy of `nb_path` (running it if asked, missing or stale), and the failure if a cell raised."
    copy = EXECUTED/nb_path.name
    if execute or not copy.exists() or copy.stat().st_mtime < nb_path.stat().st_mtime:
        print(f'executing {nb_path.name} ...', flush=True)
        failed, _ = run_notebook(nb_path, flags)
        if failed is not None: return copy, f'{nb_path.name}: cell {failed.idx_} raised'
    for cell in json.loads(copy.read_text())['cells']:
        if any(o.get('output_type') == 'error' for o in cell.get('outputs', [])):
            return copy, f'{nb_path.name}: a cell raised in the executed copy'
    return copy, None

def link_stages(text: str, names: set[str], url=lambda name: f'{name}.ipynb') -> str:
    "Turn `20_tsdf`-style mentions of a notebook in markdown into links to its page (`url(name)`)."
    def sub(m):
        name = m.group(1)
        return f'[`{name}`]({url(name)})' if name in names else m.group(0)
    return re.sub(r'(?<!\[)`(\d\d_[a-z0-9_]+)(?:\.ipynb)?`', sub, text)

def _page_url(name: str) -> str:
    "A notebook page's link to another page: mkdocs-jupyter renders the notebook itself, so links are final URLs."
    return f'../{name}/'

def page_notebook(copy: Path, nb_path: Path, names: set[str], module: str | None, prev_next) -> dict:
    "The notebook as it is shown: directives removed, hidden cells dropped, stage names linked, a header of links."
    nb = json.loads(copy.read_text())
    cells = []
    for cell in nb['cells']:
        src = ''.join(cell['source'])
        if cell['cell_type'] == 'code':
            if re.search(r'^#\|\s*(hide|default_exp)\b', src, re.M): continue
            src = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
            if not src and not cell.get('outputs'): continue
        elif cell['cell_type'] == 'markdown':
            src = link_stages(src, names, _page_url)
        cell['source'] = src
        cells.append(cell)
    links = []
    if module: links.append(f'API: [`{module}`]({_page_url("api/" + module)})')
    prev, nxt = prev_next
    if prev: links.append(f'previous stage: [`{prev}`]({_page_url(prev)})')
    if nxt: links.append(f'next stage: [`{nxt}`]({_page_url(nxt)})')
    if links:
        header = {'cell_type': 'markdown', 'metadata': {}, 'source': ' · '.join(links)}
        cells.insert(1 if cells and cells[0]['cell_type'] == 'markdown' else 0, header)
    nb['cells'] = cells
    return nb

def api_page(module: str, nb_name: str) -> str:
    return (f'# `{module}`\n\nExported from the notebook [`{nb_name}`](../{nb_name}.ipynb): read it for how the stage '
            f'works and examples of every function.\n\n::: {module}\n')

def home_page(names: set[str]) -> str:
    text = make_readme.render()
    text = re.sub(r'\(nbs/(\d\d_[a-z0-9_]+)\.ipynb\)', r'(\1.ipynb)', text)
    return link_stages(text, names)

MATHJAX_CONFIG = r"""window.MathJax = {tex2jax: {inlineMath: [['$', '$'], ['\\(', '\\)']], processEscapes: true},
  showMathMenu: false, messageStyle: 'none'};
"""

def add_mathjax(src: Path) -> list[str]:
    "Copy MathJax (shipped by the jupyter_server_mathjax package) into the site, so equations render offline."
    try: import jupyter_server_mathjax
    except ImportError:
        print('docs: jupyter_server_mathjax is not installed; equations are shown as TeX', file=sys.stderr); return []
    static = Path(jupyter_server_mathjax.__file__).parent/'static'
    shutil.copytree(static, src/'assets'/'mathjax', ignore=shutil.ignore_patterns('SVG', 'localization'))
    (src/'assets'/'mathjax-config.js').write_text(MATHJAX_CONFIG)
    return ['assets/mathjax-config.js', 'assets/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full']

def mkdocs_yml(nav: list, docs_dir: Path, site_dir: Path, extra_javascript: list[str]) -> str:
    import yaml
    cfg = {
        'site_name': 'thesis_recon', 'docs_dir': str(docs_dir), 'site_dir': str(site_dir),
        'site_description': 'Literate toolkit for 3D indoor scene reconstruction and semantic segmentation from images',
        'use_directory_urls': True,
        'theme': {'name': 'material', 'font': False,   # no web fonts: the site builds and reads offline
                  'features': ['navigation.footer', 'navigation.indexes', 'search.highlight', 'content.code.copy',
                               'toc.follow']},
        'extra_css': ['extra.css'],
        'extra_javascript': extra_javascript,
        'markdown_extensions': ['tables', 'admonition', 'attr_list', 'pymdownx.superfences',
                                {'toc': {'permalink': True}}],
        'plugins': ['search',
                    {'mkdocs-jupyter': {'execute': False, 'include_source': True, 'ignore_h1_titles': False,
                                        'include_requirejs': False}},
                    {'mkdocstrings': {'handlers': {'python': {'paths': [str(ROOT)], 'options': {
                        'show_source': False, 'members_order': 'source', 'show_root_heading': False,
                        'show_signature_annotations': True, 'separate_signature': True, 'docstring_style': None,
                        'show_if_no_docstring': False, 'heading_level': 2}}}}}],
        'nav': nav,
    }
    return yaml.safe_dump(cfg, sort_keys=False)

EXTRA_CSS = f"""/* long outputs scroll instead of filling the page */
.jupyter-wrapper .jp-OutputArea-output pre {{ max-height: {MAX_OUTPUT_LINES * 1.3:.0f}em; overflow-y: auto; }}
.jupyter-wrapper .jp-RenderedImage img {{ max-width: 100%; height: auto; }}
"""

class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.links = []
    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if (tag, k) in {('a', 'href'), ('img', 'src'), ('link', 'href'), ('script', 'src')} and v: self.links.append(v)

def broken_links(site: Path) -> list[str]:
    "Internal links and images of the built site that point at no file (external links are not followed)."
    bad = []
    for page in site.rglob('*.html'):
        parser = _Links(); parser.feed(page.read_text(errors='replace'))
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(('#', 'mailto:', 'data:', 'javascript:')): continue
            if '/assets/mathjax/' in f'/{parts.path}': continue   # MathJax's own query-string URLs
            path = unquote(parts.path)
            target = (site/path.lstrip('/') if path.startswith('/') else page.parent/path).resolve()
            if target.is_dir(): target = target/'index.html'
            if not target.exists(): bad.append(f'{page.relative_to(site)}: {link}')
    return bad

def build(out: Path, execute: bool = False, flags=(), check: bool = True) -> list[str]:
    "Build the site into `out`; returns the problems found (empty when the site is complete)."
    t0 = time.time()
    nbs = notebooks()
    names = {p.stem for p in nbs}
    src = ROOT/'_proc'/'site_src'
    shutil.rmtree(src, ignore_errors=True); (src/'api').mkdir(parents=True)
    problems, sections, api_nav = [], {}, []
    for i, nb_path in enumerate(nbs):
        copy, failure = executed_copy(nb_path, execute, flags)
        if failure: problems.append(failure)
        module = module_of(nb_path)
        prev_next = (nbs[i-1].stem if i else None, nbs[i+1].stem if i + 1 < len(nbs) else None)
        page = page_notebook(copy, nb_path, names, module, prev_next)
        (src/nb_path.name).write_text(json.dumps(page))
        sections.setdefault(SECTIONS.get(nb_path.stem[0], 'Other'), []).append({nb_path.stem: nb_path.name})
        if module:
            (src/'api'/f'{module}.md').write_text(api_page(module, nb_path.stem))
            api_nav.append({module: f'api/{module}.md'})
    (src/'index.md').write_text(home_page(names))
    (src/'extra.css').write_text(EXTRA_CSS)
    nav = [{'Home': 'index.md'}, *({k: v} for k, v in sections.items()), {'API reference': api_nav}]
    cfg = src.parent/'mkdocs.yml'
    cfg.write_text(mkdocs_yml(nav, src, out.resolve(), add_mathjax(src)))
    r = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--clean', '-q', '-f', str(cfg)],
                       capture_output=True, text=True, cwd=src.parent)   # mkdocs-jupyter caches in the cwd
    if r.returncode != 0:
        return problems + [f'mkdocs build failed:\n{r.stdout}{r.stderr}']
    if check:
        for nb_path in nbs:
            if not (out/nb_path.stem/'index.html').exists(): problems.append(f'no page for {nb_path.name}')
        problems += [f'broken link in {b}' for b in broken_links(out)]
    size = sum(f.stat().st_size for f in out.rglob('*') if f.is_file())
    print(f'site: {out} ({len(nbs)} notebook pages, {len(api_nav)} API pages, {size / 2**20:.1f} MiB) '
          f'built in {time.time() - t0:.0f} s')
    return problems

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default=str(ROOT/'_docs'), help='folder of the built site (default _docs)')
    p.add_argument('--execute', action='store_true', help='execute every notebook, not only those without an executed copy')
    p.add_argument('--flags', default='', help='tst_flags whose cells run when executing (e.g. "slow")')
    p.add_argument('--no-check', action='store_true', help='skip the checks of the built site')
    a = p.parse_args(argv)
    problems = build(Path(a.out), a.execute, a.flags.split(), not a.no_check)
    for msg in problems: print(f'docs: {msg}', file=sys.stderr)
    return 1 if problems else 0

if __name__ == '__main__': sys.exit(main())
