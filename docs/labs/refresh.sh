#!/usr/bin/env bash
# docs/labs/refresh.sh [NAME...]: paste each lab file and the real output of `labctl run`
# into docs/labs/NAME.md, between the markers
#   <!-- lab -->    ... <!-- /lab -->      (the lab file, verbatim)
#   <!-- output --> ... <!-- /output -->   (what `labctl run` printed)
# Needs root (labctl run builds namespaces).  LABCTL (default labctl/labctl) and ENGINE
# (default auto) as in tests/flaky.sh.  A lab that does not pass is reported and its page
# left alone.
set -u
cd "$(dirname "$0")/../.."
LABCTL=${LABCTL:-labctl/labctl}
ENGINE=${ENGINE:-auto}
LABCTL=$(realpath "$LABCTL")
# Labs with `capture` write pcaps to the current directory: run them in a scratch one.
wd=$(mktemp -d /tmp/labctl-refresh.XXXXXX)
trap 'rm -rf "$wd"' EXIT
eng=(); [ "$ENGINE" = auto ] || eng=(--engine "$ENGINE")
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in labs/*.lab; do names+=("$(basename "$f" .lab)"); done
fi
rc=0
for n in "${names[@]}"; do
	page=docs/labs/$n.md lab=labs/$n.lab
	[ -f "$page" ] && [ -f "$lab" ] || { echo "refresh: no $page or $lab" >&2; rc=1; continue; }
	out=$(mktemp)
	rm -f "$wd"/*
	abs=$PWD/$lab
	if ! (cd "$wd" && exec "$LABCTL" run "${eng[@]}" "$abs") >"$out" 2>&1; then
		echo "refresh: $lab did not pass; $page left alone" >&2; sed 's/^/  | /' "$out" | tail -20 >&2
		rm -f "$out"; rc=1; continue
	fi
	python3 - "$page" "$lab" "$out" "${eng[*]}" "$abs" <<'PY'
import sys, re
page, lab, out, engine, abspath = sys.argv[1:]
text = open(page).read()
labtxt = open(lab).read().rstrip("\n")
outtxt = open(out).read().rstrip("\n")
def put(text, tag, body):
    pat = re.compile(r"(<!-- %s -->\n).*?(<!-- /%s -->)" % (tag, tag), re.S)
    if not pat.search(text):
        sys.exit("refresh: %s has no <!-- %s --> block" % (page, tag))
    return pat.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
text = put(text, "lab", "```\n" + labtxt + "\n```")
cmd = "labctl run " + (engine + " " if engine else "") + lab
outtxt = outtxt.replace(abspath, lab)  # the run saw the absolute path; show the usual one
text = put(text, "output", "```\n$ sudo " + cmd + "\n" + outtxt + "\n```")
open(page, "w").write(text)
PY
	rm -f "$out"
	echo "refresh: $page"
done
exit $rc
