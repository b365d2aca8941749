# Shell functions shared by scripts/demo.sh and scripts/test.sh.

# searchable DIR: true when every directory from DIR up to / can be
# searched by other users. Dovetail's daemons and several tests run as
# unprivileged users (dovetail, vmail, nobody) that must reach the build
# and the instance directories; a checkout under /root or inside a
# mktemp -d directory (mode 0700) is out of their reach.
searchable() {
	_d=$1
	while [ "$_d" != / ]; do
		[ "$(stat -c %A "$_d" | cut -c10)" = x ] || return 1
		_d=$(dirname "$_d")
	done
}
