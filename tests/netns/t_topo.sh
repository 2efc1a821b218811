#!/usr/bin/env bash
# The topology labctl builds, checked with ip (an independent tool): namespaces, device names,
# addresses, routes, sysctls, forwarding; TCP across a 3-host chain through a router; up, ls,
# exec, down; nothing left behind.
source "$(dirname "$0")/lib.sh"
need_root
LAB=tests/data/labs/chain3.lab
ID="tt-$T_SUFFIX"

out=$("$LABCTL" up "$LAB" --id "$ID" --no-steps 2>&1); rc=$?
check_eq "labctl up exits 0" "$rc" 0
check_eq "labctl up prints the id" "$out" "$ID"
T_LABS+=("$ID")

for h in client router server; do
	check "namespace $ID-$h is listed by ip netns" grep -qx "$ID-$h\( .*\)\?" <(ip netns list)
	check "lo is up in $h" grep -q 'UP' <(ip -n "$ID-$h" -o link show lo)
done
addrs() { ip -n "$ID-$1" -o addr show dev "$2" | awk '{print $4}' | grep -v '^fe80' | sort | tr '\n' ' '; }
check_eq "router eth0 addresses" "$(addrs router eth0)" "10.0.1.254/24 fd00:1::fe/64 "
check_eq "router eth1 addresses" "$(addrs router eth1)" "10.0.2.254/24 fd00:2::fe/64 "
check_eq "server's link is named eth7 as the lab says" "$(addrs server eth7)" "10.0.2.1/24 fd00:2::1/64 "
check_eq "client addresses" "$(addrs client eth0)" "10.0.1.1/24 fd00:1::1/64 "
check "client routes 10.0.2.0/24 via the router" \
	grep -q '^10.0.2.0/24 via 10.0.1.254 dev eth0' <(ip -n "$ID-client" route)
check "server routes fd00:1::/64 via the router" \
	grep -q '^fd00:1::/64 via fd00:2::fe dev eth7' <(ip -n "$ID-server" -6 route)
check "no host has a default route out of the lab" \
	bash -c "! ip -n $ID-client route | grep -q default && ! ip -n $ID-server route | grep -q default"
check_eq "sysctl written inside the server" \
	"$(ip netns exec "$ID-server" cat /proc/sys/net/ipv4/tcp_fin_timeout)" 7
check_eq "host's sysctl left the root namespace alone" \
	"$([ "$(cat /proc/sys/net/ipv4/tcp_fin_timeout)" != 7 ] && echo ok)" ok
check_eq "router forwards" "$(ip netns exec "$ID-router" cat /proc/sys/net/ipv4/ip_forward)" 1
check_eq "client does not forward" "$(ip netns exec "$ID-client" cat /proc/sys/net/ipv4/ip_forward)" 0
check_eq "labctl exec runs inside the host" \
	"$("$LABCTL" exec "$ID" server -- cat /proc/sys/net/ipv4/tcp_fin_timeout)" 7
check_eq "labctl exec: /sys/class/net lists the host's devices (as ip -n does)" \
	"$("$LABCTL" exec "$ID" server -- ls /sys/class/net | sort | tr '\n' ' ')" \
	"$(ip -n "$ID-server" -o link | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort | tr '\n' ' ')"
check "labctl exec leaves the caller's /sys alone" \
	bash -c "! ls /sys/class/net | grep -qx eth7 || ip -o link | grep -q ': eth7[:@]'"

# TCP across the router, with an independent peer.
ip netns exec "$ID-server" "$TOOLS/tcpprobe" listen 7000 2 >"$T_TMP/listen.out" &
T_PIDS+=($!)
wait_for 5 grep -q listening "$T_TMP/listen.out"
check "TCP over IPv4 from client to server through the router" \
	ip netns exec "$ID-client" "$TOOLS/tcpprobe" connect 10.0.2.1 7000 2000
check "TCP over IPv6 from client to server through the router" \
	ip netns exec "$ID-client" "$TOOLS/tcpprobe" connect fd00:2::1 7000 2000

# chain3 impairs nothing, yet an up lab's links can be impaired later: auto chose an engine
# that can (a run of the same lab gets plain veth).  150 ms each way: a connect takes 300 ms.
check "labctl impair on an up lab built without impairments" \
	"$LABCTL" impair "$ID" client router delay 150ms
ip netns exec "$ID-server" "$TOOLS/tcpprobe" listen 7001 1 >"$T_TMP/listen2.out" &
lp=$!
T_PIDS+=($lp)
wait_for 5 grep -q listening "$T_TMP/listen2.out"
r=$(ip netns exec "$ID-client" "$TOOLS/tcpprobe" connect 10.0.2.1 7001 3000)
wait_for 5 bash -c "! kill -0 $lp 2>/dev/null"   # it ends when the client's FIN arrives
check "the impaired connect takes 300-600 ms (got '$r')" \
	awk '$1 == "connected" && $2 >= 295 && $2 < 600 { ok = 1 } END { exit !ok }' <<<"$r"
check "labctl impair clear on that link" "$LABCTL" impair "$ID" client router clear
out=$("$LABCTL" run "$LAB" --id "tr-$T_SUFFIX" 2>&1)
check "a run of a lab that impairs nothing uses plain veth, no probe" \
	grep -q 'engine veth: the lab impairs no link' <<<"$out"

check "labctl ls lists the lab as running" grep -q "^$ID  *running" <("$LABCTL" ls)
check "labctl ls --json lists the lab" grep -q "\"id\":\"$ID\",\"status\":\"running\"" <("$LABCTL" ls --json)
err=$("$LABCTL" exec "$ID" clinet -- true 2>&1)
check "exec on an unknown host suggests the close name" grep -q 'did you mean client' <<<"$err"

check "labctl down exits 0" "$LABCTL" down "$ID"
check_eq "no namespace of the lab is left" "$(ip netns list | grep -c "^$ID-")" 0
check "labctl ls no longer lists it" bash -c "! '$LABCTL' ls | grep -q '^$ID '"

# A netlink failure carries the kernel's extack text and names the namespace.
err=$("$LABCTL" run tests/data/labs/badgw.lab --id "bg-$T_SUFFIX" 2>&1); rc=$?
check_eq "a route the kernel refuses exits 2" "$rc" 2
check "the error shows the kernel's extack message" grep -q 'kernel: Nexthop has invalid gateway' <<<"$err"
check "the error names the namespace" grep -q "namespace bg-$T_SUFFIX-client" <<<"$err"
check "the error gives the lab file position" grep -q 'badgw.lab:7:1:' <<<"$err"
check_eq "the failed build left no namespace" "$(ip netns list | grep -c "^bg-$T_SUFFIX")" 0

# A supervisor that ran its steps keeps the lab; labctl impair changes a link under it.
U="tu-$T_SUFFIX"
( cd "$T_TMP" && "$LABCTL" up "$OLDPWD/labs/handshake.lab" --id "$U" >/dev/null ) && T_LABS+=("$U")
sleep 1.5
check "a lab whose steps ran is still running" grep -q "^$U  *running" <("$LABCTL" ls)
check "impair: a partition (loss 100%)" "$LABCTL" impair "$U" client server loss 100%
r=$(ip netns exec "$U-client" "$TOOLS/tcpprobe" connect 10.0.0.2 8080 700)
check_eq "during the partition a connect times out" "$r" timeout
check "impair: heal (clear)" "$LABCTL" impair "$U" client server clear
r=$(ip netns exec "$U-client" "$TOOLS/tcpprobe" connect 10.0.0.2 8080 2000)
check "after healing a connect succeeds" grep -q '^connected' <<<"$r"
err=$("$LABCTL" impair "$U" client server dealy 5ms 2>&1); rc=$?
check_eq "impair with a typo exits 2" "$rc" 2
check "impair suggests the key" grep -q 'unknown key "dealy"; did you mean delay?' <<<"$err"
check "down of the lab with steps" "$LABCTL" down "$U"
t_done
