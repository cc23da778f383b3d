#!/usr/bin/env bash
# bootstrap.sh - sourced by the other scripts: a virtualenv in .venv with koppel installed.
# Re-running is cheap: pip is only called again when a pyproject.toml changed.
set -euo pipefail
KOPPEL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${KOPPEL_VENV:-$KOPPEL_ROOT/.venv}
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
    echo "[bootstrap] creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi
editable=(-e "$KOPPEL_ROOT[test]")
stamp="$VENV/.koppel-installed"
# scripts/test sets KOPPEL_BOOTSTRAP_CONTRIB=1: the outside plugin in contrib/ is installed from
# its folder, as a plugin author's would be, in the same pip run (one resolution, one build set-up).
if [ "${KOPPEL_BOOTSTRAP_CONTRIB:-0}" = 1 ]; then
    editable+=(-e "$KOPPEL_ROOT/contrib/koppel-oneroster")
    stamp="$stamp-contrib"
fi
if [ ! -f "$stamp" ] || [ "$KOPPEL_ROOT/pyproject.toml" -nt "$stamp" ] \
    || [ "$KOPPEL_ROOT/contrib/koppel-oneroster/pyproject.toml" -nt "$stamp" ]; then
    echo "[bootstrap] installing koppel and its dependencies" >&2
    # (this machine's pip config names local indexes that may be absent: hide those warnings)
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${editable[@]}" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
