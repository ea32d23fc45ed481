#!/usr/bin/env bash
# scripts/demo-attach.sh — part of make demo (run by scripts/demo.sh with the
# lab up and its env exported): attach the lab LUN through both portals as
# one multipath device on an NBD socket, move data through it, cut one portal
# while I/O runs, show the path failed, restore it and detach.
set -euo pipefail
GOMP=${GOMP:-bin/gomp}
run=$(mktemp -d)
sock=$run/lab.nbd
ctl=$run/ctl
nft_table=gomp_demo
attach_pid=

show() { printf '$ %s\n' "$*"; "$@"; }
cleanup() {
	nft delete table inet "$nft_table" 2>/dev/null || true
	if [[ -n $attach_pid ]] && kill -0 "$attach_pid" 2>/dev/null; then kill "$attach_pid"; wait "$attach_pid" || true; fi
	rm -rf "$run"
}
trap cleanup EXIT

echo "\$ $GOMP attach --target $GOMP_LAB_TARGET --portal $GOMP_LAB_PORTAL1 --portal $GOMP_LAB_PORTAL2 --listen unix:$sock &"
"$GOMP" attach --target "$GOMP_LAB_TARGET" --portal "$GOMP_LAB_PORTAL1" --portal "$GOMP_LAB_PORTAL2" \
	--listen "unix:$sock" --control-dir "$ctl" --no-path-retry 12 >"$run/ready" 2>"$run/log" &
attach_pid=$!
for _ in $(seq 100); do [[ -s $run/ready ]] && break; sleep 0.1; done
cat "$run/ready"
name=$(awk '{print $2}' "$run/ready")
uri="nbd+unix:///?socket=$sock"

head -c 64M /dev/urandom >"$run/data"
show nbdcopy "$run/data" "$uri"
show "$GOMP" status --control-dir "$ctl"

echo
echo "# cut portal $GOMP_LAB_PORTAL2 (nftables blackhole) and keep copying"
nft add table inet "$nft_table"
nft add chain inet "$nft_table" out '{ type filter hook output priority 0; }'
nft add rule inet "$nft_table" out ip daddr "${GOMP_LAB_PORTAL2%:*}" tcp dport "${GOMP_LAB_PORTAL2#*:}" drop
start=$(date +%s.%N)
show nbdcopy "$uri" "$run/back"
end=$(date +%s.%N)
show cmp "$run/data" <(head -c 64M "$run/back")
echo "copied the whole 1 GiB device out with one portal cut in $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}') s; the first 64 MiB match"
sleep 1
show "$GOMP" status --control-dir "$ctl"

echo
echo "# restore the portal; the checker reinstates the path"
nft delete table inet "$nft_table"
for _ in $(seq 60); do
	"$GOMP" status --json --control-dir "$ctl" | grep -q '"dm_state": "failed"' || break
	sleep 0.5
done
show "$GOMP" status --control-dir "$ctl"
show "$GOMP" detach "$name" --control-dir "$ctl"
wait "$attach_pid"
attach_pid=
echo "gomp attach exited cleanly"
