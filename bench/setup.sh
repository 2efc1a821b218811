#!/usr/bin/env bash
# bench/setup: build and tear down (a) a 2-host lab with one link and (b) a 50-host chain,
# with labctl (libnl, namespaces held by fd) and with a shell script of `ip` commands doing
# the same (namespaces, veth pairs, addresses, links up, lo up; no black-hole sink: labctl
# makes one only in labs that flood),
# in the same run.  Prints the median of REPS runs each and the ratio labctl/script.
# Target: labctl at most 0.2x the script's time.  Timings never fail anything.
set -u
cd "$(dirname "$0")/.."
LABCTL=${LABCTL:-./labctl/labctl}
REPS=${REPS:-5}
TMP=$(mktemp -d /tmp/labctl-bench.XXXXXX)
SUF=$(printf '%04x' $RANDOM)
cleanup() { for n in $(ip netns list | awk '{print $1}' | grep "^bs$SUF-"); do ip netns del "$n"; done; rm -rf "$TMP"; }
trap cleanup EXIT

gen_lab() {  # gen_lab N: a chain of N hosts
	local n=$1 i
	echo "lab chain$n"
	for ((i = 1; i <= n; i++)); do
		local a=""
		((i > 1)) && a+=" addr 10.$(((i - 1) / 250)).$(((i - 1) % 250)).2/24"
		((i < n)) && a+=" addr 10.$((i / 250)).$((i % 250)).1/24"
		echo "host h$i$a"
	done
	for ((i = 1; i < n; i++)); do echo "link h$i h$((i + 1))"; done
}
gen_script() {  # gen_script N: the same topology with ip commands
	local n=$1 i p="bs$SUF"
	for ((i = 1; i <= n; i++)); do echo "ip netns add $p-h$i"; echo "ip -n $p-h$i link set lo up"; done
	for ((i = 1; i < n; i++)); do
		local j=$((i + 1)) d1=eth0 d2=eth0
		((i > 1)) && d1=eth1
		echo "ip -n $p-h$i link add $d1 type veth peer name $d2 netns $p-h$j"
		echo "ip -n $p-h$i addr add 10.$((i / 250)).$((i % 250)).1/24 dev $d1"
		echo "ip -n $p-h$j addr add 10.$((i / 250)).$((i % 250)).2/24 dev $d2"
		echo "ip -n $p-h$i link set $d1 up"
		echo "ip -n $p-h$j link set $d2 up"
	done
	for ((i = 1; i <= n; i++)); do echo "ip netns del $p-h$i"; done
}
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-14s %12s %12s %8s\n' topology labctl_ms ip_script_ms ratio
for n in 2 50; do
	gen_lab "$n" >"$TMP/chain$n.lab"
	gen_script "$n" >"$TMP/chain$n.sh"
	"$LABCTL" check -q "$TMP/chain$n.lab" >/dev/null || { echo "lab invalid"; exit 1; }
	lt=() st=()
	for ((r = 0; r < REPS; r++)); do
		t0=$(now); "$LABCTL" run -q "$TMP/chain$n.lab" >/dev/null || echo "labctl run failed"
		t1=$(now); bash -e "$TMP/chain$n.sh" || echo "script failed"
		t2=$(now)
		lt+=($(((t1 - t0) / 1000))); st+=($(((t2 - t1) / 1000)))
	done
	l=$(printf '%s\n' "${lt[@]}" | median); s=$(printf '%s\n' "${st[@]}" | median)
	awk -v n="$n-host" -v l="$l" -v s="$s" \
		'BEGIN { printf "%-14s %12.1f %12.1f %8.3f\n", n, l / 1000, s / 1000, l / s }'
done
