#!/usr/bin/env bash
# scripts/demo.sh — the README's first command (make demo): build gomp, bring
# up the lab target (tgtd on two loopback portals), discover it, list its
# LUNs through both portals, then attach the LUN with multipath and move data
# through it while one portal is cut. Leaves nothing running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
GOMP=${GOMP:-bin/gomp}
LAB="bash scripts/lab.sh"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/demo-lib.sh"

# Stop the lab at the end only if this demo started it.
was_up=
if $LAB status >/dev/null 2>&1; then was_up=1; fi
cleanup() { [[ -n $was_up ]] || $LAB down >/dev/null 2>&1 || true; }
trap cleanup EXIT

step "build"
echo "\$ make build"
make --no-print-directory build >/dev/null
step "lab: tgtd on 127.0.0.1:3260 and 127.0.0.2:3260"
echo "\$ scripts/lab.sh up"
$LAB up | sed -n '1,3p'
echo "\$ set -a; . $($LAB envfile); set +a   # GOMP_LAB_PORTAL1, GOMP_LAB_TARGET, ..."
set -a; . "$($LAB envfile)"; set +a

step "discover the targets (like iscsiadm -m discovery -t st)"
show "$GOMP" discover "$GOMP_LAB_PORTAL1" "$GOMP_LAB_PORTAL2"

step "list the LUNs through both portals (like iscsiadm -m node -l + multipath -ll)"
show "$GOMP" ls --target "$GOMP_LAB_TARGET" --portal "$GOMP_LAB_PORTAL1" --portal "$GOMP_LAB_PORTAL2"

step "CHAP: the same through a target that requires it"
show "$GOMP" ls --target "$GOMP_LAB_CHAP_TARGET" --portal "$GOMP_LAB_PORTAL1" \
	--chap-user "$GOMP_LAB_CHAP_USER" --chap-secret-file "$GOMP_LAB_CHAP_SECRET_FILE"

step "attach with multipath and export over NBD; write, read back, cut a portal, restore, detach"
bash scripts/demo-attach.sh

step "done"
