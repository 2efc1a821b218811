#!/usr/bin/env bash
# tests/flaky-uml.sh [LAB...]: tests/flaky.sh on the netem engine, inside User-Mode Linux (this
# machine's kernel has no sch_netem).  N (default 20) runs per lab; labs with `drop` rules are
# skipped (userlink only).  Uses the plain build (ASan cannot run inside UML, see
# tests/uml/run.sh).  A full run of 20 takes ~15 minutes.
#
# tests/uml/run.sh runs UML_EXTRA inside UML, but UML_EXTRA travels on the kernel command
# line, which splits at spaces: so this writes a small script (N baked in) under build/ and
# passes its path.
set -u
cd "$(dirname "$0")/.."
N=${N:-20}
case $N in ''|*[!0-9]*) echo "flaky-uml.sh: N must be a number, got \"$N\"" >&2; exit 2;; esac
make --no-print-directory all >/dev/null || { echo "flaky-uml.sh: make all failed" >&2; exit 2; }
mkdir -p build
script=$PWD/build/flaky-uml-inner.sh
cat >"$script" <<EOF
#!/bin/sh
cd "$PWD" || exit 1
N=$N ENGINE=netem LABCTL="$PWD/labctl/labctl" LABCTL_AGENT="$PWD/agents/labctl-agent" \\
	KEEP=/run/tmp/flaky-uml bash tests/flaky.sh $*
for f in /run/tmp/flaky-uml/*.log; do [ -e "\$f" ] || continue; echo "== \$f"; tail -40 "\$f"; done
EOF
chmod +x "$script"
# No netns tests (UML_FILTER matches none) and no single lab pass (UML_LABS=0): only flaky.
out=$(UML_TIMEOUT=${UML_TIMEOUT:-3600} UML_LABS=0 UML_FILTER='^$' UML_EXTRA="$script" \
	bash tests/uml/run.sh build/rel 2>&1)
if ! grep -q '^# flaky: ' <<<"$out"; then
	echo "flaky-uml.sh: flaky.sh did not run inside UML:" >&2; echo "$out" >&2; exit 2
fi
sed -n 's/^# //p' <<<"$out" | grep -vE '^(== netns|0 passed, 0 failed|)$'
# exit 0 only when every run passed (flaky.sh's last line says how many failed)
grep -qE '^# flaky: .*; 0 failed runs$' <<<"$out"
