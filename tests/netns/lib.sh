# Shared helpers for the netns tests (sourced).  Each test prints TAP lines; tests/run.sh
# counts them.  Modelled on the kernel's tools/testing/selftests/net/lib.sh: random suffixes,
# everything created is recorded and removed by an EXIT trap, even when the test fails.
set -u
LABCTL=${LABCTL:-$PWD/labctl/labctl}
export LABCTL_AGENT=${LABCTL_AGENT:-$PWD/agents/labctl-agent}
TOOLS=${TOOLS:-$PWD/build/rel/tools}
T_SUFFIX=$(printf '%04x%04x' $RANDOM $RANDOM)
T_NETNS=()      # namespaces made with ip netns add (removed on exit)
T_PIDS=()       # processes started (killed by pid on exit)
T_LABS=()       # lab ids brought up with labctl up (downed on exit)
T_TMP=$(mktemp -d /tmp/labctl-test.XXXXXX)
T_FAILS=0

t_cleanup() {
	local p id ns
	for p in "${T_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for id in "${T_LABS[@]}"; do "$LABCTL" down "$id" >/dev/null 2>&1; done
	for ns in "${T_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$T_TMP"
}
trap t_cleanup EXIT

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; T_FAILS=$((T_FAILS + 1)); }
skip() { echo "ok - $* # SKIP"; }
# check NAME CMD...: ok when CMD succeeds.
# Both return non-zero on failure, so a test can add diagnostics: check_eq ... || dump_state
check() { local n=$1; shift; if "$@"; then ok "$n"; else not_ok "$n"; return 1; fi; }
# check_eq NAME GOT WANT
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; return 1; fi; }

need_root() {
	if [ "$(id -u)" != 0 ]; then echo "ok - $(basename "$0") # SKIP needs root"; exit 0; fi
}

# t_netns VAR NAME: make a namespace for the test (suffix added) and store its name in VAR
# (not in a $(...) subshell, so the cleanup list sees it).
t_netns() { local n="lt-$2-$T_SUFFIX"; ip netns add "$n" && T_NETNS+=("$n") && ip -n "$n" link set lo up && printf -v "$1" '%s' "$n"; }

# wait_for SECONDS CMD...: poll CMD every 20 ms until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1)); shift
	until "$@"; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.02; done
}

# listening NETNS PORT: a TCP listener on PORT exists in NETNS (checked with ss).
listening() { ss -N "$1" -Htln "sport = :$2" 2>/dev/null | grep -q .; }
# wait_listening NETNS PORT: wait up to 10 s for it (instead of a fixed sleep).
wait_listening() { wait_for 10 listening "$1" "$2"; }
# polling PID: the process has opened a socket (labctl watch: its sock_diag socket, opened
# just before its first poll).  Fixed sleeps lose against a sanitizer build on a busy machine.
polling() { ls -l /proc/"$1"/fd 2>/dev/null | grep -q 'socket:'; }
wait_polling() { local p; for p; do wait_for 10 polling "$p" || return 1; done; sleep 0.05; }

t_done() { exit $((T_FAILS > 0)); }
