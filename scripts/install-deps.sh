#!/bin/sh
# Installs Dovetail's Debian packages: "build" (build and run) or "test"
# (build, run and every test). Daemons in the packages (MariaDB, Postfix,
# Dovecot) are kept from starting their system services: the tests start
# private instances of their own.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
what=${1:-build}
lists="$here/packages-build.txt"
[ "$what" = test ] && lists="$lists $here/packages-test.txt"
pkgs=$(cat $lists | sed 's/#.*//' | tr -s ' \n' ' ')

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: need root to install:$missing" >&2
	exit 1
fi
policy=/usr/sbin/policy-rc.d
own_policy=no
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=yes
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix: preseed debconf so the package installs unconfigured (no
# /etc/postfix/main.cf written for a system mailer); the tests run private
# instances with their own config directories. Only when postfix is about
# to be installed.
case " $missing " in
*" postfix "*)
	echo "postfix postfix/main_mailer_type select No configuration" |
		debconf-set-selections
	;;
esac
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
[ "$own_policy" = yes ] && rm -f "$policy"
exit 0
