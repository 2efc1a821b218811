#!/bin/sh
# init.sh: PID 1 inside User-Mode Linux (see run.sh).  The UML kernel hands unknown
# KEY=VALUE boot parameters to init as environment: UML_REPO (the worktree), UML_OUT (a
# results directory on the host filesystem), UML_BUILD (a non-sanitizer build directory),
# UML_FILTER (regex of netns tests to run), UML_LABS (1: also every lab with --engine netem);
# UML_OUT/extra.sh, when present, runs last (bench/impair.sh uses it).
# UML's exit status carries nothing, so results go to files; "done" marks a complete run.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/net /dev/shm
mount -t tmpfs tmpfs /dev/shm 2>/dev/null
[ -e /dev/net/tun ] || mknod /dev/net/tun c 10 200
# The host's root is mounted here, /tmp included: keep our temporaries in UML's own tmpfs,
# unless the checkout itself lives under /tmp (a CI clone may), which the bind would hide.
case "$UML_REPO/" in
/tmp/*) ;;
*) mkdir -p /run/tmp && mount --bind /run/tmp /tmp ;;
esac
ln -sf /proc/self/fd /dev/fd 2>/dev/null

kv=$(uname -r)
mkdir -p /run/kmod/lib/modules
ln -s "/usr/lib/uml/modules/$kv" "/run/kmod/lib/modules/$kv"
{
	echo "# uml kernel $kv"
	modprobe -d /run/kmod -a veth tun bridge sch_netem 2>&1
	ip link set lo up
	cd "$UML_REPO" || exit 1
	export ENGINE=netem
	export LABCTL="$UML_REPO/$UML_BINDIR/labctl" LABCTL_AGENT="$UML_REPO/$UML_BINDIR/labctl-agent"
	export TEST_LOGDIR="$UML_OUT/logs"
	FILTER="${UML_FILTER:-t_engine_}" ONLY=netns bash tests/run.sh "$UML_BUILD"
	if [ "${UML_LABS:-1}" = 1 ]; then
		TEST_LOGDIR="$UML_OUT/labs" ONLY=labs bash tests/run.sh "$UML_BUILD"
	fi
	if [ -f "$UML_OUT/extra.sh" ]; then
		bash "$UML_OUT/extra.sh"
	fi
} >"$UML_OUT/console.log" 2>&1
echo done >"$UML_OUT/done"
sync
halt -f
