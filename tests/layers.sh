#!/usr/bin/env bash
# tests/layers.sh: labctl/'s folders are layers, and an #include may only point down
# (docs/architecture.md, "Folders").  One TAP line per folder; a folder that includes a
# header of a layer it may not use fails with the offending lines.
set -u
cd "$(dirname "$0")/.."
declare -A MAY=(
	[base]=""
	[lab]="base"
	[kernel]="base lab"
	[engine]="base lab kernel"
	[observe]="base lab kernel"
	[render]="base lab kernel"
	[run]="base lab kernel engine observe render agents"
	[cmd]="base lab kernel engine observe render run agents"
)
n=0
for d in labctl/*/; do
	d=${d%/}; layer=${d#labctl/}; n=$((n + 1))
	if [ -z "${MAY[$layer]+set}" ]; then
		echo "not ok $n - labctl/$layer is not a known layer (add it to tests/layers.sh and docs/architecture.md)"
		continue
	fi
	bad=""
	while IFS= read -r line; do
		inc=${line#*#include \"}; to=${inc%%/*}
		# agents/proto.h, the control protocol, is the one header from outside labctl/.
		[ "$inc" = 'proto.h"' ] && to=agents
		[ "$inc" = "$to" ] && { bad+="$line (no folder)"$'\n'; continue; }
		[ "$to" = "$layer" ] && continue
		[[ " ${MAY[$layer]} " == *" $to "* ]] || bad+="$line"$'\n'
	done < <(grep -Hn '#include "' "$d"/*.[ch])
	if [ -z "$bad" ]; then echo "ok $n - labctl/$layer includes only: ${MAY[$layer]:-nothing}"
	else echo "not ok $n - labctl/$layer includes a layer above it or outside its list:"; printf '%s' "$bad" | sed 's/^/#   /'; fi
done
echo "1..$n"
