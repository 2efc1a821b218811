#!/usr/bin/env bash
# bench/uml/connrate.sh: bench/connrate.sh inside User-Mode Linux, for hosts where the agent
# cannot raise RLIMIT_NOFILE past a low hard limit (a container without CAP_SYS_RESOURCE caps
# one agent at that many connections).  Inside UML we are root of our own kernel, so the
# agents hold 100k connections.  UML is slow (every syscall is a trap): its cycles/s and
# open times say nothing about the real machine; RSS per connection does.
#   bench/uml/connrate.sh            CONNS=100000 UML_MEM=8G UML_TIMEOUT=1000
# Prints connrate's lines and the tail of the UML kernel log (to show any TCP limit hit).
set -u
cd "$(dirname "$0")/../.."
UML=$(command -v linux.uml || command -v linux || true)
[ -x "$UML" ] || { echo "uml/connrate: linux.uml not found (make deps)"; exit 2; }
[ "$(id -u)" = 0 ] || { echo "uml/connrate: needs root"; exit 2; }
make --no-print-directory all >/dev/null || exit 2
T=$(mktemp -d /tmp/uml-connrate.XXXXXX)
trap 'rm -rf "$T"' EXIT
cat >"$T/init.sh" <<INIT
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t tmpfs tmpfs /run; mkdir -p /run/netns
mkdir -p /run/kmod/lib/modules; ln -s /usr/lib/uml/modules/\$(uname -r) /run/kmod/lib/modules/\$(uname -r)
modprobe -d /run/kmod -a veth
ulimit -Hn 1048576; ulimit -n 1048576
# UML sizes TCP's memory and orphan limits from its small RAM: lift them for 100k sockets
sysctl -qw net.ipv4.tcp_mem="3000000 4000000 5000000" net.ipv4.tcp_max_orphans=262144
cd "$PWD"
{ echo "uml: kernel \$(uname -r), RLIMIT_NOFILE \$(ulimit -n)"
  CONNS=${CONNS:-100000} N=500 RUNS=1 bash bench/connrate.sh 2>&1
  echo "uml kernel log:"; dmesg | tail -5; } >"$T/out.txt" 2>&1
halt -f
INIT
chmod +x "$T/init.sh"
timeout "${UML_TIMEOUT:-1000}" "$UML" mem="${UML_MEM:-8G}" root=/dev/root rootfstype=hostfs \
	rootflags=/ rw init="$T/init.sh" con=null con0=fd:0,fd:1 </dev/null >"$T/console.txt" 2>&1
cat "$T/out.txt" 2>/dev/null || { echo "uml/connrate: no result; console:"; tail -5 "$T/console.txt"; exit 1; }
