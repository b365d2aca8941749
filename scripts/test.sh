#!/bin/sh
# Installs everything the tests need (Debian 12, as root), builds Dovetail
# in build-test/ (or under /var/tmp when the checkout is out of reach of
# unprivileged users) and runs every test; the last line is ctest's summary.
# Extra arguments go to ctest (e.g. -L imap).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/install-deps.sh test
. scripts/common.sh
# Tests run programs of the build as unprivileged users (sendmail as nobody,
# lmtpd as vmail, ...): build where they can reach it.
if searchable "$top"; then
	build=$top/build-test
else
	build=/var/tmp/dovetail-build-test.$(printf %s "$top" | md5sum | cut -c1-8)
	echo "test.sh: $top is not searchable by other users; building in $build"
fi
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.log" 2>&1 ||
	{ cat "$build.log"; exit 1; }
make -C "$build" -j"$jobs" >>"$build.log" 2>&1 ||
	{ tail -n 60 "$build.log"; exit 1; }
cd "$build"
exec ctest --output-on-failure --timeout 600 "$@"
