#!/usr/bin/env bash
# scripts/demo-attach.sh — part of make demo (run by scripts/demo.sh with the
# lab up and its env exported): attach the lab LUN through both portals as one
# multipath device on an NBD socket, write data through it and read it back,
# cut one portal with nftables while I/O goes on, watch the path fail, restore
# the portal, watch the path come back, and detach.
#
# Every command it runs is printed first, as a user would type it (the paths
# are the demo's own temporary ones). Its control socket is the default,
# /run/gomp/lab.sock, so that "gomp status lab" works as printed.
set -euo pipefail
GOMP=${GOMP:-bin/gomp}
run=$(mktemp -d /tmp/gomp-demo.XXXXXX)
sock=$run/lab.nbd
uri="nbd+unix:///lab?socket=$sock"
nft_table=gomp_demo
portal2_host=${GOMP_LAB_PORTAL2%:*}
portal2_port=${GOMP_LAB_PORTAL2##*:}
attach_pid=

say() { printf '\n# %s\n' "$*"; }
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/demo-lib.sh"
# showsh LINE: the same for a shell line with a redirection.
showsh() {
	printf '$ %s\n' "$1"
	eval "$1"
}
cleanup() {
	nft delete table inet "$nft_table" 2>/dev/null || true
	if [[ -n $attach_pid ]] && kill -0 "$attach_pid" 2>/dev/null; then
		kill "$attach_pid"
		wait "$attach_pid" || true
	fi
	rm -rf "$run"
}
trap cleanup EXIT

# path_state PORTAL prints the path's dm state (active/failed) from gomp status --json.
path_state() {
	"$GOMP" status --json lab | python3 -c '
import json, sys
for d in json.load(sys.stdin):
    for g in d["device"]["groups"]:
        for p in g["paths"]:
            if p["portal"] == sys.argv[1]:
                print(p["dm_state"])' "$1"
}

# wait_state PORTAL STATE SECONDS waits until the path is in STATE.
wait_state() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[[ $(path_state "$1") == "$2" ]] && return 0
		sleep 0.1
	done
	echo "demo: path $1 is not $2 after $3 s" >&2
	return 1
}

say "attach the LUN through both portals as one device 'lab', exported on an NBD socket"
echo "\$ $GOMP attach --target $GOMP_LAB_TARGET --portal $GOMP_LAB_PORTAL1 --portal $GOMP_LAB_PORTAL2 --lun 1 --alias lab --listen unix:$sock &"
"$GOMP" attach --target "$GOMP_LAB_TARGET" --portal "$GOMP_LAB_PORTAL1" --portal "$GOMP_LAB_PORTAL2" \
	--lun 1 --alias lab --listen "unix:$sock" >"$run/ready" 2>"$run/attach.log" &
attach_pid=$!
for _ in $(seq 300); do
	[[ -s $run/ready ]] && break
	kill -0 "$attach_pid" 2>/dev/null || break
	sleep 0.1
done
if [[ ! -s $run/ready ]]; then
	echo "demo: gomp attach did not become ready; its log:" >&2
	cat "$run/attach.log" >&2
	exit 1
fi
cat "$run/ready"
show nbdinfo "$uri"

say "both paths active"
show "$GOMP" status lab

say "write 64 MiB through the device and read it back"
showsh "head -c 64M /dev/urandom >$run/data"
show nbdcopy "$run/data" "$uri"
show nbdcopy "$uri" "$run/back"
show cmp -n 64M "$run/data" "$run/back"
echo "the 64 MiB read back match what was written"

say "cut portal $GOMP_LAB_PORTAL2 (an nftables blackhole) and keep writing"
show nft add table inet "$nft_table"
show nft add chain inet "$nft_table" out '{ type filter hook output priority 0; }'
show nft add rule inet "$nft_table" out ip daddr "$portal2_host" tcp dport "$portal2_port" drop
showsh "head -c 64M /dev/urandom >$run/data2"
start=$(date +%s.%N)
show nbdcopy "$run/data2" "$uri"
show nbdcopy "$uri" "$run/back2"
end=$(date +%s.%N)
show cmp -n 64M "$run/data2" "$run/back2"
echo "wrote 64 MiB and read the whole 1 GiB device back with one portal cut, in" \
	"$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s; the 64 MiB match"
wait_state "$GOMP_LAB_PORTAL2" failed 30

say "the cut path is failed; I/O runs on the other"
show "$GOMP" status lab

say "restore the portal; the checker reinstates the path"
show nft delete table inet "$nft_table"
wait_state "$GOMP_LAB_PORTAL2" active 60
show "$GOMP" status lab

say "detach: flush, close the NBD socket, log out"
show "$GOMP" detach lab
wait "$attach_pid"
attach_pid=
echo "gomp attach exited cleanly"
