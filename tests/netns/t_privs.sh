#!/usr/bin/env bash
# Without root (or CAP_SYS_ADMIN and CAP_NET_ADMIN) labctl says what is missing, exits 2.
source "$(dirname "$0")/lib.sh"
need_root
cp "$LABCTL" "$T_TMP/labctl"; chmod 755 "$T_TMP" "$T_TMP/labctl"
cp tests/data/labs/wait.lab "$T_TMP/"; chmod 644 "$T_TMP/wait.lab"
out=$(LABCTL_ROOTLESS=0 setpriv --reuid=nobody --regid=nogroup --clear-groups "$T_TMP/labctl" run "$T_TMP/wait.lab" 2>&1); rc=$?
check_eq "not root, rootless refused (LABCTL_ROOTLESS=0): exit 2" "$rc" 2
check "not root: the message says root is needed, and how to run without it" grep -q 'needs root.*LABCTL_ROOTLESS=0' <<<"$out"
out=$(capsh --drop=cap_net_admin -- -c "'$T_TMP/labctl' run '$T_TMP/wait.lab'" 2>&1); rc=$?
if command -v capsh >/dev/null; then
	check_eq "without CAP_NET_ADMIN: exit 2" "$rc" 2
	check "the message names CAP_NET_ADMIN" grep -q 'CAP_NET_ADMIN' <<<"$out"
else
	skip "capsh missing (libcap2-bin)"
fi
check "labctl check needs no root" setpriv --reuid=nobody --regid=nogroup --clear-groups "$T_TMP/labctl" check "$T_TMP/wait.lab"
t_done
