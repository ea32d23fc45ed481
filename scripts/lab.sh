#!/usr/bin/env bash
# scripts/lab.sh — the local iSCSI test lab: one Debian tgtd on loopback.
#
#   scripts/lab.sh up      start tgtd, create the targets (idempotent)
#   scripts/lab.sh down    stop the tgtd this script started, remove its files
#   scripts/lab.sh status  say whether the lab is up and what it serves
#   scripts/lab.sh envfile print the path of the env file that `up` writes
#
# Environment (all optional):
#   GOMP_LAB_DIR   state directory (default /run/gomp-lab; /run/gomp-lab-cN when
#                  GOMP_LAB_CTL=N is not 0)
#   GOMP_LAB_CTL   tgtd control port, passed as -C to tgtd and every tgtadm (default 0)
#   GOMP_LAB_PORT  iSCSI TCP port on both portals (default 3260)
#   GOMP_LAB_IMG   backing file prefix (default /dev/shm/gomp-lab; with -cN when
#                  GOMP_LAB_CTL=N is not 0)
#
# The state directory holds tgtd.pid, tgtd.start (the pid's start time, so that
# `down` never kills a reused pid), tgtd.log, backing (the backing files, one a
# line), the CHAP secret files (mode 0600; 16 alphanumerics, no newline),
# ready (written last by `up`) and env,
# a file of KEY=VALUE lines to source with `set -a; . DIR/env; set +a`.
#
# Exit codes: 0 ok; 1 failure; 2 usage or not root; `status` exits 3 when down.
#
# tgt facts this script depends on (measured with tgt 1.0.85):
#  - tgtd's command line keeps only the last --iscsi portal=; others are added at
#    run time with tgtadm --op new --mode portal.
#  - If tgtd cannot bind its command-line portal it silently listens on
#    0.0.0.0:3260 and [::]:3260 instead, so the port is checked before start and
#    the listeners are checked after.
#  - tgtd ignores SIGTERM/SIGINT while it has targets: it is stopped with SIGKILL.
#  - tgtd -p PIDFILE writes nothing with -f, so the pid is recorded here.
set -euo pipefail

PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
export LC_ALL=C

CTL=${GOMP_LAB_CTL:-0}
PORT=${GOMP_LAB_PORT:-3260}
if [[ ! $CTL =~ ^[0-9]+$ ]] || ((CTL > 65535)); then
	echo "lab: GOMP_LAB_CTL must be a number 0..65535, not '$CTL'" >&2
	exit 2
fi
if [[ ! $PORT =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then
	echo "lab: GOMP_LAB_PORT must be a number 1..65535, not '$PORT'" >&2
	exit 2
fi
if ((CTL == 0)); then
	DIR=${GOMP_LAB_DIR:-/run/gomp-lab}
	IMG=${GOMP_LAB_IMG:-/dev/shm/gomp-lab}
else
	DIR=${GOMP_LAB_DIR:-/run/gomp-lab-c$CTL}
	IMG=${GOMP_LAB_IMG:-/dev/shm/gomp-lab-c$CTL}
fi

ADDR1=127.0.0.1
ADDR2=127.0.0.2
PORTAL1=$ADDR1:$PORT
PORTAL2=$ADDR2:$PORT

TARGET=iqn.2026-11.dev.gomp:lab
CHAP_TARGET=iqn.2026-11.dev.gomp:chap
MUTUAL_TARGET=iqn.2026-11.dev.gomp:mutual
CHAP_USER=gomp-chap
MUTUAL_USER=gomp-mutual
MUTUAL_TARGET_USER=gomp-target

IMG_LAB=$IMG-lun1.img
IMG_CHAP=$IMG-chap-lun1.img
IMG_MUTUAL=$IMG-mutual-lun1.img
SIZE_LAB=1G
SIZE_SMALL=64M

CHAP_SECRET_FILE=$DIR/chap.secret
MUTUAL_SECRET_FILE=$DIR/mutual.secret
MUTUAL_TARGET_SECRET_FILE=$DIR/mutual-target.secret

say() { printf 'lab: %s\n' "$*"; }
die() {
	printf 'lab: %s\n' "$*" >&2
	exit 1
}

is_root() { [[ $(id -u) -eq 0 ]]; }

need_root() {
	if ! is_root; then
		echo "lab: '$1' needs root (it starts tgtd and writes $DIR)" >&2
		exit 2
	fi
}

# tadm runs tgtadm against our control port.
tadm() { tgtadm -C "$CTL" --lld iscsi "$@"; }

tgt_answers() { tadm --op show --mode target >/dev/null 2>&1; }

# proc_field PID N prints field N (1-based, as in proc(5)) of /proc/PID/stat.
proc_field() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) } # fields 3.. (comm, field 2, may hold spaces)
	local -a f
	read -r -a f <<<"$rest"
	[[ $2 -ge 3 ]] || return 1
	printf '%s\n' "${f[$2 - 3]}"
}

# recorded_pid prints the pid in $DIR/tgtd.pid if it is a number.
recorded_pid() {
	local pid
	[[ -r $DIR/tgtd.pid ]] || return 1
	pid=$(<"$DIR/tgtd.pid")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	printf '%s\n' "$pid"
}

# ours PID: PID is a live (not zombie) tgtd with the start time we recorded.
ours() {
	local pid=$1 comm state start
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
	[[ $comm == tgtd ]] || return 1
	state=$(proc_field "$pid" 3) || return 1
	[[ $state != Z && $state != X ]] || return 1
	start=$(proc_field "$pid" 22) || return 1
	[[ -r $DIR/tgtd.start && $(<"$DIR/tgtd.start") == "$start" ]]
}

# gone PID: the process has exited (a zombie counts: its parent may not reap it).
gone() {
	local state
	state=$(proc_field "$1" 3) || return 0
	[[ $state == Z || $state == X ]]
}

is_up() {
	local pid
	pid=$(recorded_pid) || return 1
	ours "$pid" && [[ -f $DIR/ready ]] && tgt_answers
}

# listeners prints "ADDR:PORT pid=N" for each TCP listener on $PORT.
listeners() {
	ss -Hltnp "( sport = :$PORT )" 2>/dev/null |
		awk '{ pid = "?"; if (match($0, /pid=[0-9]+/)) pid = substr($0, RSTART + 4, RLENGTH - 4); print $4, "pid=" pid }'
}

ensure_tgt() {
	command -v tgtd >/dev/null && command -v tgtadm >/dev/null && command -v ss >/dev/null && return 0
	say "tgtd or ss not found: installing the lab's packages (scripts/deps.sh demo)"
	bash "$(dirname "${BASH_SOURCE[0]}")/deps.sh" demo || die "cannot install tgtd"
	command -v tgtd >/dev/null || die "tgtd still missing after installing tgt"
}

# new_secret prints 16 random alphanumeric characters, with no newline (the
# secret files hold exactly the secret, so a program can use them as read).
new_secret() {
	local s=
	while ((${#s} < 16)); do
		s+=$(head -c 256 /dev/urandom | tr -dc 'A-Za-z0-9')
	done
	printf '%s' "${s:0:16}"
}

write_secret() {
	(
		umask 077
		new_secret >"$1.tmp"
	)
	mv -f "$1.tmp" "$1"
}

# kill_recorded stops the tgtd recorded in $DIR, if it is ours and alive.
kill_recorded() {
	local pid i
	pid=$(recorded_pid) || return 0
	if gone "$pid"; then
		return 0
	fi
	if ! ours "$pid"; then
		say "recorded pid $pid is not the tgtd this script started; not killing it"
		return 0
	fi
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		gone "$pid" && break
		sleep 0.1
	done
	gone "$pid" || die "tgtd pid $pid did not exit after SIGKILL"
	# SIGKILL leaves tgtd's control socket behind; it is ours and now unused.
	rm -f -- "/run/tgtd/socket.$CTL" "/run/tgtd/socket.$CTL.lock"
	say "stopped tgtd pid $pid"
}

remove_state() {
	local f
	if [[ -r $DIR/backing ]]; then
		while IFS= read -r f; do
			[[ -n $f ]] && rm -f -- "$f"
		done <"$DIR/backing"
	fi
	rm -f -- "$IMG_LAB" "$IMG_CHAP" "$IMG_MUTUAL"
	rm -rf -- "$DIR"
}

print_summary() {
	local pid
	pid=$(recorded_pid) || pid='?'
	cat <<EOF
gomp lab: up (tgtd pid $pid, control port $CTL, state $DIR)
  portals: $PORTAL1 $PORTAL2
  $TARGET    LUN 1: $SIZE_LAB $IMG_LAB (thin_provisioning=1), no auth
  $CHAP_TARGET   LUN 1: $SIZE_SMALL $IMG_CHAP
      CHAP user $CHAP_USER, secret in $CHAP_SECRET_FILE
  $MUTUAL_TARGET LUN 1: $SIZE_SMALL $IMG_MUTUAL
      CHAP user $MUTUAL_USER, secret in $MUTUAL_SECRET_FILE
      target (mutual) user $MUTUAL_TARGET_USER, secret in $MUTUAL_TARGET_SECRET_FILE
  env: $DIR/env   (set -a; . $DIR/env; set +a)
  log: $DIR/tgtd.log
EOF
}

# show_targets condenses `tgtadm --op show --mode target`.
show_targets() {
	tadm --op show --mode target | awk '
		function flush() { if (t != "") printf "    sessions (I_T nexus): %d\n", nexus }
		/^Target [0-9]+:/ { flush(); t = $0; nexus = 0; acct = 0; acl = 0; print "  " $0; next }
		/^ +I_T nexus: [0-9]+/ { nexus++; next }
		/^ +LUN: [0-9]+/ { lun = $2; next }
		/^ +Type:/ { type = $2; next }
		/^ +Size:/ { size = $0; sub(/^ +Size: /, "", size); next }
		/^ +Thin-provisioning:/ { thin = $2; next }
		/^ +Backing store path:/ {
			path = $0; sub(/^ +Backing store path: /, "", path)
			if (type != "controller") printf "    LUN %s: %s, %s, thin-provisioning %s\n", lun, size, path, thin
			next
		}
		/^ +Account information:/ { acct = 1; next }
		/^ +ACL information:/ { acct = 0; acl = 1; next }
		acct && NF { sub(/^ +/, ""); print "    account: " $0; next }
		acl && NF { sub(/^ +/, ""); print "    ACL: " $0; next }
		END { flush() }
	'
}

cmd_status() {
	local pid
	if ! pid=$(recorded_pid); then
		echo "gomp lab: down (no $DIR/tgtd.pid)"
		exit 3
	fi
	if gone "$pid"; then
		echo "gomp lab: down (recorded tgtd pid $pid is not running; run '$0 down' to clean up)"
		exit 3
	fi
	if [[ $(cat "/proc/$pid/comm" 2>/dev/null) != tgtd ]]; then
		echo "gomp lab: down (recorded pid $pid is not tgtd)"
		exit 3
	fi
	if ! is_root; then
		echo "gomp lab: tgtd pid $pid is running (state $DIR)"
		echo "  not root: tgtadm cannot be asked for the targets"
		[[ -r $DIR/env ]] && sed 's/^/  /' "$DIR/env"
		exit 0
	fi
	if ! ours "$pid" || ! tgt_answers || [[ ! -f $DIR/ready ]]; then
		echo "gomp lab: broken (tgtd pid $pid runs but is not answering or not fully set up; run '$0 down')"
		exit 1
	fi
	print_summary
	echo "  listeners:"
	listeners | sed 's/^/    /'
	echo "  tgtadm --op show --mode target:"
	show_targets
}

cmd_up() {
	need_root up
	ensure_tgt
	if is_up; then
		say "already up"
		cmd_status
		return 0
	fi

	# Leftovers from an earlier lab (killed session, half-done up): clear them.
	if [[ -e $DIR ]]; then
		say "clearing stale lab state in $DIR"
		kill_recorded
		remove_state
	fi

	if tgt_answers; then
		die "a tgtd not started by this script answers on control port $CTL; stop it, or set GOMP_LAB_CTL to another control port"
	fi
	local busy
	# Only a listener on the lab's addresses, or on every address, is in
	# the way: tests' own tgtds listen on other loopback addresses.
	busy=$(ss -Hltnp "( sport = :$PORT )" 2>/dev/null |
		awk -v a="$ADDR1:$PORT" -v b="$ADDR2:$PORT" -v p=":$PORT" \
			'$4 == a || $4 == b || $4 == "0.0.0.0" p || $4 == "*" p || $4 == "[::]" p') || true
	if [[ -n $busy ]]; then
		die "TCP port $PORT is already in use (another tgtd?), so the lab cannot listen on it:
$busy
Stop that process, or set GOMP_LAB_PORT to another port."
	fi

	mkdir -p "$DIR"
	chmod 755 "$DIR"
	# Undo a half-done start on any failure from here on.
	trap 'rc=$?; if ((rc != 0)); then echo "lab: up failed; tgtd log tail:" >&2; tail -n 20 "$DIR/tgtd.log" >&2 2>/dev/null || true; kill_recorded || true; remove_state || true; fi' EXIT

	printf '%s\n' "$IMG_LAB" "$IMG_CHAP" "$IMG_MUTUAL" >"$DIR/backing"
	rm -f -- "$IMG_LAB" "$IMG_CHAP" "$IMG_MUTUAL"
	truncate -s "$SIZE_LAB" "$IMG_LAB"
	truncate -s "$SIZE_SMALL" "$IMG_CHAP"
	truncate -s "$SIZE_SMALL" "$IMG_MUTUAL"

	write_secret "$CHAP_SECRET_FILE"
	write_secret "$MUTUAL_SECRET_FILE"
	write_secret "$MUTUAL_TARGET_SECRET_FILE"
	# RFC 7143 wants the two directions' secrets to differ.
	while [[ $(<"$MUTUAL_SECRET_FILE") == "$(<"$MUTUAL_TARGET_SECRET_FILE")" ]]; do
		write_secret "$MUTUAL_TARGET_SECRET_FILE"
	done

	# The wrapper shell records its own pid and then execs (via nohup) into tgtd,
	# so the pid is tgtd's whether or not setsid had to fork. It first closes
	# every inherited fd above 2: a pipe held open by tgtd would keep whoever
	# reads our output (make, CI) waiting, and fd 9 is our lock.
	: >"$DIR/tgtd.log"
	# shellcheck disable=SC2016 # expanded by the wrapper shell
	setsid bash -c '
		for fd in /proc/$$/fd/*; do
			fd=${fd##*/}
			if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
		done
		echo $$ >"$1"
		shift
		exec nohup "$@"' lab-tgtd "$DIR/tgtd.pid" \
		tgtd -f -C "$CTL" --iscsi "portal=$PORTAL2" >>"$DIR/tgtd.log" 2>&1 </dev/null 9<&- &
	disown

	local i pid='' comm start
	for ((i = 0; i < 100; i++)); do
		if pid=$(recorded_pid); then
			comm=$(cat "/proc/$pid/comm" 2>/dev/null) || die "tgtd exited at start"
			if [[ $comm == tgtd ]] && ! gone "$pid"; then
				start=$(proc_field "$pid" 22)
				echo "$start" >"$DIR/tgtd.start"
				tgt_answers && break
			fi
		fi
		sleep 0.1
	done
	if [[ -z $pid ]] || ! ours "$pid"; then die "tgtd did not start"; fi
	tgt_answers || die "tgtd pid $pid does not answer tgtadm -C $CTL after 10 s"

	# tgtd falls back to 0.0.0.0:3260 and [::]:3260 if its portal fails to bind.
	check_listeners() {
		local got want a
		got=$(listeners | awk -v p="pid=$pid" '$2 == p' | sort) # tests' own tgtds listen beside it
		want=$(for a in "$@"; do printf '%s pid=%s\n' "$a" "$pid"; done | sort)
		[[ $got == "$want" ]] || die "tgtd pid $pid listens on
${got:-(nothing)}
but should listen on exactly
$want"
	}
	check_listeners "$PORTAL2"
	tadm --op new --mode portal --param "portal=$PORTAL1"
	check_listeners "$PORTAL1" "$PORTAL2"

	tadm --op new --mode target --tid 1 --targetname "$TARGET"
	tadm --op new --mode target --tid 2 --targetname "$CHAP_TARGET"
	tadm --op new --mode target --tid 3 --targetname "$MUTUAL_TARGET"
	tadm --op new --mode logicalunit --tid 1 --lun 1 --backing-store "$IMG_LAB"
	tadm --op new --mode logicalunit --tid 2 --lun 1 --backing-store "$IMG_CHAP"
	tadm --op new --mode logicalunit --tid 3 --lun 1 --backing-store "$IMG_MUTUAL"
	local tid
	for tid in 1 2 3; do
		# UNMAP and WRITE SAME (VPD 0xB2 LBPU/LBPWS) need thin provisioning.
		tadm --op update --mode logicalunit --tid "$tid" --lun 1 --params thin_provisioning=1
		tadm --op bind --mode target --tid "$tid" --initiator-address ALL
	done

	# The open target offers what a SAN array does (digests, immediate and
	# unsolicited data, 256 KiB segments, 1 MiB bursts, 8 R2Ts); the CHAP
	# targets keep tgtd's defaults (InitialR2T=Yes, 8 KiB segments), so both
	# negotiation outcomes are exercised.
	local kv
	for kv in HeaderDigest=CRC32C,None DataDigest=CRC32C,None InitialR2T=No ImmediateData=Yes \
		MaxRecvDataSegmentLength=262144 MaxXmitDataSegmentLength=262144 MaxBurstLength=1048576 \
		FirstBurstLength=262144 MaxOutstandingR2T=8; do
		tadm --op update --mode target --tid 1 --name "${kv%%=*}" --value "${kv#*=}"
	done

	tadm --op new --mode account --user "$CHAP_USER" --password "$(<"$CHAP_SECRET_FILE")"
	tadm --op bind --mode account --tid 2 --user "$CHAP_USER"
	tadm --op new --mode account --user "$MUTUAL_USER" --password "$(<"$MUTUAL_SECRET_FILE")"
	tadm --op bind --mode account --tid 3 --user "$MUTUAL_USER"
	tadm --op new --mode account --user "$MUTUAL_TARGET_USER" --password "$(<"$MUTUAL_TARGET_SECRET_FILE")"
	tadm --op bind --mode account --tid 3 --user "$MUTUAL_TARGET_USER" --outgoing

	cat >"$DIR/env.tmp" <<EOF
GOMP_LAB_DIR=$DIR
GOMP_LAB_CTL=$CTL
GOMP_LAB_PORTAL1=$PORTAL1
GOMP_LAB_PORTAL2=$PORTAL2
GOMP_LAB_TARGET=$TARGET
GOMP_LAB_CHAP_TARGET=$CHAP_TARGET
GOMP_LAB_CHAP_USER=$CHAP_USER
GOMP_LAB_CHAP_SECRET_FILE=$CHAP_SECRET_FILE
GOMP_LAB_MUTUAL_TARGET=$MUTUAL_TARGET
GOMP_LAB_MUTUAL_USER=$MUTUAL_USER
GOMP_LAB_MUTUAL_SECRET_FILE=$MUTUAL_SECRET_FILE
GOMP_LAB_MUTUAL_TARGET_USER=$MUTUAL_TARGET_USER
GOMP_LAB_MUTUAL_TARGET_SECRET_FILE=$MUTUAL_TARGET_SECRET_FILE
EOF
	chmod 644 "$DIR/env.tmp"
	mv -f "$DIR/env.tmp" "$DIR/env"
	date -u +%Y-%m-%dT%H:%M:%SZ >"$DIR/ready"
	trap - EXIT
	print_summary
}

cmd_down() {
	need_root down
	if [[ ! -e $DIR ]]; then
		rm -f -- "$IMG_LAB" "$IMG_CHAP" "$IMG_MUTUAL"
		echo "gomp lab: already down"
		return 0
	fi
	kill_recorded
	remove_state
	echo "gomp lab: down"
}

# One lab command at a time (per script file): up and down must not interleave.
lock() {
	command -v flock >/dev/null || return 0
	exec 9<"${BASH_SOURCE[0]}"
	flock -w 120 9 || die "another lab.sh is still running"
}

case ${1:-} in
up)
	need_root up
	lock
	cmd_up
	;;
down)
	need_root down
	lock
	cmd_down
	;;
status)
	cmd_status
	;;
envfile)
	# For make: where `up` writes the env file (it may not exist yet).
	printf '%s\n' "$DIR/env"
	;;
*)
	echo "usage: $0 up|down|status|envfile" >&2
	exit 2
	;;
esac
