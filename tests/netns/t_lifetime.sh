#!/usr/bin/env bash
# Lifetimes: labctl run holds its namespaces by fd only, so SIGKILL at any moment of build,
# run or teardown leaves nothing: no namespace (checked by inode against lsns and
# /run/netns), no device in the root namespace, no agent.  A killed `run --expose` has its
# binds removed by its reaper; a killed `up` supervisor is reported by ls and cleaned by down,
# which leaves alone a same-named namespace that is not the one labctl made.
source "$(dirname "$0")/lib.sh"
need_root
root_ino=$(stat -L -c %i /proc/self/ns/net)
root_links=$(ip -o link | wc -l)

# The namespaces a process holds, by inode (excluding the root namespace).
held_inodes() {
	local p=$1 f
	for f in /proc/"$p"/fd/*; do readlink "$f" 2>/dev/null; done |
		sed -n 's/^net:\[\([0-9]*\)\]$/\1/p' | grep -vx "$root_ino" | sort -u
}
# Inodes of namespaces still alive and still ours: a process of this lab (agents, capture and
# forwarder children all carry the lab id in their command line) or a bind named after it.
# Namespace inode numbers are recycled at once, so an inode alone could be someone else's.
live_inodes() {  # live_inodes ID
	{ lsns -t net -n -o NS,PID 2>/dev/null | while read -r ns pid; do
		tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | grep -q -- "$1" && echo "$ns"
	  done
	  for b in /run/netns/"$1"-*; do [ -e "$b" ] && stat -L -c %i "$b"; done
	} 2>/dev/null | sort -u
}

# settled ID INOS: nothing of lab ID (namespaces INOS, binds, devices, processes, registry) is left.
settled() {
	[ "$(comm -12 <(echo "$2") <(live_inodes "$1") | grep -c .)" = 0 ] &&
	[ "$(ls /run/netns 2>/dev/null | grep -c "^$1-")" = 0 ] &&
	[ "$(ip -o link | wc -l)" = "$root_links" ] &&
	[ "$(ps -eo args | grep -v grep | grep -c -- "$1")" = 0 ] &&
	[ "$(ls /run/labctl 2>/dev/null | grep -c "^$1")" = 0 ]
}

# kill_in PHASE EXTRA_ARGS...: start a run that stalls at PHASE (LABCTL_TEST_STALL; "run" is
# the lab's own wait step), SIGKILL it there, then check that nothing it made survives.
kill_in() {
	local phase=$1; shift
	local id="lk-$phase-$T_SUFFIX$#" pid inos leaked what out="$T_TMP/run-$phase$#.out"
	case $phase in
	build|unwind|teardown) what="labctl: stall $phase" ;;
	run) what="ok  *expect a ESTABLISHED" ;;
	esac
	LABCTL_TEST_STALL="$phase:5000" "$LABCTL" run tests/data/labs/wait-long.lab --id "$id" "$@" \
		>"$out" 2>&1 &
	pid=$!
	if ! wait_for 20 grep -q "$what" "$out"; then
		not_ok "labctl reached the $phase phase"; kill -9 "$pid"; return
	fi
	inos=$(held_inodes "$pid")
	nagents=$(ps -eo args | grep -v grep | grep -c -- "--host $id-")
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	# What labctl leaves goes away asynchronously: agents and forwarders die of their
	# PDEATHSIG, the reaper (for --expose) acts when it sees its parent gone, and the kernel
	# frees namespaces from a workqueue.  Give all of that up to 5 s on a loaded machine,
	# then check each part (a leak still fails: it never settles).
	wait_for 5 settled "$id" "$inos" || true
	leaked=$(comm -12 <(echo "$inos") <(live_inodes "$id") | grep -c .)
	check "labctl held the lab's namespaces when killed in $phase" test "$(echo "$inos" | grep -c .)" -ge 1
	check_eq "SIGKILL in $phase $* leaves none of its $(echo "$inos" | grep -c .) namespaces alive" "$leaked" 0
	check_eq "SIGKILL in $phase $* leaves no /run/netns entry" "$(ls /run/netns 2>/dev/null | grep -c "^$id-")" 0
	check_eq "SIGKILL in $phase $* leaves no device in the root namespace" "$(ip -o link | wc -l)" "$root_links"
	[ "$phase" = build ] || [ "$phase" = teardown ] || check "labctl had agents running when killed in $phase" test "$nagents" -ge 2
	check_eq "SIGKILL in $phase $* leaves no process of the lab" \
		"$(ps -eo args | grep -v grep | grep -c -- "$id")" 0
	check_eq "SIGKILL in $phase $* leaves no registry entry" "$(ls /run/labctl 2>/dev/null | grep -c "^$id")" 0
}

for phase in build run unwind teardown; do kill_in "$phase"; kill_in "$phase" --expose; done

# And at arbitrary moments, with no stall: the union of what it held must be gone.
for ms in 2 10 40 80 160 240; do
	id="lr$ms-$T_SUFFIX"
	"$LABCTL" run tests/data/labs/wait.lab --id "$id" >/dev/null 2>&1 &
	pid=$!
	inos=""; end=$((${EPOCHREALTIME/./} + ms * 1000))
	while [ "${EPOCHREALTIME/./}" -lt "$end" ]; do inos+=$'\n'$(held_inodes "$pid"); done
	kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	inos=$(echo "$inos" | grep . | sort -u)
	wait_for 5 settled "$id" "$inos" || true
	check_eq "SIGKILL at ${ms}ms leaves none of the $(echo "$inos" | grep -c .) namespaces seen alive" \
		"$(comm -12 <(echo "$inos") <(live_inodes "$id") | grep -c .)" 0
	check_eq "SIGKILL at ${ms}ms leaves no device in the root namespace" "$(ip -o link | wc -l)" "$root_links"
done

# A dead supervisor: ls says so, down removes what it left, and only that.
ID="ld-$T_SUFFIX"
"$LABCTL" up tests/data/labs/chain3.lab --id "$ID" --no-steps >/dev/null && T_LABS+=("$ID")
sup=$(awk '$1=="pid"{print $2}' /run/labctl/"$ID".lab-state)
kill -9 "$sup"
sup_dead() { local st; st=$(ps -o stat= -p "$sup" 2>/dev/null); [ -z "$st" ] || [ "${st#Z}" != "$st" ]; }
wait_for 5 sup_dead || true
check "labctl ls reports the dead supervisor" grep -q "^$ID  *DEAD" <("$LABCTL" ls 2>/dev/null)
check "the dead lab's namespaces are still bound" test -e "/run/netns/$ID-client"
check "other commands mention the dead lab" grep -q "lab $ID's supervisor (pid $sup) is gone" \
	<("$LABCTL" exec "$ID" client -- true 2>&1)
# Replace one bind by a foreign namespace of the same name: down must leave it alone.
ip netns del "$ID-router"; ip netns add "$ID-router"; T_NETNS+=("$ID-router")
out=$("$LABCTL" down "$ID" 2>&1); rc=$?
check_eq "down of a lab with a foreign namespace reports it (exit 2)" "$rc" 2
check "down says which namespace it left alone" grep -q "$ID-router is not the namespace labctl made" <<<"$out"
check "down removed the lab's own namespaces" bash -c "! test -e /run/netns/$ID-client && ! test -e /run/netns/$ID-server"
check "the foreign namespace of the same name is still there" test -e "/run/netns/$ID-router"
check "labctl ls no longer lists the lab" bash -c "! '$LABCTL' ls 2>/dev/null | grep -q '^$ID '"
t_done
