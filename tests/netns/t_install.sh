#!/usr/bin/env bash
# labctl installed like a real tool (issue 17, docs/install.md):
# - make install into a DESTDIR, then labs of the installed catalogue run by name from the
#   installed binary with the checkout out of reach (a tmpfs over it in a private mount
#   namespace, cwd elsewhere, LABCTL_AGENT unset) and, traced with strace, without a single
#   path of the checkout opened; make uninstall leaves the DESTDIR empty;
# - labctl(1) documents every option every `labctl CMD --help` shows (read from the binary at
#   test time, so an option added later fails here until it is documented), labctl-lab(5)
#   every keyword docs/lab-format.md names, and both pass mandoc -Tlint;
# - bash completion, by calling _labctl with COMP_WORDS set;
# - labctl doctor on this machine (its netem verdict checked against tc), with libpcap hidden
#   (as t_nopcap does) and with the agent missing;
# - make deb, dpkg -i, labctl run handshake, dpkg -r: every file dpkg -L listed is gone.
#   This touches the real /usr: skipped when a labctl package is installed already, and a
#   guardian process removes the package even if this test is killed (SIGKILL included).
# INSTALL_LABS=all runs the whole catalogue from the installed tree (37 s here, 69 s in all);
# by default three labs stand for it: handshake, four-way-close, close-wait-leak.
source "$(dirname "$0")/lib.sh"
need_root
for t in mandoc strace dpkg-deb dpkg-shlibdeps unshare col; do
	command -v "$t" >/dev/null || { skip "t_install: $t missing (make deps)"; exit 0; }
done
REPO=$PWD
T_START=$SECONDS
# the test installs the build it was given: tests/run.sh build/san means SAN=1
case $LABCTL in */build/san/*) MKSAN=1 ;; *) MKSAN=0 ;; esac
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$REPO" "$@"; }
EMPTY=$T_TMP/elsewhere; mkdir -p "$EMPTY"
chmod 755 "$T_TMP"

# ---- make install -------------------------------------------------------------------------
DEST=$T_TMP/dest PFX=/usr/local
ROOT=$DEST$PFX
check "make install DESTDIR=... succeeds" mk SAN=$MKSAN install DESTDIR="$DEST" >/dev/null
for f in bin/labctl libexec/labctl/labctl-agent share/labctl/labs/handshake.lab \
	share/man/man1/labctl.1 share/man/man5/labctl-lab.5 share/doc/labctl/README.md \
	share/doc/labctl/lab-format.md share/bash-completion/completions/labctl; do
	[ -f "$ROOT/$f" ] || not_ok "make install put $PFX/$f in place"
done
nlabs=$(ls "$REPO"/labs/*.lab | wc -l)
check_eq "the whole catalogue is installed" "$(ls "$ROOT"/share/labctl/labs/*.lab | wc -l)" "$nlabs"
ninst=$(find "$DEST" -type f | wc -l)
echo "# make install: $ninst files under $DEST"
IL=$ROOT/bin/labctl

# run CMD with the checkout out of reach: a tmpfs over it in a private mount namespace, from an
# empty directory, with no LABCTL_* variable pointing anywhere and the run directories (the
# cache) in the test's own temporary one.
hidden() {
	unshare -m --propagation private bash -c \
		'mount -t tmpfs -o size=1m labctl-hidden "$0" && cd "$1" && shift && exec "$@"' \
		"$REPO" "$EMPTY" env -u LABCTL_AGENT -u LABCTL_LABS -u LABCTL XDG_CACHE_HOME="$T_TMP/cache" "$@"
}
check "the checkout is unreachable inside hidden()" hidden bash -c "! test -e '$REPO/Makefile'"

out=$(hidden "$IL" --version 2>&1)
check "the installed labctl --version names the Makefile's version ($out)" \
	grep -qE '^labctl [0-9]+\.[0-9]+\.[0-9]+' <<<"$out"

# one lab under strace: every path it opens, execs or stats, in every process it makes
# (LeakSanitizer cannot run under ptrace; the untraced runs below keep it)
ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0 \
	hidden strace -f -qq -o "$T_TMP/trace" -e trace=%file "$IL" run -q handshake >"$T_TMP/hs.out" 2>&1
rc=$?
check_eq "installed: labctl run handshake (by name, traced) passes" "$rc" 0 || cat "$T_TMP/hs.out"
check "the traced run exec'd the installed agent" \
	grep -q "execve(\"$ROOT/libexec/labctl/labctl-agent\"" "$T_TMP/trace"
hits=$(grep -F "$REPO" "$T_TMP/trace" | grep -v 'mount(' | head -3)
check_eq "the traced run touched no path of the checkout" "$hits" ""

if [ "${INSTALL_LABS:-}" = all ]; then
	labs=("$ROOT/share/labctl/labs")
else
	labs=(handshake four-way-close close-wait-leak)
fi
for l in "${labs[@]}"; do
	t0=$SECONDS
	out=$(hidden "$IL" run -q "$l" 2>&1); rc=$?
	check_eq "installed: labctl run ${l##*/} passes ($((SECONDS - t0)) s)" "$rc" 0 || echo "$out" | tail -20
done
# a local file wins over the catalogue's of the same name
printf 'lab mine\nhost a addr 10.0.0.1/24\n' >"$EMPTY/handshake"
out=$(hidden "$IL" check handshake 2>&1)
check "a local file named handshake wins over the catalogue ($out)" grep -q '^handshake: ok (1 hosts' <<<"$out"
rm -f "$EMPTY/handshake"
out=$(hidden "$IL" check no-such-lab 2>&1); rc=$?
check_eq "an unknown lab name exits 2" "$rc" 2

# ---- labctl doctor --------------------------------------------------------------------------
out=$(hidden "$IL" doctor --json 2>&1); rc=$?
check_eq "doctor: exit 0 on this machine" "$rc" 0 || echo "$out"
check "doctor --json is valid JSON" python3 -c 'import json,sys; json.loads(sys.argv[1])' "$out"
# jget NAME FIELD: one check's field from the JSON in $out
jget() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print([c for c in d["checks"] if c["name"]==sys.argv[2]][0][sys.argv[3]])' "$out" "$1" "$2"; }
check_eq "doctor: the agent is the installed one" "$(jget agent detail)" "$ROOT/libexec/labctl/labctl-agent"
check "doctor: the catalogue is the installed one" grep -q "^$ROOT/share/labctl/labs ($nlabs labs" <<<"$(jget catalogue detail)"
# netem, independently: can tc make a netem qdisc in a throwaway namespace?
t_netns NS probe
if tc -n "$NS" qdisc add dev lo root netem delay 1ms 2>/dev/null; then want_netem=ok; else want_netem=no; fi
check_eq "doctor: netem verdict matches tc's" "$(jget netem status)" "$want_netem"
if [ "$want_netem" = no ]; then
	check "doctor: says the kernel has no sch_netem and userlink is used instead" \
		grep -q 'no sch_netem.*userlink engine instead' <<<"$(jget netem detail)"
fi
if [ -c /dev/net/tun ]; then want_tun=ok; else want_tun=no; fi
check_eq "doctor: userlink (/dev/net/tun) verdict" "$(jget userlink status)" "$want_tun"
if [ -r /sys/kernel/btf/vmlinux ]; then want_btf=ok; else want_btf=no; fi
check_eq "doctor: ebpf (BTF) verdict" "$(jget ebpf status)" "$want_btf"
check_eq "doctor: libpcap loads" "$(jget libpcap status)" ok
text=$(hidden "$IL" doctor 2>&1)
check "doctor (text): one line per check and a verdict" \
	bash -c '[ "$(grep -cE "^(ok|warn|no|FAIL) " <<<"$1")" -ge 9 ] && grep -q "^labs can run here" <<<"$1"' _ "$text"

LIB=$(ldconfig -p | awk '$1 == "libpcap.so.0.8" { print $NF; exit }')
if [ -n "$LIB" ]; then
	out=$(unshare -m --propagation private bash -c 'mount --bind /dev/null "$0" && exec "$@"' \
		"$LIB" "$IL" doctor --json 2>&1); rc=$?
	check_eq "doctor without libpcap: still exit 0 (capture is optional)" "$rc" 0
	check_eq "doctor without libpcap: libpcap is 'no'" "$(jget libpcap status)" no
	check "doctor without libpcap: the fix names the package" grep -q 'apt-get install libpcap0.8' <<<"$(jget libpcap fix)"
else
	skip "doctor without libpcap: libpcap.so.0.8 not installed"
fi
out=$(hidden env LABCTL_AGENT=/nonexistent/labctl-agent "$IL" doctor --json 2>&1); rc=$?
check_eq "doctor with the agent missing: exit 2" "$rc" 2
check_eq "doctor with the agent missing: agent is FAIL" "$(jget agent status)" FAIL
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$IL" doctor --json 2>&1); rc=$?
check "doctor as nobody: privileges are not ok ($(jget privileges status))" \
	grep -qE '^(warn|FAIL)$' <<<"$(jget privileges status)"

# ---- man pages --------------------------------------------------------------------------------
MAN1=$ROOT/share/man/man1/labctl.1 MAN5=$ROOT/share/man/man5/labctl-lab.5
for m in "$MAN1" "$MAN5"; do
	# "referenced manual not found" depends on what this machine has installed, not on the page
	lint=$(mandoc -Tlint "$m" 2>&1 | grep -v 'referenced manual not found\|mandoc.db')
	check_eq "mandoc -Tlint ${m##*/}: no messages" "$lint" ""
done
mandoc -Tascii "$MAN1" | col -b >"$T_TMP/labctl.1.txt"
# help_options: the options a --help text shows: in its usage lines (up to the first blank
# line) and at the start of an indented option line ("  -q, --quiet   ...").
help_options() {
	awk '!blank && /^$/ { blank = 1 }
		!blank { s = $0; while (match(s, /(^|[][ |(])--?[A-Za-z0-9][A-Za-z0-9-]*/)) {
			o = substr(s, RSTART, RLENGTH); sub(/^[^-]*/, "", o); print o
			s = substr(s, RSTART + RLENGTH) } }
		blank && /^ +-/ { n = split($0, w, /[ ,]+/)
			for (i = 2; i <= n && w[i] ~ /^--?[A-Za-z0-9]/; i++) print w[i] }' | sort -u
}
# man_section CMD: the rendered text of labctl(1)'s subsection for CMD (".Ss CMD")
man_section() { awk -v c="$1" '$0 == "   " c { on = 1; next } on && (/^   [a-z]+$/ || /^[A-Z]/) { exit } on' "$T_TMP/labctl.1.txt"; }
has_word() { grep -qE -- "(^|[^A-Za-z0-9-])$1([^A-Za-z0-9-]|\$)"; }
subcmds=$("$IL" --help | awk '/^  [a-z]+  /{ print $1 }')
check "labctl --help lists subcommands" test -n "$subcmds"
for o in $("$IL" --help | help_options); do
	sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' "$T_TMP/labctl.1.txt" | has_word "$o" ||
		not_ok "labctl(1) lacks $o in its SYNOPSIS (it is in \`labctl --help\`): document it in dist/labctl.1"
done
for c in $subcmds; do
	sec=$(man_section "$c")
	if [ -z "$sec" ]; then
		not_ok "labctl(1) has no section for \`labctl $c\` (it is in \`labctl --help\`): add \".Ss $c\" under COMMANDS in dist/labctl.1"
		continue
	fi
	missing=()
	opts=$("$IL" "$c" --help 2>/dev/null | help_options)
	for o in $opts; do has_word "$o" <<<"$sec" || missing+=("$o"); done
	if [ ${#missing[@]} -eq 0 ]; then
		ok "labctl(1) documents every option of \`labctl $c --help\` ($(wc -w <<<"$opts"))"
	else
		not_ok "labctl(1) lacks ${missing[*]} under \`$c\` (in \`labctl $c --help\`): document them in the \".Ss $c\" section of dist/labctl.1"
	fi
done
# labctl-lab(5) against docs/lab-format.md: every keyword that opens a code span in the
# Statements and Steps sections (statements, steps, keys, values) appears in the page.
mandoc -Tascii "$MAN5" | col -b >"$T_TMP/lab.5.txt"
missing=()
for k in $(sed -n '/^## Statements/,/^## Steps at the same instant/p' "$REPO/docs/lab-format.md" |
	grep -oE '`[^`]+`' | tr -d '`' | awk '{ print $1 == "HOST" ? $2 : $1 }' |
	grep -E '^[a-z][a-z0-9-]*$' | sort -u); do
	has_word "$k" <"$T_TMP/lab.5.txt" || missing+=("$k")
done
if [ ${#missing[@]} -eq 0 ]; then
	ok "labctl-lab(5) names every keyword of docs/lab-format.md's Statements and Steps"
else
	not_ok "labctl-lab(5) lacks ${missing[*]} (named in docs/lab-format.md): document them in dist/labctl-lab.5"
fi

# ---- bash completion --------------------------------------------------------------------------
# comp WORDS...: what _labctl offers for the last word (COMP_WORDS as bash sets them)
comp() {
	(cd "$EMPTY" && bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_labctl; printf "%s\n" "${COMPREPLY[@]}"' _ "$ROOT/share/bash-completion/completions/labctl" "$@" |
		sort | tr '\n' ' ' | sed 's/ $//')
}
check_eq "completion: subcommands" "$(comp "$IL" "")" "$(sort <<<"$subcmds" | tr '\n' ' ' | sed 's/ $//')"
check_eq "completion: labctl run --e" "$(comp "$IL" run --e)" "--engine --expose"
check_eq "completion: labctl run --engine u" "$(comp "$IL" run --engine u)" "userlink"
check_eq "completion: labctl run four (an installed lab's name)" "$(comp "$IL" run four)" "four-way-close"
check_eq "completion: labctl --ver" "$(comp "$IL" --ver)" "--version"
ID=ti-$T_SUFFIX
if "$LABCTL" up --engine veth --no-steps --id "$ID" tests/data/labs/wait.lab >/dev/null 2>&1; then
	T_LABS+=("$ID")
	check "completion: labctl down <TAB> offers the running lab" grep -qw -- "$ID" <<<"$(comp "$IL" down "")"
	check_eq "completion: labctl exec ID <TAB> offers its hosts" "$(comp "$IL" exec "$ID" "")" "a b"
	check_eq "completion: labctl ss ID a EST" "$(comp "$IL" ss "$ID" a EST)" "ESTABLISHED"
	"$LABCTL" down "$ID" >/dev/null 2>&1
else
	not_ok "labctl up for the completion checks"
fi

# ---- make uninstall -----------------------------------------------------------------------------
check "make uninstall succeeds" mk SAN=$MKSAN uninstall DESTDIR="$DEST" >/dev/null
check_eq "make uninstall leaves the DESTDIR empty" "$(find "$DEST" -mindepth 1 | head -3)" ""

# ---- the Debian package -----------------------------------------------------------------------
if dpkg-query -W -f='${Status}' labctl 2>/dev/null | grep -q 'ok installed'; then
	skip "make deb: a labctl package is installed on this machine already; not touching it"
	t_done
fi
t0=$SECONDS
mk deb >"$T_TMP/deb.log" 2>&1
DEB=$(ls "$REPO"/labctl_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -1)
check "make deb builds labctl_VERSION_ARCH.deb ($((SECONDS - t0)) s)" test -n "$DEB" || { cat "$T_TMP/deb.log"; t_done; }
mv "$DEB" "$T_TMP/" && DEB=$T_TMP/${DEB##*/}
info=$(dpkg-deb -f "$DEB" Package Version Architecture Depends)
check "the package depends on the runtime libraries ($(dpkg-deb -f "$DEB" Depends))" \
	bash -c 'grep -q libnl-route-3-200 <<<"$1" && grep -q libmnl0 <<<"$1" && grep -q libev4 <<<"$1"' _ "$info"
check "the package depends on no build tool or -dev package" \
	bash -c '! grep -qE "(-dev|gcc|make|pkg-config)\b" <<<"$1"' _ "$(dpkg-deb -f "$DEB" Depends Recommends)"
echo "# $(basename "$DEB"): $(stat -c %s "$DEB") bytes, $(dpkg-deb -c "$DEB" | grep -vc '/$') files"

# From here the real /usr is touched.  The guardian holds the read end of a pipe whose only
# writers are this shell and the children it starts from here (dpkg -i, labctl run): when the
# last of them ends, for whatever reason, even SIGKILL, it removes the package if it is still
# installed; since dpkg -i holds the pipe too, the removal never races the install.  (Checked
# by SIGKILLing the test just after dpkg -i: the package was gone 6 s later.)
T_DEB_INSTALLED=0
remove_pkg() { dpkg-query -W -f='${Status}' labctl 2>/dev/null | grep -q 'ok installed' && dpkg -r labctl >/dev/null 2>&1; }
exec {GUARD}> >(cat >/dev/null; dpkg-query -W -f='${Status}' labctl 2>/dev/null | grep -q 'ok installed' && dpkg -r labctl >/dev/null 2>&1)
trap 'exit 143' TERM INT HUP
trap '[ "$T_DEB_INSTALLED" = 1 ] && remove_pkg; t_cleanup' EXIT
T_DEB_INSTALLED=1
for try in 1 2 3; do  # dpkg's lock may be held by someone's apt for a moment
	dpkg -i "$DEB" >"$T_TMP/dpkg.log" 2>&1 && break
	grep -q 'lock' "$T_TMP/dpkg.log" || break; sleep 2
done
check "dpkg -i installs the package" \
	bash -c 'dpkg-query -W -f="\${Status}" labctl 2>/dev/null | grep -q "ok installed"' || cat "$T_TMP/dpkg.log"
dpkg -L labctl >"$T_TMP/dpkg-L"
nfiles=$(while read -r f; do [ -f "$f" ] && echo "$f"; done <"$T_TMP/dpkg-L" | wc -l)
check "dpkg -L lists /usr/bin/labctl and the agent ($nfiles files)" \
	bash -c 'grep -qx /usr/bin/labctl "$1" && grep -qx /usr/libexec/labctl/labctl-agent "$1"' _ "$T_TMP/dpkg-L"
out=$(hidden /usr/bin/labctl run -q handshake 2>&1); rc=$?
check_eq "from the package: labctl run handshake passes" "$rc" 0 || echo "$out"
out=$(hidden /usr/bin/labctl doctor 2>&1); rc=$?
check_eq "from the package: labctl doctor exits 0" "$rc" 0 || echo "$out"
if command -v man >/dev/null; then
	check "from the package: man finds labctl(1) and labctl-lab(5)" \
		bash -c 'man -w labctl >/dev/null 2>&1 && man -w 5 labctl-lab >/dev/null 2>&1'
else
	skip "from the package: man-db is not installed"
fi
check "from the package: bash completion is where bash-completion looks" \
	test -f /usr/share/bash-completion/completions/labctl
dpkg -r labctl >"$T_TMP/dpkg.log" 2>&1
check "dpkg -r removes the package" bash -c '! dpkg-query -W -f="\${Status}" labctl 2>/dev/null | grep -q "ok installed"' || cat "$T_TMP/dpkg.log"
T_DEB_INSTALLED=0
left=$(while read -r f; do [ -f "$f" ] || [ -L "$f" ] && echo "$f"; done <"$T_TMP/dpkg-L"
	for d in /usr/libexec/labctl /usr/share/labctl /usr/share/doc/labctl; do [ -e "$d" ] && echo "$d"; done)
check_eq "after dpkg -r nothing it installed is left" "$left" ""
exec {GUARD}>&-
echo "# t_install took $((SECONDS - T_START)) s"
t_done
