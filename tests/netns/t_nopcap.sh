#!/usr/bin/env bash
# labctl loads libpcap only to capture or to draw a ladder (labctl/kernel/pcapdl.h).  In a private
# mount namespace where libpcap is unreadable (/dev/null bound over it), labctl must still
# check and run a lab, and capture and ladder must exit 2 saying what is missing.  Also: labctl
# itself does not link libpcap (ldd, an independent reader of the binary).
source "$(dirname "$0")/lib.sh"
need_root
command -v unshare >/dev/null || { skip "t_nopcap: no unshare"; exit 0; }
LIB=$(ldconfig -p | awk '$1 == "libpcap.so.0.8" { print $NF; exit }')
[ -n "$LIB" ] || { skip "t_nopcap: libpcap.so.0.8 is not installed"; exit 0; }
PCAP=$PWD/tests/data/pcap/normal.pcap

check "labctl is not linked with libpcap" bash -c "! ldd '$LABCTL' | grep -q libpcap"

# without LIB: run each command in a fresh mount namespace with libpcap hidden
without() { unshare -m --propagation private bash -c 'mount --bind /dev/null "$0" && exec "$@"' "$LIB" "$@"; }
check "libpcap is hidden in the test's mount namespace" \
	bash -c "$(declare -f without); LIB='$LIB'; ! without python3 -c 'import ctypes; ctypes.CDLL(\"libpcap.so.0.8\")' 2>/dev/null"

out=$(without "$LABCTL" check labs/handshake.lab 2>&1); rc=$?
check_eq "without libpcap: labctl check exits 0 ($out)" "$rc" 0
out=$(without "$LABCTL" run -q labs/close-wait-leak.lab --id "np-$T_SUFFIX" 2>&1); rc=$?
check_eq "without libpcap: a lab without capture runs and passes ($out)" "$rc" 0

out=$(without "$LABCTL" ladder "$PCAP" 2>&1); rc=$?
check_eq "without libpcap: labctl ladder exits 2" "$rc" 2
check "the error says libpcap is missing and how to get it ($out)" \
	grep -q 'need libpcap, which is not installed.*apt-get install libpcap0.8' <<<"$out"

out=$(cd "$T_TMP" && without "$LABCTL" run "$OLDPWD/labs/handshake.lab" --capture "$T_TMP/cap" --id "nq-$T_SUFFIX" 2>&1); rc=$?
check_eq "without libpcap: run --capture exits 2" "$rc" 2
check "the run's error says libpcap is missing" grep -q 'need libpcap' <<<"$out"
check_eq "the failed run left no namespace" "$(ip netns list | grep -c "^n[pq]-$T_SUFFIX")" 0
check_eq "the failed run left no lab process" "$(pgrep -fc "nq-$T_SUFFIX")" 0

# and with libpcap (the same binary): the ladder draws
check "with libpcap: labctl ladder draws the exchange" \
	bash -c "'$LABCTL' ladder '$PCAP' | grep -q 'SYN+ACK'"
t_done
