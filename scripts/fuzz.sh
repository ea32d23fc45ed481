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

rc=0
ran=0
failed=()
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
		# Minimising a new input of a large seed (fuzz/'s recorded session is
		# ~30 KB) can otherwise eat the whole budget with no execs.
		if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s "$pkg"; then
			rc=1
			failed+=("$pkg $name")
		fi
	done
done

if ((ran == 0)); then
	echo "fuzz: no fuzz targets"
fi
if ((rc != 0)); then
	echo "fuzz: FAILED:" >&2
	printf '  %s\n' "${failed[@]}" >&2
fi
exit "$rc"
