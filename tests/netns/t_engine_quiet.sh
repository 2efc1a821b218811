#!/usr/bin/env bash
# An idle lab is silent: on an IPv4-only lab nothing crosses a link until the lab sends
# something (no MLD or router solicitations from the hosts, no IGMP from the netem engine's
# wire bridge, no ARP thanks to the static neighbours).  Counted with ip -s on both ends.
# ENGINE=userlink|netem (inside UML).
source "$(dirname "$0")/lib.sh"
need_root
cat >"$T_TMP/idle.lab" <<'LAB'
lab idle
host a addr 10.0.0.1/24
host b addr 10.0.0.2/24
link a b delay 1ms
LAB
ID="lq-$T_SUFFIX"
ENG=${ENGINE:-userlink}
"$LABCTL" up "$T_TMP/idle.lab" --id "$ID" --no-steps --engine "$ENG" >/dev/null 2>"$T_TMP/up.err" &&
	T_LABS+=("$ID") || { not_ok "$ENG: idle lab came up ($(cat "$T_TMP/up.err"))"; t_done; }
sleep 3   # IGMP/MLD unsolicited reports go out within about a second of a device coming up
for h in a b; do
	n=$(ip -n "$ID-$h" -s link show eth0 | awk '/RX:/ {getline; rx=$2} /TX:/ {getline; tx=$2} END {print rx + tx}')
	check_eq "$ENG: host $h's eth0 sent and received nothing while the lab was idle for 3 s" "$n" 0 ||
		ip netns exec "$ID-$h" timeout 2 tcpdump -c 3 -n -e -i eth0 2>/dev/null | sed 's/^/#   /'
done
check "down" "$LABCTL" down "$ID"
t_done
