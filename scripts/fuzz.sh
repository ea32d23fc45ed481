#!/usr/bin/env bash
# scripts/fuzz.sh [FUZZTIME] — run every Fuzz* target of every package in turn.
#
# FUZZTIME (argument or environment; default 60s) is given to -fuzztime for each
# target. Packages may be narrowed with FUZZPKGS (default ./...). With no fuzz
# targets this does nothing and succeeds. The first failing target fails the run
# after all targets have run; go test leaves its failing input under the
# package's testdata/fuzz/NAME/ (commit it as a regression case).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

FUZZTIME=${1:-${FUZZTIME:-60s}}
read -r -a pkgs_args <<<"${FUZZPKGS:-./...}"

# "matched no packages" is only a warning (exit 0); a broken tree fails here.
pkglist=$(go list "${pkgs_args[@]}")
mapfile -t pkgs < <(grep -v '^$' <<<"$pkglist" || true)
if ((${#pkgs[@]} == 0)); then
	echo "fuzz: no packages"
	exit 0
fi

# fuzz_one PKG NAME: one fuzz run; fails only for a real finding. Go 1.26's
# fuzz coordinator can end a run with a bare "context deadline exceeded"
# when -fuzztime expires while a worker is mid-input (golang/go#75804, fixed
# in Go 1.27): no input is written, nothing was found. Such a run is retried
# once and, if it ends the same way, reported as a flake, not a failure. A
# real finding always writes its input ("Failing input written to ...").
fuzz_one() {
	local pkg=$1 name=$2 log attempt
	log=$(mktemp)
	for attempt in 1 2; do
		# Minimising a new input of a large seed (fuzz/'s recorded session
		# is ~30 KB) can otherwise eat the whole budget with no execs.
		if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s "$pkg" >"$log" 2>&1; then
			cat "$log"
			rm -f "$log"
			return 0
		fi
		# The race's signature: no input written, no panic, and the failure's
		# only detail line is the deadline.
		if grep -q 'Failing input written\|panic:' "$log" ||
			! grep -qx '    context deadline exceeded' "$log" ||
			[ "$(grep -c '^    ' "$log")" != 1 ]; then
			cat "$log"
			rm -f "$log"
			return 1
		fi
		# Shown, but not as a failure: CI's tally counts lines starting FAIL.
		sed 's/^--- FAIL:/--- FLAKE:/; s/^FAIL/FLAKE/' "$log"
		echo "fuzz: $name ended with Go's fuzztime race (golang/go#75804), no input written; attempt $attempt" >&2
	done
	rm -f "$log"
	flaked+=("$pkg $name")
	return 0
}

rc=0
ran=0
failed=()
flaked=()
for pkg in "${pkgs[@]}"; do
	# Packages without test files print "?  pkg [no test files]"; keep only names.
	if ! out=$(go test -list '^Fuzz' "$pkg" 2>&1); then
		echo "$out" >&2
		echo "fuzz: go test -list failed for $pkg" >&2
		rc=1
		failed+=("$pkg (list)")
		continue
	fi
	mapfile -t names < <(grep -E '^Fuzz[A-Za-z0-9_]*$' <<<"$out" || true)
	for name in "${names[@]}"; do
		echo "fuzz: $pkg $name for $FUZZTIME"
		ran=$((ran + 1))
		if ! fuzz_one "$pkg" "$name"; then
			rc=1
			failed+=("$pkg $name")
		fi
	done
done

if ((ran == 0)); then
	echo "fuzz: no fuzz targets"
fi
if ((${#flaked[@]} > 0)); then
	echo "fuzz: warning: ended twice by Go's fuzztime race, nothing found:" >&2
	printf '  %s\n' "${flaked[@]}" >&2
fi
if ((rc != 0)); then
	echo "fuzz: FAILED:" >&2
	printf '  %s\n' "${failed[@]}" >&2
fi
exit "$rc"
