#!/bin/sh
# twohost.sh - the two-host test setup by hand (tests/twohost/twohost.py):
#   sh scripts/twohost.sh up            namespaces dt-dns, dt-mail1, dt-mail2,
#                                       DNS, test CA, both Dovetail instances
#   sh scripts/twohost.sh status        what is up, where configs and logs are
#   sh scripts/twohost.sh shell mail1   a shell inside dt-mail1 (MAIL_CONFIG set)
#   sh scripts/twohost.sh netem delay 200ms loss 10%   faults on both links
#   sh scripts/twohost.sh netem off     remove them
#   sh scripts/twohost.sh down          stop everything, remove namespaces
# Needs root. The build is $DOVETAIL_BUILD_DIR (default: the source tree's
# build/); state lives in $DOVETAIL_TWOHOST_DIR (default /tmp/dovetail-twohost).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
export DOVETAIL_SOURCE_DIR="${DOVETAIL_SOURCE_DIR:-$here}"
export DOVETAIL_BUILD_DIR="${DOVETAIL_BUILD_DIR:-$here/build}"
state="${DOVETAIL_TWOHOST_DIR:-/tmp/dovetail-twohost}"
py="$here/tests/twohost/twohost.py"
cmd="${1:-status}"
case "$cmd" in
up | down | status)
	exec python3 "$py" "$cmd"
	;;
netem)
	shift
	exec python3 "$py" netem "$@"
	;;
shell)
	host="${2:-mail1}"
	case "$host" in
	mail1 | mail2 | dns) ;;
	*)
		echo "twohost: shell mail1|mail2|dns" >&2
		exit 2
		;;
	esac
	ns="dt-$host"
	if [ "$host" = dns ]; then
		exec ip netns exec "$ns" sh
	fi
	exec ip netns exec "$ns" env MAIL_CONFIG="$state/$host/etc" \
		PATH="$DOVETAIL_BUILD_DIR/bin:$PATH" \
		PS1="[$host] \$ " sh
	;;
*)
	echo "usage: twohost.sh up|down|status|shell mail1|mail2|dns|netem ARGS|netem off" >&2
	exit 2
	;;
esac
