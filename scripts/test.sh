#!/bin/sh
# Installs everything the tests need (Debian 12, as root), builds Dovetail
# in build-test/ and runs every test; the last line is ctest's summary.
# Extra arguments go to ctest (e.g. -L imap).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/install-deps.sh test
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo >build-test.log 2>&1 ||
	{ cat build-test.log; exit 1; }
make -C build-test -j"$jobs" >>build-test.log 2>&1 ||
	{ tail -n 60 build-test.log; exit 1; }
cd build-test
exec ctest --output-on-failure --timeout 600 "$@"
