#!/usr/bin/env bash
# Rootless labs (issue 15): `labctl run` as an unprivileged user (nobody, no capabilities)
# with LABCTL_ROOTLESS=1 makes one user namespace per lab that maps the caller to root, and
# every namespace of the lab inside it.  Checked from outside, as root: the lab's processes
# are the caller's uid, live in a user namespace that is not the host's, no device appears
# in the host's namespace, and a SIGKILL at any moment leaves no namespace and no process.
# The build and the labs are copied into a world-readable directory: the checkout's parents
# may be closed to nobody (CI runs from a fresh clone).
source "$(dirname "$0")/lib.sh"
need_root
RL_UID=65534
cd "$(dirname "$0")/../.."
if [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null)" = 0 ] ||
   ! setpriv --reuid=$RL_UID --regid=$RL_UID --clear-groups --inh-caps=-all unshare -Urn true 2>/dev/null; then
	skip "this kernel does not let nobody make user namespaces"
	exit 0
fi
chmod 755 "$T_TMP"
RL="$T_TMP/rl"
mkdir -p "$RL/cap" "$RL/t" "$RL/tmp"
cp "$LABCTL" "$RL/labctl"
cp "$LABCTL_AGENT" "$RL/labctl-agent"
cp -r labs "$RL/labs"
cp tests/data/labs/wait.lab tests/data/labs/wait-long.lab "$RL/t/"
cp tests/labs-wrong/handshake-passive-time-wait.lab "$RL/t/wrong.lab"
cat >"$RL/t/prog.lab" <<'EOF'
# A program on an impaired link, for a look from outside while it runs.
lab rlprog
host a addr 10.0.0.1/24
host b addr 10.0.0.2/24
link a b delay 1ms
b start nap -- sleep 31.25
b listen :80
a connect b:80
expect a ESTABLISHED within 2s
wait 4s
EOF
chmod -R a+rX "$RL"
chmod 777 "$RL/cap"
chmod 1777 "$RL/tmp"   # TMPDIR of the rootless runs: their programs' logs stay in ours
# The run directories (the cache) too: tests/run.sh points XDG_CACHE_HOME at its own log
# directory, which nobody cannot write.
mkdir -p "$RL/cache" && chmod 1777 "$RL/cache" && export XDG_CACHE_HOME="$RL/cache"
# rl ARGS...: labctl as nobody, no capabilities, rootless asked for, from a directory it owns.
rl() {
	(cd "$RL/cap" && setpriv --reuid=$RL_UID --regid=$RL_UID --clear-groups --inh-caps=-all \
		env TMPDIR="$RL/tmp" LABCTL_ROOTLESS=1 LABCTL_AGENT="$RL/labctl-agent" ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
		"$RL/labctl" "$@")
}
host_links=$(ip -o link | awk -F': ' '{print $2}' | sort | tr '\n' ' ')
init_user=$(readlink /proc/self/ns/user)
init_net=$(readlink /proc/self/ns/net)

# Refused when asked (LABCTL_ROOTLESS=0), and the message says how to do without root.
out=$(cd "$RL/cap" && LABCTL_ROOTLESS=0 setpriv --reuid=$RL_UID --regid=$RL_UID --clear-groups \
	--inh-caps=-all "$RL/labctl" run "$RL/t/wait.lab" 2>&1); rc=$?
check_eq "with LABCTL_ROOTLESS=0 a non-root run exits 2" "$rc" 2
check "... and the refusal names LABCTL_ROOTLESS" grep -q 'LABCTL_ROOTLESS=0' <<<"$out"
# Rootless by default: no variable at all.
out=$(cd "$RL/cap" && env -u LABCTL_ROOTLESS TMPDIR="$RL/tmp" LABCTL_AGENT="$RL/labctl-agent" \
	setpriv --reuid=$RL_UID --regid=$RL_UID --clear-groups --inh-caps=-all \
	"$RL/labctl" run "$RL/t/wait.lab" 2>&1); rc=$?
check_eq "without the variable, a non-root run is rootless and passes" "$rc" 0 || echo "$out" | tail -5 | sed 's/^/# /'


out=$(rl run "$RL/t/wait.lab" 2>&1); rc=$?
check_eq "a lab that impairs nothing runs rootless (veth engine)" "$rc" 0 || echo "$out" | sed 's/^/# /'
check "... on the veth engine" grep -q 'engine veth' <<<"$out"

out=$(rl run --capture "$RL/cap/hs" "$RL/labs/handshake.lab" 2>&1); rc=$?
check_eq "handshake.lab (a delayed link) passes rootless" "$rc" 0 || echo "$out" | sed 's/^/# /'
check "... on the packet-socket engine (no /dev/net/tun for nobody)" grep -q 'pktlink' <<<"$out"
check_eq "... its captures belong to the caller outside" \
	"$(stat -c %u "$RL"/cap/hs/*-client-eth0.pcap 2>/dev/null | sort -u)" "$RL_UID"
check "... and hold the handshake (tcpdump reads SYN, SYN+ACK, FIN)" \
	bash -c "tcpdump -nr $RL/cap/hs/*-client-eth0.pcap 2>/dev/null | grep -c 'Flags \[\(S\|S\.\|F\.\)\]' | grep -qx '[3-9]'"

out=$(rl run "$RL/labs/lossy-transfer.lab" 2>&1); rc=$?
check_eq "lossy-transfer.lab (seeded loss, counters) passes rootless" "$rc" 0 || echo "$out" | sed 's/^/# /'
check "... with the forwarder's counters" grep -q 'pktlink engine.s counters' <<<"$out"

out=$(rl run "$RL/t/wrong.lab" 2>&1); rc=$?
check_eq "a wrong lab exits 1 rootless" "$rc" 1

out=$(rl run --low-latency "$RL/t/wait.lab" 2>&1); rc=$?
check_eq "--low-latency rootless is refused with exit 2" "$rc" 2
check "... naming /dev/cpu_dma_latency" grep -q 'cpu_dma_latency' <<<"$out"
out=$(rl run --expose "$RL/t/wait.lab" 2>&1); rc=$?
check_eq "--expose rootless is refused with exit 2" "$rc" 2

# A look from outside while a lab with a program and an agent runs.
id="rlp-$T_SUFFIX"
rl run --id "$id" "$RL/t/prog.lab" >"$T_TMP/prog.out" 2>&1 &
bg=$!
T_PIDS+=("$bg")
if wait_for 20 grep -q 'ok  *expect a ESTABLISHED' "$T_TMP/prog.out"; then
	prog=$(pgrep -f '^sleep 31.25$' | head -1)
	agent=$(pgrep -f -- "--host $id-b" | head -1)
	check "the program runs" test -n "$prog"
	check "an agent runs" test -n "$agent"
	check_eq "outside, the program is the caller's uid" "$(ps -o uid= -p "$prog" | tr -d ' ')" "$RL_UID"
	check_eq "outside, the agent is the caller's uid" "$(ps -o uid= -p "$agent" | tr -d ' ')" "$RL_UID"
	check_eq "inside the lab's user namespace, the program is uid 0 (the caller, mapped)" \
		"$(nsenter -t "$prog" -U --preserve-credentials awk '/^Uid:/ {print $2}' /proc/"$prog"/status)" 0
	check "the program's user namespace is not the host's" test "$(readlink /proc/"$prog"/ns/user)" != "$init_user"
	check_eq "the lab's user namespace maps the caller to 0, and nothing else" \
		"$(awk '{print $1, $2, $3}' /proc/"$agent"/uid_map)" "0 $RL_UID 1"
	check "the agent's network namespace is not the host's" test "$(readlink /proc/"$agent"/ns/net)" != "$init_net"
	check "nsenter into the agent's namespace finds the lab's eth0 at 10.0.0.2" \
		bash -c "nsenter -t $agent -n ip -br addr show eth0 | grep -q 10.0.0.2/24"
	check "ss inside sees the established connection" \
		bash -c "nsenter -t $agent -n ss -Htn state established | grep -q 10.0.0.2:80"
	check_eq "no device appeared in the host's namespace" \
		"$(ip -o link | awk -F': ' '{print $2}' | sort | tr '\n' ' ')" "$host_links"
	check "the program's PID namespace shows it as one of few processes" \
		test "$(nsenter -t "$prog" -p -r ps -e 2>/dev/null | wc -l)" -le 5
else
	not_ok "the program lab reached its expectations"; sed 's/^/# /' "$T_TMP/prog.out"
fi
wait "$bg"; rc=$?
check_eq "the program lab passes" "$rc" 0 || sed 's/^/# /' "$T_TMP/prog.out"

# SIGKILL: nothing of the lab survives: no process in its user namespace (found by inode
# from the rootless child's /proc entry), none carrying its id, none of the network
# namespaces it held alive, no device in the host.
in_userns() { local p n=0; for p in /proc/[0-9]*; do [ "$(stat -L -c %i "$p/ns/user" 2>/dev/null)" = "$1" ] && n=$((n + 1)); done; echo $n; }
net_held() {  # the network namespaces (inodes) pid $1 holds by fd or lives in
	{ stat -L -c %i /proc/"$1"/ns/net; for f in /proc/"$1"/fd/*; do readlink "$f"; done |
		sed -n 's/^net:\[\([0-9]*\)\]$/\1/p'; } 2>/dev/null | sort -u
}
net_alive() { lsns -t net -n -o NS 2>/dev/null | sort -u; }
settled() {
	{ [ -z "$2" ] || [ "$(in_userns "$2")" = 0 ]; } &&
	[ "$(ps -eo args | grep -v grep | grep -c -- "$1")" = 0 ] &&
	[ "$(comm -12 <(echo "$3") <(net_alive) | grep -c .)" = 0 ] &&
	[ "$(ip -o link | awk -F': ' '{print $2}' | sort | tr '\n' ' ')" = "$host_links" ]
}
kill_at() {  # kill_at WHAT LAB [STALL]: SIGKILL the rootless run when WHAT shows in its log
	local what=$1 lab=$2 out="$T_TMP/k.$RANDOM" pid child uns="" nets="" id="rlk$RANDOM-$T_SUFFIX"
	( cd "$RL/cap" && exec setpriv --reuid=$RL_UID --regid=$RL_UID --clear-groups --inh-caps=-all \
		env TMPDIR="$RL/tmp" LABCTL_ROOTLESS=1 LABCTL_AGENT="$RL/labctl-agent" LABCTL_TEST_STALL="${3:-}" \
		"$RL/labctl" run --id "$id" "$lab" ) >"$out" 2>&1 &
	pid=$!
	if [ "$what" = now ] || wait_for 20 grep -q "$what" "$out"; then
		[ "$what" = now ] && sleep "0.0$((RANDOM % 9 + 1))"
		child=$(pgrep -P "$pid" | head -1)
		if [ -n "$child" ]; then
			uns=$(stat -L -c %i /proc/"$child"/ns/user 2>/dev/null)
			nets=$(net_held "$child")
		fi
		kill -9 "$pid"; wait "$pid" 2>/dev/null
		wait_for 10 settled "$id" "$uns" "$nets" || true
		local label="SIGKILL at '$what${3:+ $3}' ($(echo "$nets" | grep -c .) network namespaces held)"
		[ "$what" = now ] || check "$label: the lab had its user namespace" test -n "$uns" -a "$uns" != "$(stat -L -c %i /proc/self/ns/user)"
		check_eq "$label leaves no process in the lab's user namespace" "$([ -n "$uns" ] && in_userns "$uns" || echo 0)" 0
		check_eq "... no process of the lab" "$(ps -eo args | grep -v grep | grep -c -- "$id")" 0
		check_eq "... none of its network namespaces" "$(comm -12 <(echo "$nets") <(net_alive) | grep -c .)" 0
		check_eq "... no device in the host" "$(ip -o link | awk -F': ' '{print $2}' | sort | tr '\n' ' ')" "$host_links"
	else
		not_ok "the rootless run reached '$what'"; kill -9 "$pid"; sed 's/^/# /' "$out"
	fi
}
kill_at 'ok  *expect a ESTABLISHED' "$RL/t/wait-long.lab"
kill_at 'ok  *expect a ESTABLISHED' "$RL/t/prog.lab"
kill_at 'labctl: stall build' "$RL/t/wait-long.lab" build:5000
kill_at 'labctl: stall teardown' "$RL/labs/handshake.lab" teardown:5000
for i in 1 2 3; do kill_at now "$RL/labs/handshake.lab"; done

# Up labs rootless: state in the caller's runtime directory, no /run/netns, exec/ss/impair/
# step/expect through the supervisor, invisible to another user, nothing left by a SIGKILL.
XDG="$T_TMP/xdg"; mkdir -m 700 "$XDG"; chown $RL_UID:$RL_UID "$XDG"
rlx() { (cd "$RL/cap" && setpriv --reuid="$1" --regid="$1" --clear-groups --inh-caps=-all \
	env TMPDIR="$RL/tmp" XDG_RUNTIME_DIR="$2" LABCTL_ROOTLESS=1 LABCTL_AGENT="$RL/labctl-agent" \
	ASAN_OPTIONS="${ASAN_OPTIONS:-}" "$RL/labctl" "${@:3}"); }
uid="rlu-$T_SUFFIX"
out=$(rlx $RL_UID "$XDG" up --id "$uid" "$RL/labs/handshake.lab" 2>&1); rc=$?
check_eq "labctl up rootless exits 0" "$rc" 0 || echo "$out" | sed 's/^/# /'
check "... its state is in \$XDG_RUNTIME_DIR/labctl" test -S "$XDG/labctl/$uid.sock" -a -f "$XDG/labctl/$uid.lab-state"
check_eq "... a directory only the caller may enter" "$(stat -c '%a %u' "$XDG/labctl")" "700 $RL_UID"
check "... labctl ls lists it as running" bash -c "$(declare -f rlx); RL='$RL' RL_UID=$RL_UID; rlx $RL_UID '$XDG' ls | grep -q '^$uid  *running'"
sup=$(awk '$1 == "pid" {print $2}' "$XDG/labctl/$uid.lab-state")
check_eq "outside, the supervisor is the caller's uid" "$(ps -o uid= -p "$sup" | tr -d ' ')" "$RL_UID"
check "... in a user namespace of its own" test "$(readlink /proc/"$sup"/ns/user)" != "$init_user"
check_eq "no /run/netns entry for it" "$(ls /run/netns 2>/dev/null | grep -c "^$uid-")" 0
check_eq "no device appeared in the host's namespace" \
	"$(ip -o link | awk -F': ' '{print $2}' | sort | tr '\n' ' ')" "$host_links"
check_eq "labctl exec joins the lab's user namespace: uid 0 there" \
	"$(rlx $RL_UID "$XDG" exec "$uid" server -- id -u 2>&1)" 0
check "labctl exec runs in the host's namespace (eth0 10.0.0.2, its own /sys)" \
	bash -c "$(declare -f rlx); RL='$RL' RL_UID=$RL_UID; rlx $RL_UID '$XDG' exec $uid server -- sh -c 'ip -br addr show eth0; ls /sys/class/net' | tr '\n' ' ' | grep -q '10.0.0.2/24.*eth0 lo'"
check "labctl ss sees the listener" \
	bash -c "$(declare -f rlx); RL='$RL' RL_UID=$RL_UID; rlx $RL_UID '$XDG' ss $uid server | grep -q 'LISTEN.*:8080'"
check "labctl watch polls the host's sockets" \
	bash -c "$(declare -f rlx); RL='$RL' RL_UID=$RL_UID; rlx $RL_UID '$XDG' watch $uid server --for 300ms | grep -q 'LISTEN'"
check "labctl impair changes a link (pktlink)" \
	bash -c "$(declare -f rlx); RL='$RL' RL_UID=$RL_UID; rlx $RL_UID '$XDG' impair $uid client server delay 5ms | grep -q pktlink"
out=$(rlx $RL_UID "$XDG" step "$uid" 'client connect server:8080' 2>&1); rc=$?
check_eq "labctl step connects" "$rc" 0 || echo "$out" | sed 's/^/# /'
out=$(rlx $RL_UID "$XDG" expect "$uid" 'client ESTABLISHED within 2s' 2>&1); rc=$?
check_eq "labctl expect holds" "$rc" 0 || echo "$out" | sed 's/^/# /'
out=$(rlx $RL_UID "$XDG" expect "$uid" 'client CLOSE_WAIT within 100ms' 2>&1); rc=$?
check_eq "a wrong labctl expect exits 1" "$rc" 1
OTHER=12345
OXDG="$T_TMP/oxdg"; mkdir -m 700 "$OXDG"; chown $OTHER:$OTHER "$OXDG"
check_eq "another user's labctl ls lists none of it" "$(rlx $OTHER "$OXDG" ls 2>&1 | grep -c "$uid")" 0
rlx $OTHER "$OXDG" down "$uid" >/dev/null 2>&1; rc=$?
check_eq "another user cannot take it down" "$rc" 2
rlx $OTHER "$OXDG" exec "$uid" server -- true >/dev/null 2>&1; rc=$?
check_eq "another user cannot exec into it" "$rc" 2
check_eq "... not even pointed at the caller's directory" "$(rlx $OTHER "$XDG" ls 2>&1 | grep -c "$uid")" 0
check "... and the lab is still running" bash -c "$(declare -f rlx); RL='$RL' RL_UID=$RL_UID; rlx $RL_UID '$XDG' ls | grep -q '^$uid  *running'"
uns=$(stat -L -c %i /proc/"$sup"/ns/user)
nets=$(net_held "$sup")
out=$(rlx $RL_UID "$XDG" down "$uid" 2>&1); rc=$?
check_eq "labctl down rootless exits 0" "$rc" 0 || echo "$out" | sed 's/^/# /'
wait_for 10 settled "$uid" "$uns" "$nets" || true
check_eq "... nothing is left in its user namespace" "$(in_userns "$uns")" 0
check_eq "... none of its network namespaces" "$(comm -12 <(echo "$nets") <(net_alive) | grep -c .)" 0
check_eq "... no state" "$(ls "$XDG/labctl" | grep -c "$uid")" 0

uid="rlk-$T_SUFFIX"
rlx $RL_UID "" up --id "$uid" "$RL/labs/handshake.lab" >/dev/null 2>&1
check "without \$XDG_RUNTIME_DIR the state is in /tmp/labctl-UID (mode 700)" \
	test "$(stat -c '%a %u' /tmp/labctl-$RL_UID 2>/dev/null)" = "700 $RL_UID" -a -f /tmp/labctl-$RL_UID/"$uid".lab-state
sup=$(awk '$1 == "pid" {print $2}' /tmp/labctl-$RL_UID/"$uid".lab-state 2>/dev/null)
if [ -n "$sup" ]; then
	uns=$(stat -L -c %i /proc/"$sup"/ns/user); nets=$(net_held "$sup")
	kill -9 "$sup"
	wait_for 10 settled "$uid" "$uns" "$nets" || true
	check_eq "SIGKILL of a rootless supervisor leaves nothing in its user namespace" "$(in_userns "$uns")" 0
	check_eq "... none of its network namespaces" "$(comm -12 <(echo "$nets") <(net_alive) | grep -c .)" 0
	check "... ls says it is dead" bash -c "$(declare -f rlx); RL='$RL' RL_UID=$RL_UID; rlx $RL_UID '' ls 2>/dev/null | grep -q '^$uid  *DEAD'"
	rlx $RL_UID "" down "$uid" >/dev/null 2>&1; rc=$?
	check_eq "... down removes what it left" "$rc:$(ls /tmp/labctl-$RL_UID | grep -c "$uid")" "0:0"
	rmdir /tmp/labctl-$RL_UID 2>/dev/null   # only when nothing else of the user's is there
else
	not_ok "labctl up without XDG_RUNTIME_DIR"
fi

# The whole catalogue, when asked (about a minute with the sanitizer build).
if [ "${ROOTLESS_ALL:-0}" = 1 ]; then
	out=$(rl run -q "$RL/labs" 2>&1); rc=$?
	check_eq "every lab of the catalogue passes rootless" "$rc" 0 || grep -E 'FAIL|ERROR' <<<"$out" | sed 's/^/# /'
fi
t_done
