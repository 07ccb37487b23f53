#!/usr/bin/env bash
# The demo behind `make demo`: a small NEMO-like run, converted into the embedded local store
# (no server needed), listed, summarised and opened lazily with xarray.
set -euo pipefail
DEMO_DIR=${DEMO_DIR:-.demo}
STORE=s3://demo/ORCA1_test_1d.zarr
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Writing 6 months of daily NEMO-like grid_T files (uneven 29-31 steps per file)"
rm -rf "$DEMO_DIR/nemo"
python -m jasmin_access.samples "$DEMO_DIR/nemo" --months 6 --frequency 1d

step "2. Converting them into one Zarr store in the embedded local store"
jasmin-access convert "$DEMO_DIR/nemo/*_grid_T.nc" "$STORE" --overwrite --verify

step "3. Listing the bucket like a directory"
jasmin-access ls -l -h s3://demo/

step "4. Disk usage: a Zarr store counts as one unit"
jasmin-access du -h s3://demo/

step "5. Dataset summary"
jasmin-access info "$STORE"

step "6. Opening it lazily with xarray and reading a subset"
python - "$STORE" <<'PY'
import sys
import jasmin_access as ja

ds = ja.open_dataset(sys.argv[1], time=("1976-02", "1976-03"), bbox=(-60, 20, 0, 60))
print(ds)
sst = ds["tos"].mean(("y", "x")).compute()
print("\nNorth Atlantic box, mean sea-surface temperature, first days of February 1976:")
for t, v in zip(sst["time_counter"].values[:5], sst.values[:5]):
    print(f"  {str(t)[:10]}  {float(v):6.2f} degC")
PY
step "Done. Try: .venv/bin/jasmin-access --help   (store root: ${JASMIN_ACCESS_HOME:-~/.local/share/jasmin-access/store})"
