#!/usr/bin/env bash
set -euo pipefail
DEMO_DIR=${DEMO_DIR:-.demo}
python -m jasmin_access.samples "$DEMO_DIR/nemo"
