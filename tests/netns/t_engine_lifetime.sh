#!/usr/bin/env bash
# Engines leave nothing behind: killing the process that made a link (SIGKILL, no cleanup)
# takes the link's devices and the userlink forwarder with it; and the engine choice is
# explained (auto) or refused with what to do (netem where the kernel has none).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/engine_lib.sh"
need_root

el_up --both delay=1ms || { not_ok "$ENGINE: link came up"; t_done; }
kids=$(ps -o pid= --ppid "$EL_DRV" | tr -d ' ')
if [ "$ENGINE" = userlink ]; then
	# The forwarder keeps its TAPs and control socket, not the runner's namespaces.
	nsfds=0
	for k in $kids; do nsfds=$((nsfds + $(ls -l /proc/"$k"/fd 2>/dev/null | grep -c 'net:\['))); done
	check_eq "userlink: the forwarder holds no namespace fds" "$nsfds" 0
fi
ip -n "$EL_A" link show eth0 >/dev/null 2>&1 && ok "$ENGINE: eth0 exists in a" || not_ok "$ENGINE: eth0 exists in a"
kill -9 "$EL_DRV"
wait "$EL_DRV" 2>/dev/null
gone() { ! ip -n "$EL_A" link show eth0 >/dev/null 2>&1 && ! ip -n "$EL_B" link show eth0 >/dev/null 2>&1; }
if wait_for 5 gone; then ok "$ENGINE: SIGKILL of the owner removes both ends"
else not_ok "$ENGINE: SIGKILL of the owner removes both ends"; fi
# Gone, or a zombie waiting for init to reap it: either way it no longer runs.  The kernel
# closes a dying process's files (and so its TAPs) before it becomes a zombie, so the devices
# can vanish while the forwarder is still in exit: allow it the same 5 s to finish dying.
running() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null); [ -n "$st" ] && [ "${st#Z}" = "$st" ]; }
alive_kids() { alive=""; for k in $kids; do running "$k" && alive="$alive $k"; done; }
none_alive() { alive_kids; [ -z "$alive" ]; }
wait_for 5 none_alive
alive_kids
check_eq "$ENGINE: no forwarder outlives its owner" "$alive" ""
exec {EL_IN}>&-; EL_DRV=""

# What auto says on this kernel, checked against the kernel itself (tc).
tc_ok=no
ip netns exec "$EL_A" tc qdisc add dev lo root netem delay 1ms 2>/dev/null && tc_ok=yes
ip netns exec "$EL_A" tc qdisc del dev lo root 2>/dev/null
ENGINE=auto el_up --both delay=1ms || not_ok "auto: link came up"
why=$(grep '^engine:' "$EL_OUT")
el_down
if [ $tc_ok = yes ]; then
	case "$why" in *"netem: this kernel has sch_netem"*) ok "auto picks netem where tc can ($why)";;
		*) not_ok "auto picks netem where tc can (got: $why)";; esac
else
	case "$why" in *"userlink: this kernel has no sch_netem"*) ok "auto picks userlink where tc cannot ($why)";;
		*) not_ok "auto picks userlink where tc cannot (got: $why)";; esac
	if ENGINE=netem el_up --both delay=1ms 2>/dev/null; then
		not_ok "netem refused on a kernel without it"; el_down
	else
		grep -q "modprobe sch_netem" "$EL_ERR" && grep -q "engine userlink" "$EL_ERR" &&
			ok "netem refused with what to do: $(cat "$EL_ERR")" ||
			not_ok "netem refused with what to do (got: $(cat "$EL_ERR"))"
	fi
fi
t_done
