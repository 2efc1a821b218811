#!/usr/bin/env bash
# labctl check: exit codes, output format, --quiet, --help.  Needs no root and no namespaces;
# it lives here because it drives the labctl binary.
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."

out=$("$LABCTL" check tests/data/labs/chain3.lab 2>"$T_TMP/err"); rc=$?
check_eq "check chain3.lab exits 0" "$rc" 0
check_eq "check chain3.lab prints the summary" "$out" "tests/data/labs/chain3.lab: ok (3 hosts, 2 links, 0 steps)"
check_eq "check chain3.lab prints nothing on stderr" "$(cat "$T_TMP/err")" ""

for f in labs/*.lab; do
	"$LABCTL" check --quiet "$f" >"$T_TMP/out" 2>&1
	check_eq "every catalogue lab passes: $f" "$?:$(cat "$T_TMP/out")" "0:"
done

"$LABCTL" check tests/data/labs/bad-typos.lab >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
check_eq "a bad lab exits 2" "$rc" 2
check_eq "a bad lab prints nothing on stdout" "$(cat "$T_TMP/out")" ""
check_eq "every error is printed, one per line" "$(wc -l <"$T_TMP/err" | tr -d ' ')" 6
bad=$(grep -cvE '^tests/data/labs/bad-typos\.lab:[0-9]+:[0-9]+: .+' "$T_TMP/err")
check_eq "every error line is FILE:LINE:COL: message" "$bad" 0
check "the suggestion for FIN_WAIT3 is FIN_WAIT_2" \
	grep -qxF 'tests/data/labs/bad-typos.lab:10:15: unknown state "FIN_WAIT3"; did you mean FIN_WAIT_2?' "$T_TMP/err"

# A good and a bad file together: exit 2, the good one still reported.
"$LABCTL" check labs/handshake.lab tests/data/labs/bad-values.lab >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
check_eq "good + bad exits 2" "$rc" 2
check "good + bad still reports the good file" grep -q '^labs/handshake.lab: ok' "$T_TMP/out"
check_eq "good + bad lists the bad file's 5 errors" "$(wc -l <"$T_TMP/err" | tr -d ' ')" 5

# More than fit in one error buffer: all 50 and the stop line are printed.
{ echo "host a"; for i in $(seq 60); do echo "bogus$i"; done; } >"$T_TMP/many.lab"
"$LABCTL" check "$T_TMP/many.lab" 2>"$T_TMP/err"; rc=$?
check_eq "60 errors exit 2" "$rc" 2
check_eq "60 errors print 50 and the stop line" "$(wc -l <"$T_TMP/err" | tr -d ' ')" 51
check "the stop line says so" grep -q 'too many errors (50); stopping here$' "$T_TMP/err"

"$LABCTL" check "$T_TMP/no-such.lab" 2>"$T_TMP/err"; rc=$?
check_eq "a missing file exits 2" "$rc" 2
check_eq "a missing file says why" "$(cat "$T_TMP/err")" "$T_TMP/no-such.lab: No such file or directory"

"$LABCTL" check >/dev/null 2>&1; rc=$?
check_eq "no file exits 2" "$rc" 2
"$LABCTL" check --bogus labs/handshake.lab >/dev/null 2>&1; rc=$?
check_eq "an unknown option exits 2" "$rc" 2
out=$("$LABCTL" check --help); rc=$?
check_eq "--help exits 0" "$rc" 0
check "--help shows usage" grep -q '^usage: labctl check' <<<"$out"
out=$("$LABCTL" check -q labs/handshake.lab 2>&1); rc=$?
check_eq "--quiet prints nothing for a good file" "$rc:$out" "0:"
t_done
