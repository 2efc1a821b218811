#!/usr/bin/env bash
# --low-latency: labctl holds a PM QoS CPU latency request of 0 us while a lab runs and not a
# moment longer.  The kernel's aggregate request, read back from /dev/cpu_dma_latency (an
# independent view: the kernel's, not labctl's), must be 0 while a lab runs or is up with the
# flag, back to what it was after the run, after `labctl down`, and after labctl is SIGKILLed
# (the kernel drops a request when its file closes); a lab without the flag leaves it alone.
# How much it buys is measured by bench/impair.sh (userlink-ll rows), never tested here.
source "$(dirname "$0")/lib.sh"
need_root
[ -c /dev/cpu_dma_latency ] || { skip "t_lowlat: no /dev/cpu_dma_latency"; exit 0; }
qos() { od -An -t d4 -N4 /dev/cpu_dma_latency | tr -d ' '; }
V0=$(qos)
[ "$V0" != 0 ] || { skip "t_lowlat: something else already holds the CPUs at 0 us"; exit 0; }

U="ll-$T_SUFFIX"
( cd "$T_TMP" && "$LABCTL" up "$OLDPWD/tests/data/labs/wait.lab" --id "$U" --no-steps \
	--low-latency >/dev/null ) && T_LABS+=("$U")
check_eq "up --low-latency: the kernel's CPU latency request is 0 us" "$(qos)" 0
check "down exits 0" "$LABCTL" down "$U"
wait_for 5 bash -c "[ \"\$(od -An -t d4 -N4 /dev/cpu_dma_latency | tr -d ' ')\" = '$V0' ]"
check_eq "after down the request is gone" "$(qos)" "$V0"

U="lm-$T_SUFFIX"
( cd "$T_TMP" && "$LABCTL" up "$OLDPWD/tests/data/labs/wait.lab" --id "$U" --no-steps \
	>/dev/null ) && T_LABS+=("$U")
check_eq "up without the flag leaves the request alone" "$(qos)" "$V0"
"$LABCTL" down "$U" >/dev/null

# A run: 0 while it waits, gone after it ends; JSON says so.
"$LABCTL" run --low-latency --json tests/data/labs/wait-long.lab --id "lr-$T_SUFFIX" \
	>"$T_TMP/run.json" 2>&1 &
pid=$!
T_PIDS+=($pid)
wait_for 10 grep -q '"type":"step"' "$T_TMP/run.json"
check_eq "run --low-latency: 0 us while the lab runs" "$(qos)" 0
check "the JSON start line says low_latency" grep -q '"type":"start".*"low_latency":true' "$T_TMP/run.json"
kill -9 "$pid"
wait "$pid" 2>/dev/null
wait_for 5 bash -c "[ \"\$(od -An -t d4 -N4 /dev/cpu_dma_latency | tr -d ' ')\" = '$V0' ]"
check_eq "SIGKILL of labctl run drops the request" "$(qos)" "$V0"

out=$("$LABCTL" run -q --low-latency tests/data/labs/wait.lab 2>&1); rc=$?
check_eq "a short run --low-latency passes" "$rc" 0
check_eq "and leaves the request as it was" "$(qos)" "$V0"
t_done
