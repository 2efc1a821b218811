#!/usr/bin/env bash
# tests/flaky.sh [LAB...]: run every lab N times on one engine and print a table of pass
# counts, to find labs whose verdict depends on timing.  Not part of `make check` (a full
# run of 20 takes ~15 minutes); issue 7 wants 20/20 for every lab on both engines.
#
#   N=20             runs per lab
#   ENGINE=userlink  the engine (auto|netem|userlink); tests/uml/ runs this with netem
#   OBSERVER=auto    where the timeline comes from (auto|events|poll)
#   LABCTL=...       the labctl binary (default build/san/labctl, else labctl/labctl)
#   KEEP=DIR         keep the output of every failed run in DIR (default: a fresh temp dir,
#                    printed at the end when something failed)
#
# Labs default to labs/*.lab.  A run counts as passed only when labctl exits 0.  Exit status:
# 0 when every run passed, 1 otherwise.  Runs are sequential on purpose: the labs measure
# time (sub-RTT states, RTO timers), and two labs at once on two cores would test the
# machine's load, not the lab.
set -u
cd "$(dirname "$0")/.."
N=${N:-20}
ENGINE=${ENGINE:-userlink}
OBSERVER=${OBSERVER:-auto}
if [ -z "${LABCTL:-}" ]; then
	if [ -x build/san/labctl ]; then LABCTL=build/san/labctl; else LABCTL=labctl/labctl; fi
fi
[ -x "$LABCTL" ] || { echo "flaky.sh: no labctl binary at $LABCTL (run make)" >&2; exit 2; }
LABCTL=$(realpath "$LABCTL")
[ "$(id -u)" = 0 ] || { echo "flaky.sh: needs root (labctl run builds namespaces)" >&2; exit 2; }
case $N in ''|*[!0-9]*) echo "flaky.sh: N must be a number, got \"$N\"" >&2; exit 2;; esac

labs=("$@")
[ ${#labs[@]} -gt 0 ] || labs=(labs/*.lab)
KEEP=${KEEP:-$(mktemp -d /tmp/labctl-flaky.XXXXXX)}
mkdir -p "$KEEP"
log=$(mktemp /tmp/labctl-flaky-run.XXXXXX)
# Each run works in an empty directory: a lab's `capture` writes its pcaps to the current
# directory; they are kept (next to the log) only for failed runs.
wd=$(mktemp -d /tmp/labctl-flaky-wd.XXXXXX)
# The runs' own directories (labctl run's default $XDG_CACHE_HOME/labctl/runs): ours, not the
# caller's cache (inside UML, HOME is / and the cache would be the host's /.cache).
cache=$(mktemp -d /tmp/labctl-flaky-cache.XXXXXX)
export XDG_CACHE_HOME=$cache
trap 'rm -f "$log"; rm -rf "$wd" "$cache"' EXIT

keep() {
	cp "$log" "$KEEP/$1.log"
	for p in "$wd"/*.pcap; do [ -e "$p" ] && cp "$p" "$KEEP/$1.$(basename "$p")"; done
}

echo "flaky: $N runs per lab, engine $ENGINE, observer $OBSERVER, $LABCTL"
printf '%-24s %7s %5s %5s %8s %8s\n' lab pass fail error "mean s" "max s"
total_fail=0 t_start=$SECONDS
for f in "${labs[@]}"; do
	name=$(basename "$f" .lab)
	if [ "$ENGINE" = netem ] && grep -qE '^[[:space:]]*drop[[:space:]]' "$f"; then
		printf '%-24s %7s   (drop rules need the userlink engine)\n' "$name" skip; continue
	fi
	labpath=$(realpath "$f")
	pass=0 fail=0 err=0 sum_ms=0 max_ms=0
	for ((i = 1; i <= N; i++)); do
		t0=$(date +%s%N)
		rm -f "$wd"/*
		(cd "$wd" && exec "$LABCTL" run --engine "$ENGINE" --observer "$OBSERVER" "$labpath") >"$log" 2>&1; rc=$?
		ms=$((($(date +%s%N) - t0) / 1000000))
		sum_ms=$((sum_ms + ms)); [ $ms -gt $max_ms ] && max_ms=$ms
		case $rc in
		0) pass=$((pass + 1));;
		1) fail=$((fail + 1)); keep "$name.$i.fail";;
		*) err=$((err + 1)); keep "$name.$i.exit$rc";;
		esac
	done
	total_fail=$((total_fail + fail + err))
	awk -v n="$name" -v p=$pass -v N="$N" -v f=$fail -v e=$err -v s=$sum_ms -v m=$max_ms \
		'BEGIN { printf "%-24s %4d/%-2d %5d %5d %8.2f %8.2f\n", n, p, N, f, e, s / N / 1000, m / 1000 }'
done
echo "flaky: $((SECONDS - t_start))s in all; $total_fail failed runs"
if [ $total_fail -gt 0 ]; then
	echo "flaky: logs of the failed runs in $KEEP"
	exit 1
fi
rmdir "$KEEP" 2>/dev/null
exit 0
