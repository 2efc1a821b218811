#!/usr/bin/env bash
# tests/uml/run.sh [BUILD_DIR]: the netem engine's tests inside User-Mode Linux, whose kernel
# has sch_netem (this machine's has not).  Boots the UML kernel on the host's own root
# filesystem (hostfs) with tests/uml/init.sh as init, which loads veth, tun, bridge and
# sch_netem, runs the engine tests (tests/netns/t_engine_*) and every lab with ENGINE=netem,
# and writes the results to a directory here.  Prints TAP lines ("ok - uml: ..."); prints
# one "ok - ... # SKIP why" line when UML cannot run.
#
# ASan cannot run inside UML (its shadow memory range collides with UML's process layout:
# "Shadow memory range interleaves with an existing memory mapping"), so UML runs the plain
# build (build/rel, made here when missing) whatever BUILD_DIR says.
# Environment: UML_TIMEOUT (seconds, default 600), UML_FILTER (netns tests, default
# t_engine_), UML_LABS=0 to skip the labs, UML_EXTRA (a shell command run inside, last).
set -u
cd "$(dirname "$0")/../.."
REPO=$PWD

skip() { echo "ok - uml: $* # SKIP"; exit 0; }

UML=$(command -v linux.uml || command -v linux || true)
[ -n "$UML" ] && [ -x "$UML" ] || skip "linux.uml not found (make deps installs user-mode-linux)"
command -v modprobe >/dev/null || skip "modprobe not found (make deps installs kmod)"
MODROOT=/usr/lib/uml/modules
kv=$(ls "$MODROOT" 2>/dev/null | head -1)
[ -n "$kv" ] && [ -e "$MODROOT/$kv/kernel/net/sched/sch_netem.ko" ] ||
	[ -n "$(find "$MODROOT/$kv" -name 'sch_netem.ko*' 2>/dev/null)" ] ||
	skip "no sch_netem module under $MODROOT (user-mode-linux package incomplete?)"
[ "$(id -u)" = 0 ] || skip "needs root (the tests inside make namespaces)"

BUILD=build/rel
BINDIR=build/rel
[ -x labctl/labctl ] && BINDIR=labctl
if [ ! -x "$BUILD/tools/enginedrive" ] || [ ! -x labctl/labctl ]; then
	echo "# building the non-sanitizer copy for UML (make all)"
	make --no-print-directory all >/dev/null 2>&1 || { echo "not ok - uml: make all failed"; exit 1; }
fi
# tests/run.sh reads LABCTL from OUT/labctl; the plain build keeps labctl in labctl/.
mkdir -p "$BUILD"
ln -sf "$REPO/labctl/labctl" "$BUILD/labctl"
ln -sf "$REPO/agents/labctl-agent" "$BUILD/labctl-agent"

OUT=$(mktemp -d "$REPO/build/uml-run.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
# The kernel command line splits at spaces: a command travels as a file.
[ -n "${UML_EXTRA:-}" ] && printf '%s\n' "$UML_EXTRA" >"$OUT/extra.sh"
t0=$SECONDS
timeout "${UML_TIMEOUT:-600}" "$UML" mem=512M root=/dev/root rootfstype=hostfs rootflags=/ rw \
	init="$REPO/tests/uml/init.sh" con=null con0=fd:0,fd:1 \
	UML_REPO="$REPO" UML_OUT="$OUT" UML_BUILD="$BUILD" UML_BINDIR="$BUILD" \
	UML_FILTER="${UML_FILTER:-t_engine_}" UML_LABS="${UML_LABS:-1}" \
	</dev/null >"$OUT/uml-boot.log" 2>&1
rc=$?
echo "# UML ran $((SECONDS - t0)) s (kernel $kv, exit $rc)"
if [ ! -e "$OUT/done" ]; then
	echo "not ok - uml: the run inside UML did not finish (timeout or crash, exit $rc)"
	tail -n 20 "$OUT/uml-boot.log" | sed 's/^/# boot: /'
	[ -f "$OUT/console.log" ] && tail -n 30 "$OUT/console.log" | sed 's/^/# /'
	exit 1
fi
sed 's/^/# /' "$OUT/console.log"
n=0
for log in "$OUT"/logs/*.log "$OUT"/labs/*.log; do
	[ -f "$log" ] || continue
	grep -E '^(not )?ok( |$)' "$log" | sed -E 's/^(not )?ok( - )?/&uml: /'
	n=$((n + 1))
done
[ $n -gt 0 ] || { echo "not ok - uml: no test logs came back"; exit 1; }
[ -n "${UML_KEEP:-}" ] && { cp -r "$OUT" "$UML_KEEP"; }
exit 0
