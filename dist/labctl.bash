# bash completion for labctl; installed as share/bash-completion/completions/labctl.
# Subcommands and options are read from labctl's own --help when completing, so they are
# never out of step with the binary; lab names come from its catalogue, lab ids from
# `labctl ls`, host names from `labctl ls --json`.

# The labctl being completed (as typed: labctl, ./labctl/labctl, /opt/x/bin/labctl).
_labctl_bin() {
	local b=${COMP_WORDS[0]}
	[[ $b == "~"* ]] && b=$HOME${b#"~"}
	printf '%s' "$b"
}

_labctl_subcommands() { "$(_labctl_bin)" --help 2>/dev/null | awk '/^  [a-z]+  /{print $1}'; }

# Options of one subcommand, as its --help shows them: in the usage lines (up to the first
# blank line) and at the start of an indented option line ("  -q, --quiet   ...").
_labctl_options() {
	"$(_labctl_bin)" "$1" --help 2>/dev/null | awk '
		!blank && /^$/ { blank = 1 }
		!blank { s = $0; while (match(s, /(^|[][ |(])--?[A-Za-z0-9][A-Za-z0-9-]*/)) {
			o = substr(s, RSTART, RLENGTH); sub(/^[^-]*/, "", o); print o
			s = substr(s, RSTART + RLENGTH) } }
		blank && /^ +-/ { n = split($0, w, /[ ,]+/)
			for (i = 2; i <= n && w[i] ~ /^--?[A-Za-z0-9]/; i++) print w[i] }' | sort -u
}

# The catalogue, found as labctl finds it (labctl/base/paths.h): $LABCTL_LABS, else beside
# the executable: ../share/labctl/labs (installed), ../labs or ../../labs (a checkout).
_labctl_catalogue() {
	local exe dir d
	if [[ -n ${LABCTL_LABS:-} ]]; then dir=$LABCTL_LABS; else
		exe=$(type -P "$(_labctl_bin)") || return
		exe=$(readlink -f "$exe") || return
		for d in ../share/labctl/labs ../labs ../../labs; do
			[[ -d ${exe%/*}/$d ]] && { dir=${exe%/*}/$d; break; }
		done
	fi
	[[ -n ${dir:-} ]] || return
	local f
	for f in "$dir"/*.lab; do [[ -e $f ]] && { f=${f##*/}; printf '%s\n' "${f%.lab}"; }; done
}

_labctl_ids() { "$(_labctl_bin)" ls 2>/dev/null | awk 'NR > 1 { print $1 }'; }

_labctl_hosts() {
	"$(_labctl_bin)" ls --json 2>/dev/null | grep -F "{\"id\":\"$1\"," |
		grep -oE '"name":"[^"]*"' | cut -d'"' -f4
}

_labctl_labfiles() {
	local IFS=$'\n'
	compopt -o filenames 2>/dev/null
	COMPREPLY+=($(compgen -f -X '!*.lab' -- "$1") $(compgen -d -- "$1"))
	COMPREPLY+=($(compgen -W "$(_labctl_catalogue)" -- "$1"))
}

_labctl() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	COMPREPLY=()
	if [[ $COMP_CWORD -eq 1 ]]; then
		if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W '--help --version' -- "$cur"))
		else COMPREPLY=($(compgen -W "$(_labctl_subcommands)" -- "$cur")); fi
		return
	fi
	local cmd=${COMP_WORDS[1]}
	case $prev in
	--engine) COMPREPLY=($(compgen -W 'auto netem userlink veth' -- "$cur")); return ;;
	--capture) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")); return ;;
	--svg|-o) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--netns) COMPREPLY=($(compgen -W "$(ls /run/netns 2>/dev/null)" -- "$cur")); return ;;
	--id|--seed|--poll|--interval|--for|--conn|--port|--state|port|addr) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_labctl_options "$cmd")" -- "$cur"))
		return
	fi
	# the positional words before the cursor (options and their values left out)
	local i w pos=()
	for ((i = 2; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--engine|--capture|--svg|-o|--netns|--id|--seed|--poll|--interval|--for|--conn|--port|--state) ((i++)) ;;
		-*) ;;
		*) pos+=("$w") ;;
		esac
	done
	case $cmd in
	run|check|up) _labctl_labfiles "$cur" ;;
	down) COMPREPLY=($(compgen -W "$(_labctl_ids) --all" -- "$cur")) ;;
	exec|ss|watch|impair)
		if [[ ${#pos[@]} -eq 0 ]]; then
			COMPREPLY=($(compgen -W "$(_labctl_ids)" -- "$cur"))
		elif [[ ${#pos[@]} -eq 1 || ($cmd == impair && ${#pos[@]} -eq 2) ]]; then
			COMPREPLY=($(compgen -W "$(_labctl_hosts "${pos[0]}")" -- "$cur"))
		elif [[ $cmd == ss || $cmd == watch ]]; then
			COMPREPLY=($(compgen -W 'LISTEN SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT_1
				FIN_WAIT_2 CLOSE_WAIT CLOSING LAST_ACK TIME_WAIT port addr' -- "$cur"))
		elif [[ $cmd == impair ]]; then
			COMPREPLY=($(compgen -W 'delay jitter delay-corr distribution loss loss-corr
				duplicate reorder gap corrupt rate limit clear' -- "$cur"))
		elif [[ $cmd == exec ]]; then
			COMPREPLY=($(compgen -c -- "$cur"))
		fi ;;
	ladder) compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -X '!*.pcap' -- "$cur") $(compgen -d -- "$cur")) ;;
	esac
}
complete -F _labctl labctl
