#!/usr/bin/env bash
# Debian and npm packages the test suite needs (servers it starts, FUSE, a browser).
# Idempotent: installs only what is missing. Run as root (CI is root); `.ci/run` calls it.
# Each feature that needs a system package adds one `need` line below.
set -euo pipefail

missing=()
need() {  # need PACKAGE [COMMAND-OR-FILE-THAT-PROVES-IT]
    local pkg=$1 probe=${2:-$1}
    if [[ $probe == /* ]]; then [[ -e $probe ]] && return 0
    else command -v "$probe" >/dev/null 2>&1 && return 0; fi
    missing+=("$pkg")
}

# --- Debian packages -------------------------------------------------------------------------
need nodejs node                 # Azurite (Azure Blob emulator) for the az:// backend tests
need npm
need fuse3 fusermount3                            # datastore mount (FUSE, read-only)
need libfuse3-3 /usr/share/doc/libfuse3-3         # the library mfusepy loads
need chromium                                     # catalog: index.html in a headless browser

need nco ncks          # real-file corpus: 64-bit offset/CDF5, packed int16, record slicing
need cdo               # real-file corpus: files split across a year boundary

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "system-deps: missing Debian packages: ${missing[*]} (run as root: sudo $0)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- npm packages (after Node.js is installed above) -----------------------------------------
npm_need() {  # npm_need PACKAGE COMMAND
    command -v "$2" >/dev/null 2>&1 && return 0
    npm install -g --no-audit --no-fund --loglevel=error "$1" >/dev/null
}
npm_need azurite azurite-blob    # Azure Blob emulator for the az:// backend tests
