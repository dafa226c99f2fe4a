"""No import circle inside thesis_recon: the package's imports of its own modules, read statically (ast), form no cycle.

Every import counts, at module level and inside functions alike: a function-level import only postpones a circle to
the first call, and hides a dependency from the reader."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT/'thesis_recon'

# Circles being removed by the issue that owns them; each entry must name that issue. Empty when there is none.
KNOWN_CIRCLES: dict[frozenset, str] = {}   # none: a circle found here is a failure


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imported_modules(path: Path, modules: set) -> dict[str, int]:
    "The package's modules that `path` imports (anywhere in the file), each with the line of its first import."
    found = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for t in targets(node, path, modules): found.setdefault(t, node.lineno)
    return found


def targets(node, path: Path, modules: set) -> list[str]:
    "The package modules one import statement of `path` imports."
    name = module_name(path)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    if isinstance(node, ast.Import): names = [a.name for a in node.names]
    else:
        if node.level:
            base = package.split('.')[:len(package.split('.')) - (node.level - 1)]
            source = '.'.join(base + ([node.module] if node.module else []))
        else: source = node.module or ''
        # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod
        names = [f'{source}.{a.name}' if f'{source}.{a.name}' in modules else source for a in node.names]
    out = []
    for t in names:
        while t and t not in modules: t = t.rpartition('.')[0]
        if t and t != name and t not in out: out.append(t)
    return out


def import_graph() -> dict[str, dict[str, int]]:
    files = {module_name(p): p for p in PKG.rglob('*.py')}
    return {m: imported_modules(p, set(files)) for m, p in files.items()}


def circles(graph) -> list[list[str]]:
    "One cycle (as a path a -> b -> ... -> a) per strongly connected component with more than one module (Tarjan)."
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
        for w in graph[v]:
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop(); on.discard(w); comp.add(w)
                if w == v: break
            if len(comp) > 1: comps.append(comp)
    for v in sorted(graph):
        if v not in index: visit(v)
    out = []
    for comp in comps:       # a shortest cycle through the component's first module, by breadth-first search
        start = min(comp); prev, frontier = {start: None}, [start]
        while frontier:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v]):
                    if w == start and v != start:
                        path = [v]
                        while prev[path[-1]] is not None: path.append(prev[path[-1]])
                        out.append([start] + path[::-1][1:] + [start]); frontier = nxt = []; break
                    if w in comp and w not in prev: prev[w] = v; nxt.append(w)
                if not frontier: break
            frontier = nxt
    return out


def describe(cycle, graph) -> str:
    return ' -> '.join(f'{a} (line {graph[a][b]})' for a, b in zip(cycle, cycle[1:])) + f' -> {cycle[-1]}'


def test_the_walker_sees_circles_and_both_kinds_of_import(tmp_path):
    pkg = tmp_path/'thesis_recon'; (pkg/'sub').mkdir(parents=True)
    (pkg/'__init__.py').write_text(''); (pkg/'sub'/'__init__.py').write_text('')
    (pkg/'a.py').write_text('from .b import f\n')
    (pkg/'b.py').write_text('def f():\n    from thesis_recon.sub import c\n')   # function level counts
    (pkg/'sub'/'c.py').write_text('from .. import a\nimport numpy\n')
    (pkg/'d.py').write_text('from thesis_recon.a import f\n')                  # into the circle, not part of it
    files = {'.'.join(p.relative_to(tmp_path).with_suffix('').parts).removesuffix('.__init__'): p for p in pkg.rglob('*.py')}
    graph = {m: {t: 1 for t in imported_modules_at(p, set(files), tmp_path)} for m, p in files.items()}
    assert graph['thesis_recon.sub.c'] == {'thesis_recon.a': 1} and graph['thesis_recon.b'] == {'thesis_recon.sub.c': 1}
    assert circles(graph) == [['thesis_recon.a', 'thesis_recon.b', 'thesis_recon.sub.c', 'thesis_recon.a']]
    del graph['thesis_recon.b']['thesis_recon.sub.c']
    assert circles(graph) == []
    assert function_level_imports_at(pkg/'b.py', set(files), tmp_path) == [(2, 'thesis_recon.sub.c')]
    assert function_level_imports_at(pkg/'a.py', set(files), tmp_path) == []


def _at(fn, root, *args):
    "`fn(*args)` for a package rooted at `root` (the test's toy package)."
    global ROOT
    old, ROOT = ROOT, root
    try: return fn(*args)
    finally: ROOT = old

def imported_modules_at(path, modules, root): return _at(imported_modules, root, path, modules)
def function_level_imports_at(path, modules, root): return _at(function_level_imports, root, path, modules)


def test_no_import_circle_in_the_package():
    graph = import_graph()
    assert len(graph) > 40 and 'thesis_recon.core' in graph['thesis_recon.kernels']
    found = circles(graph)
    for c in found: print('circle:', describe(c, graph), '(known)' if frozenset(c) in KNOWN_CIRCLES else '')
    new = [c for c in found if frozenset(c) not in KNOWN_CIRCLES]
    assert not new, 'import circles inside thesis_recon:\n' + '\n'.join(describe(c, graph) for c in new)


# Where function-level imports of the package's own modules still stand (issue 25 moves them to module level stage by
# stage): the learned subpackages and the modules of the training/config/weights/thesis-data half. Everything else
# imports the package's modules at module level, so that a reader sees a module's dependencies at its top.
NOT_YET = ()   # every module imports the package's modules at module level, the light ones apart   # configs_dir imports the package itself, only to find its folder

# The one exception (99_cli, the conventions): a command's light module imports the module that works (torch) inside
# its main, after the arguments and the config are checked, so that --help and argument errors answer at once. In
# these modules a function may import package modules if one of its imports says why ('# lazy' on its line).
# `weights` is the registry of import-weights kinds: its table loads without torch (the trainer's writer comes lazily).
LIGHT_CLIS = ('thesis_recon.seg2d.cli', 'thesis_recon.srn.cli', 'thesis_recon.nets3d.cli', 'thesis_recon.experiments.thesis',
              'thesis_recon.experiments.cli',
              'thesis_recon.pcm.cli', 'thesis_recon.weights',
              'thesis_recon.svr.cli', 'thesis_recon.svr.convert', 'thesis_recon.svr.serve')   # the last two: TensorFlow
# A package __init__ that hands out a heavy attribute lazily (module __getattr__), with its comment.
LAZY_INIT = ('thesis_recon.srn',)


def function_level_imports(path: Path, modules: set) -> list[tuple[int, str]]:
    "(line, module) of every import of a package module (not the package itself) inside a function of `path`."
    found, seen = [], set()
    for fn in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)): continue
        for node in ast.walk(fn):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in seen:
                seen.add(id(node))
                found += [(node.lineno, t) for t in targets(node, path, modules) if t != 'thesis_recon']
    return found


def uncommented_lazy_imports(path: Path, modules: set) -> list[tuple[int, str]]:
    "Function-level package imports of `path` in functions none of whose imports carries a '# lazy' comment."
    text = path.read_text(); lines = text.splitlines()
    found = []
    for fn in ast.walk(ast.parse(text, str(path))):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)): continue
        imports = [n for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))]
        if any('# lazy' in lines[n.lineno - 1] for n in imports): continue
        found += [(n.lineno, t) for n in imports for t in targets(n, path, modules) if t != 'thesis_recon']
    return found

def test_the_package_modules_are_imported_at_module_level():
    files = {module_name(p): p for p in PKG.rglob('*.py')}
    def found(m):
        if m in LAZY_INIT: return []
        if m in LIGHT_CLIS: return uncommented_lazy_imports(files[m], set(files))
        return function_level_imports(files[m], set(files))
    bad = [f'{files[m].relative_to(ROOT)}:{line}: imports {t} inside a function'
           for m in sorted(files) if not m.startswith(NOT_YET) for line, t in found(m)]
    assert not bad, '\n'.join(bad)
    assert uncommented_lazy_imports(PKG/'seg2d'/'cli.py', set(files)) == [] and function_level_imports(PKG/'seg2d'/'cli.py', set(files))
    assert function_level_imports(PKG/'kernels.py', set(files)) == []    # `import thesis_recon` (the package) is not counted


def test_a_lazy_import_in_a_light_cli_must_say_so(tmp_path):
    pkg = tmp_path/'thesis_recon'; pkg.mkdir()
    (pkg/'__init__.py').write_text(''); (pkg/'work.py').write_text('')
    (pkg/'cli.py').write_text('def a():\n    from thesis_recon import work   # lazy: torch\n'
                              'def b():\n    import json\n    from thesis_recon import work\n')
    files = {'thesis_recon', 'thesis_recon.work', 'thesis_recon.cli'}
    assert _at(uncommented_lazy_imports, tmp_path, pkg/'cli.py', files) == [(5, 'thesis_recon.work')]


def test_the_light_modules_load_no_framework():
    "Importing a light module (the command modules, the kinds registry, core, config, cli) loads no torch, TensorFlow, CuPy or Ray."
    import json, subprocess, sys
    light = sorted(set(LIGHT_CLIS) | {'thesis_recon', 'thesis_recon.core', 'thesis_recon.cli', 'thesis_recon.config',
                                      'thesis_recon.weights_cli'})
    probe = ('import importlib, json, sys\nout = {}\n'
             f'for m in {light!r}:\n'
             '    importlib.import_module(m)\n'
             '    out[m] = sorted(h for h in ("torch", "tensorflow", "keras", "cupy", "ray") if h in sys.modules)\n'
             'print(json.dumps(out))')
    res = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    heavy = {m: h for m, h in json.loads(res.stdout.strip().splitlines()[-1]).items() if h}
    assert not heavy, f'light modules that load a framework (the first one named is the culprit): {heavy}'
