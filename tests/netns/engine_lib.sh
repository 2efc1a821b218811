# Helpers for the engine tests (sourced after lib.sh).  One link between two test namespaces,
# made through tests/tools/enginedrive with the engine under test:
#   ENGINE=userlink (default on this kernel) or ENGINE=netem (inside User-Mode Linux).
# Addresses: a = 10.77.0.1/24, b = 10.77.0.2/24, on eth0 both sides; IPv6 off and the
# neighbours pinned (the engines give stable MACs), so the only frames on the link are the
# test's own: what makes "the same seed drops the same frames" checkable.
ENGINE=${ENGINE:-userlink}
EL_IP_A=10.77.0.1
EL_IP_B=10.77.0.2
EL_DRV=""   # driver pid
EL_N=0

# el_up ARGS...: make namespaces EL_A and EL_B and a link through ENGINE with ARGS.
# Returns non-zero (with the driver's stderr on ours) when the engine refused.
el_up() {
	EL_N=$((EL_N + 1))
	if [ -z "${EL_A:-}" ]; then
		t_netns EL_A a || return 1
		t_netns EL_B b || return 1
		local ns
		for ns in "$EL_A" "$EL_B"; do
			ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
				net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
		done
	fi
	EL_OUT="$T_TMP/drv$EL_N.out"
	EL_ERR="$T_TMP/drv$EL_N.err"
	mkfifo "$T_TMP/drv$EL_N.in"
	exec {EL_IN}<>"$T_TMP/drv$EL_N.in"
	"$TOOLS/enginedrive" --engine "$ENGINE" --ns-a "/run/netns/$EL_A" --ns-b "/run/netns/$EL_B" \
		"$@" <"$T_TMP/drv$EL_N.in" >"$EL_OUT" 2>"$EL_ERR" {EL_IN}>&- &
	EL_DRV=$!
	T_PIDS+=("$EL_DRV")
	if ! wait_for 30 el_ready || ! grep -q '^ready' "$EL_OUT"; then
		cat "$EL_ERR" >&2
		el_down
		return 1
	fi
	ip -n "$EL_A" addr add "$EL_IP_A/24" dev eth0 &&
	ip -n "$EL_B" addr add "$EL_IP_B/24" dev eth0 &&
	ip -n "$EL_A" link set eth0 up && ip -n "$EL_B" link set eth0 up &&
	ip -n "$EL_A" neigh replace "$EL_IP_B" lladdr 02:6c:63:00:00:02 dev eth0 nud permanent &&
	ip -n "$EL_B" neigh replace "$EL_IP_A" lladdr 02:6c:63:00:00:01 dev eth0 nud permanent
}

el_ready() {
	grep -q '^ready' "$EL_OUT" 2>/dev/null && return 0
	# The driver exited (refused): stop waiting.
	kill -0 "$EL_DRV" 2>/dev/null || return 0
	return 1
}

# el_cmd CMD: send a command to the driver and print its one-line answer.
el_cmd() {
	local before
	before=$(wc -l <"$EL_OUT")
	echo "$1" >&"$EL_IN"
	wait_for 5 el_more "$before" "$(case $1 in counters|stats) echo 2;; *) echo 1;; esac)" || return 1
	tail -n +"$((before + 1))" "$EL_OUT"
}
el_more() { [ "$(wc -l <"$EL_OUT")" -ge $(($1 + $2)) ]; }

# el_down: close the driver's stdin and wait for it (it removes the link as it leaves).
el_down() {
	[ -n "${EL_IN:-}" ] && exec {EL_IN}>&-
	[ -n "$EL_DRV" ] && wait "$EL_DRV" 2>/dev/null
	# A veth pair belongs to its namespaces, not to the driver: these namespaces outlive
	# it (ip netns add), so remove what is left for the next el_up.
	[ -n "${EL_A:-}" ] && ip -n "$EL_A" link del eth0 2>/dev/null
	EL_DRV=""
	EL_IN=""
}

# el_connect_us [TIMEOUT_MS]: one TCP connect a -> b:8080, timed by netprobe.
el_connect() {
	ip netns exec "$EL_A" "$TOOLS/netprobe" connect "$EL_IP_B" 8080 "${1:-3000}"
}

# el_listen: a listener on b:8080 (killed at exit).
el_listen() {
	# No copy of the driver's stdin may outlive el_down: close it in every child.
	ip netns exec "$EL_B" "$TOOLS/netprobe" listen 8080 >/dev/null {EL_IN}>&- &
	T_PIDS+=($!)
	wait_for 30 el_listening
}
el_listening() { ss -N "$EL_B" -ltn 2>/dev/null | grep -q ':8080 '; }

# median of numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print -1}'; }
