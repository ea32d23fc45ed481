# scripts/demo-lib.sh — sourced by scripts/demo.sh and scripts/demo-attach.sh:
# show CMD... prints the command as a user would type it, then runs it.

# quote ARG prints ARG as a shell word: as it is when it is plain, else in
# single quotes.
quote() {
	if [[ $1 =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
		printf '%s' "$1"
	else
		printf "'%s'" "${1//\'/\'\\\'\'}"
	fi
}

show() {
	local a line=
	for a in "$@"; do line+=" $(quote "$a")"; done
	printf '$%s\n' "$line"
	"$@"
}
