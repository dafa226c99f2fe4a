#!/usr/bin/env bash
# Edit a notebook as text: `jupytext --to py:percent -o /tmp/20_tsdf.py nbs/20_tsdf.ipynb`, edit the .py, then
#   tools/py2nb.sh /tmp/20_tsdf.py [more.py ...]
# writes nbs/<name>.ipynb with stable cell ids (so re-conversion does not churn the diff), cleans it, and re-exports
# the library. The notebook stays the source of truth; the .py is only a way to edit it.
set -euo pipefail
cd "$(dirname "$0")/.."
for src in "$@"; do
  n=$(basename "$src" .py)
  jupytext --to ipynb -q -o "nbs/$n.ipynb" "$src"
  python - "nbs/$n.ipynb" <<'PY'
import hashlib, json, sys
p = sys.argv[1]; nb = json.load(open(p))
for i, c in enumerate(nb['cells']): c['id'] = hashlib.sha1(f'{p}:{i}'.encode()).hexdigest()[:8]
json.dump(nb, open(p, 'w'), indent=1, ensure_ascii=False); open(p, 'a').write('\n')
PY
  nbdev-clean --fname "nbs/$n.ipynb" >/dev/null
done
nbdev-export
