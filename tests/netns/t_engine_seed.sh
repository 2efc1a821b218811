#!/usr/bin/env bash
# userlink: two runs with the same seed drop the same frames; a different seed drops others.
# 400 numbered UDP datagrams cross a 30%-loss link a->b; the receiver (netprobe, a plain
# socket) lists which arrived.  IPv6 is off and neighbours are pinned, so the datagrams are
# the only frames on the link and the forwarder's draws line up run after run.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/engine_lib.sh"
need_root
if [ "$ENGINE" != userlink ]; then
	skip "same-seed drops: netem's draws are not seeded (userlink only)"; t_done
fi

# run SEED TAG [SPEC]
run() {
	el_up --a2b "${3:-loss=30}" --seed "$1" --fate "$T_TMP/fate.$1.$2" || return 1
	ip netns exec "$EL_B" "$TOOLS/netprobe" udprecv 9000 1000 >"$T_TMP/recv.$1.$2" {EL_IN}>&- &
	local rp=$!
	T_PIDS+=("$rp")
	wait_for 30 grep -q bound "$T_TMP/recv.$1.$2"
	ip netns exec "$EL_A" "$TOOLS/netprobe" udpsend "$EL_IP_B" 9000 400 500 {EL_IN}>&-
	wait "$rp"
	el_down
	# Sorted: with jitter the arrival order may differ where two send times are closer
	# than the path's own noise; which frames arrive, and how often, may not.
	grep -E '^[0-9]+$' "$T_TMP/recv.$1.$2" | sort -n >"$T_TMP/seqs.$1.$2"
}

run 7 1 && run 7 2 && run 8 1 || { not_ok "links came up"; t_done; }
n1=$(wc -l <"$T_TMP/seqs.7.1"); n2=$(wc -l <"$T_TMP/seqs.7.2"); n3=$(wc -l <"$T_TMP/seqs.8.1")
if [ "$n1" -ge 240 ] && [ "$n1" -le 320 ]; then ok "loss 30%: $n1 of 400 arrived"
else not_ok "loss 30%: $n1 of 400 arrived (want 240..320)"; fi
if cmp -s "$T_TMP/seqs.7.1" "$T_TMP/seqs.7.2"; then
	ok "seed 7 twice: the same $n1 datagrams arrived"
else
	not_ok "seed 7 twice: the same datagrams arrived ($n1 vs $n2; first difference: $(diff "$T_TMP/seqs.7.1" "$T_TMP/seqs.7.2" | head -3 | tr '\n' ' '))"
fi
if cmp -s "$T_TMP/seqs.7.1" "$T_TMP/seqs.8.1"; then
	not_ok "seed 8 drops different datagrams than seed 7"
else
	ok "seed 8 drops different datagrams than seed 7 ($n3 arrived)"
fi
# The forwarder's own fate log agrees with what the receiver saw.
lost_fate=$(awk '$1 == 0 && $2 == 0 && $4 == "loss"' "$T_TMP/fate.7.1" | wc -l)
check_eq "fate log's losses match the receiver's" "$lost_fate" "$((400 - n1))"

# Delays and duplicates too: loss, 5 ms +- 4 ms of jitter and 10% duplicates.
spec=loss=20,delay=5ms,jitter=4ms,dup=10
run 9 1 "$spec" && run 9 2 "$spec" || { not_ok "jitter/dup links came up"; t_done; }
n1=$(wc -l <"$T_TMP/seqs.9.1")
if cmp -s "$T_TMP/seqs.9.1" "$T_TMP/seqs.9.2"; then
	ok "seed 9 twice with jitter and duplicates: the same $n1 arrivals (duplicates included)"
else
	not_ok "seed 9 twice with jitter and duplicates: the same arrivals ($n1 vs $(wc -l <"$T_TMP/seqs.9.2"))"
fi
dups=$(uniq -d "$T_TMP/seqs.9.1" | wc -l)
if [ "$dups" -ge 10 ]; then ok "duplicates arrived ($dups)"; else not_ok "duplicates arrived (got $dups)"; fi
strip() { grep -v '^#' "$1" | cut -d' ' -f1-5; }
if cmp -s <(strip "$T_TMP/fate.9.1") <(strip "$T_TMP/fate.9.2"); then
	ok "seed 9 twice: every frame's fate and drawn delay identical (fate logs)"
else
	not_ok "seed 9 twice: every frame's fate and drawn delay identical"
fi
t_done
