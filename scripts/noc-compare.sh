#!/usr/bin/env bash
# noc-compare.sh OLD_BIN NEW_BIN [RUNS]: runs `nmsim noc` cases with both
# binaries, interleaved, RUNS times each (default 3); checks that the JSON
# of each case is byte-identical and prints the minimum CPU µs (user+sys)
# per simulated cycle of each binary. Needs jq.
#
#   go build -o /tmp/nmsim-new ./cmd/nmsim
#   scripts/noc-compare.sh /tmp/nmsim-old /tmp/nmsim-new 5
set -euo pipefail
old=$1 new=$2 runs=${3:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cases=(
	"--size 8x8 --rate 0.2 --measure 50000"
	"--size 8x8 --rate 0.02 --measure 50000"
	"--size 8x8 --rate 0.2 --packet-flits 4 --vcs 4 --measure 50000"
	"--size 8x8 --rate 0.1 --pattern transpose --measure 50000"
	"--size 16x16 --rate 0.2"
	"--size 32x32 --rate 0.02 --warmup 200 --measure 2000"
	"--size 32x32 --rate 0.002 --warmup 200 --measure 2000"
	"--size 4x4 --topology torus --vcs 4 --rate 0.3 --packet-flits 3 --measure 50000"
)
cpu() { # cpu BIN JSON ARGS...: CPU seconds of one run
	local bin=$1 json=$2
	shift 2
	local TIMEFORMAT='%3U %3S'
	{ time "$bin" noc "$@" --json "$json" >/dev/null; } 2>"$tmp/t"
	awk '{print $1 + $2}' "$tmp/t"
}
printf '%-58s %10s %10s %7s  %s\n' case "old µs/cyc" "new µs/cyc" ratio json
for c in "${cases[@]}"; do
	read -ra args <<<"$c"
	best_old=1e9 best_new=1e9
	for ((i = 0; i < runs; i++)); do
		t=$(cpu "$old" "$tmp/old.json" "${args[@]}")
		best_old=$(awk -v a="$best_old" -v b="$t" 'BEGIN{print (b < a) ? b : a}')
		t=$(cpu "$new" "$tmp/new.json" "${args[@]}")
		best_new=$(awk -v a="$best_new" -v b="$t" 'BEGIN{print (b < a) ? b : a}')
	done
	same=identical
	cmp -s "$tmp/old.json" "$tmp/new.json" || same=DIFFERENT
	cycles=$(jq .cycles "$tmp/new.json")
	awk -v c="$c" -v o="$best_old" -v n="$best_new" -v k="$cycles" -v s="$same" \
		'BEGIN{printf "%-58s %10.2f %10.2f %6.2f×  %s\n", c, o*1e6/k, n*1e6/k, o/n, s}'
done
