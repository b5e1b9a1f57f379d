# bash completion for tcpstate.  The candidates come from the binary itself
# (`tcpstate __complete WORDS...`), which reads the same command table as
# --help and the man page, so this file never needs to change when options do.
_tcpstate() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local IFS=$'\n'
	local -a cands
	# Rejoin words bash split at '=' or ':' is unnecessary: __complete
	# only looks at whole words before the cursor and the current prefix.
	cands=($("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
	if [[ " ${cands[*]} " == *" @file "* ]] || [[ ${cands[0]-} == @file ]]; then
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
	else
		COMPREPLY=("${cands[@]}")
		# "knob=" (tune set) waits for its value: no space after it.
		[[ ${cands[0]-} == *= ]] && compopt -o nospace 2>/dev/null
	fi
}
complete -F _tcpstate tcpstate
