# states.sh (sourced after lib.sh): build two namespaces joined by a veth and put TCP sockets
# in every state, for t_ss.sh and for recording tests/data/diag.
#
#   A (client) 10.77.0.1 a0 <-veth-> b0 10.77.0.2 B (server)
#
# This kernel has neither sch_netem, sch_prio, act_gact nor the dummy device, so packets are
# dropped with a clsact u32 filter whose mirred action redirects them to a veth that is down
# (mirred drops what it cannot deliver).  Ports on B:
#   8080 ESTABLISHED pair          8081 SYN-ACKs dropped: B SYN_RECV, A SYN_SENT
#   8082 B->A dropped after the handshake; A shutdown, B close: A FIN_WAIT_1, B LAST_ACK
#   8083 both ways dropped, both shut down, then A->B let through: A FIN_WAIT_1, B CLOSING
#   8084 A shutdown: A FIN_WAIT_2, B CLOSE_WAIT    8085 A shutdown, B close: A TIME_WAIT
#   9090 on A's loopback over IPv6: LISTEN and an ESTABLISHED pair
# Sets NS_A, NS_B and starts the driver (coprocess DRV, pid in T_PIDS).

drv() {  # drv COMMAND...: send one command to the driver, fail unless it answers ok
	local reply
	echo "$*" >&"${DRV[1]}"
	read -r -t 10 reply <&"${DRV[0]}" || reply="err no answer"
	[ "$reply" = ok ] || { echo "# sockdrive: $* -> $reply" >&2; return 1; }
}

# drop_add NS DEV PRIO MATCH...: drop packets arriving on DEV that match the u32 MATCH.
# Drops happen on the receiver's ingress, as on a wire: a drop on the sender's own egress is
# reported back to its TCP as a local error (it then probes instead of retransmitting).
drop_add() {
	local ns=$1 dev=$2 prio=$3; shift 3
	tc -n "$ns" filter add dev "$dev" ingress prio "$prio" protocol ip u32 "$@" \
		action mirred egress redirect dev sink0
}
drop_del() { tc -n "$1" filter del dev "$2" ingress prio "$3"; }

# ss_has N NS SS_FILTER...: ss (not labctl) counts exactly N sockets matching the filter.
ss_has() { local n=$1 ns=$2; shift 2; [ "$(ss -tanH -N "$ns" "$@" | wc -l)" = "$n" ]; }

states_build() {
	t_netns NS_A client || return 1
	t_netns NS_B server || return 1
	ip link add a0 netns "$NS_A" type veth peer name b0 netns "$NS_B" || return 1
	ip -n "$NS_A" addr add 10.77.0.1/24 dev a0
	ip -n "$NS_B" addr add 10.77.0.2/24 dev b0
	ip -n "$NS_A" link set a0 up
	ip -n "$NS_B" link set b0 up
	local ns
	for ns in "$NS_A" "$NS_B"; do
		ip -n "$ns" link add sink0 type veth peer name sink1 || return 1
		tc -n "$ns" qdisc add dev lo clsact 2>/dev/null
	done
	tc -n "$NS_A" qdisc add dev a0 clsact || return 1
	tc -n "$NS_B" qdisc add dev b0 clsact || return 1
	wait_for 5 eval "ip -n \"$NS_A\" link show a0 | grep -q LOWER_UP" || return 1

	coproc DRV { exec python3 "$(dirname "${BASH_SOURCE[0]}")/sockdrive.py" 2>&1; }
	T_PIDS+=("$DRV_PID")
	local p
	for p in 8080 8081 8082 8083 8084 8085; do drv listen L$p "$NS_B" 10.77.0.2 $p || return 1; done

	drv connect e1 "$NS_A" 10.77.0.2 8080 && drv wait e1 && drv accept e1s L8080 || return 1

	drop_add "$NS_A" a0 1 match ip sport 8081 0xffff || return 1
	drv connect s1 "$NS_A" 10.77.0.2 8081 || return 1

	drv connect f1 "$NS_A" 10.77.0.2 8082 && drv wait f1 && drv accept f1s L8082 || return 1
	drop_add "$NS_A" a0 2 match ip sport 8082 0xffff || return 1
	drv shutdown f1 || return 1
	wait_for 5 ss_has 1 "$NS_B" state close-wait sport = :8082 || return 1
	drv close f1s || return 1

	drv connect g1 "$NS_A" 10.77.0.2 8083 && drv wait g1 && drv accept g1s L8083 || return 1
	drop_add "$NS_A" a0 3 match ip sport 8083 0xffff || return 1
	drop_add "$NS_B" b0 3 match ip dport 8083 0xffff || return 1
	drv shutdown g1 && drv shutdown g1s || return 1
	drop_del "$NS_B" b0 3 || return 1
	# A's next FIN retransmission reaches B, whose own FIN is still unacknowledged.
	wait_for 10 ss_has 1 "$NS_B" state closing || return 1

	drv connect h1 "$NS_A" 10.77.0.2 8084 && drv wait h1 && drv accept h1s L8084 || return 1
	drv shutdown h1 || return 1

	drv connect t1 "$NS_A" 10.77.0.2 8085 && drv wait t1 && drv accept t1s L8085 || return 1
	drv shutdown t1 && drv close t1s || return 1

	drv listen L9090 "$NS_A" ::1 9090 && drv connect v1 "$NS_A" ::1 9090 && drv wait v1 &&
		drv accept v1s L9090 || return 1

	wait_for 5 ss_has 1 "$NS_A" state time-wait || return 1
	wait_for 5 ss_has 1 "$NS_A" state fin-wait-2 || return 1
	wait_for 5 ss_has 1 "$NS_B" state syn-recv || return 1
	wait_for 5 ss_has 1 "$NS_B" state last-ack || return 1
}
