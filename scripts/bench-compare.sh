#!/usr/bin/env bash
# bench-compare.sh OLD_REV [RUNS]: how much faster the working tree's nmsim
# is than OLD_REV's. Builds both binaries (OLD_REV in a temporary git
# worktree), runs each `nmsim run` case below with both, interleaved, RUNS
# times (default 3), and prints per case the minimum wall seconds and CPU
# seconds (user + sys) of each, the ratios, the larger peak RSS, and
# whether the two JSON reports are byte-identical. Then runs the
# `go test -bench` benchmarks of crossbar, neuron, chip, runner and bitvec in both
# trees, interleaved, and prints each one's minimum ns/op. CPU seconds are
# the figure to trust on a shared machine: wall time counts the waits for a
# core.
#
#   NMSIM_DATA=../shared/data scripts/bench-compare.sh c0fa80b 3
#
# SAMPLES scales the sample counts (default 1: MNIST conv 2000 samples);
# BENCH=0 skips the go test benchmarks, RUNS_ONLY=0 skips the runs.
set -euo pipefail
old_rev=$1 runs=${2:-3} scale=${SAMPLES:-1}
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
cleanup() {
	git -C "$root" worktree remove --force "$tmp/old" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
git -C "$root" worktree add --detach "$tmp/old" "$old_rev" >/dev/null 2>&1
(cd "$tmp/old" && go build -o "$tmp/nmsim-old" ./cmd/nmsim)
(cd "$root" && go build -o "$tmp/nmsim-new" ./cmd/nmsim)
# The new binary runs on a copy of the working tree's presets and models,
# so that the tree may change (a rebase, say) while the script runs.
mkdir -p "$tmp/new"
cp -r "$root/configs" "$root/models" "$tmp/new/"
# Every binary is built before anything runs.
pkgs=(./crossbar/ ./neuron/ ./chip/ ./runner/ ./internal/bitvec/)
if [ "${BENCH:-1}" != 0 ]; then
	for p in "${pkgs[@]}"; do
		name=$(basename "$p")
		(cd "$tmp/old" && go test -c -o "$tmp/old-$name.test" "$p")
		(cd "$root" && go test -c -o "$tmp/new-$name.test" "$p")
	done
fi
n() { awk -v n="$1" -v s="$scale" 'BEGIN{k = int(n * s); print (k > 0) ? k : 1}'; }

# Each case: model, then flags (the preset configs/rram-xnor.toml, one
# worker, the cycle-level NoC unless a case says otherwise). The data
# directory is $NMSIM_DATA, else ../shared/data beside the repository,
# else the repository's data/ (MNIST only).
cases=(
	"models/mnist-convert.bin --samples $(n 2000)"
	"models/fashion-mnist-convert.bin --samples $(n 300)"
	"models/mnist-ttfs.bin --samples $(n 2000)"
	"models/mnist-surrogate.bin --samples $(n 2000)"
	"models/fashion-mnist-surrogate.bin --samples $(n 1000)"
	"models/mnist-convert.bin --samples $(n 200) --set device.read_noise_sigma=0.02"
	"models/mnist-convert.bin --samples $(n 500) --set noc.model=zeroload"
)

# Each binary runs in its own tree, with that tree's preset and models;
# both read the same data directory.
data=${NMSIM_DATA:-$root/../shared/data}
[ -d "$data" ] || data=$root/data
measure() { # measure old|new JSON ARGS...: "wall cpu rss_kb" of one run
	local v=$1 json=$2 dir=$tmp/new
	shift 2
	[ "$v" = old ] && dir=$tmp/old
	(cd "$dir" && /usr/bin/time -f '%e %U %S %M' -o "$tmp/t" "$tmp/nmsim-$v" run configs/rram-xnor.toml "$@" \
		--workers 1 --data "$data" --json "$json" >/dev/null)
	awk '{print $1, $2 + $3, $4}' "$tmp/t"
}
minimum() { awk -v a="$1" -v b="$2" 'BEGIN{print (b < a) ? b : a}'; }

if [ "${RUNS_ONLY:-1}" != 0 ]; then
	echo "nmsim run, --workers 1, min of $runs interleaved runs (old = $old_rev, new = working tree)"
	printf '%-72s %8s %8s %8s %8s %7s %7s %8s  %s\n' case "old s" "new s" "old cpu" "new cpu" "wall×" "cpu×" "RSS MB" json
	for c in "${cases[@]}"; do
		read -ra args <<<"$c"
		ow=1e9 nw=1e9 oc=1e9 nc=1e9 rss=0
		for ((i = 0; i < runs; i++)); do
			read -r w u r < <(measure old "$tmp/old.json" "${args[@]}")
			ow=$(minimum "$ow" "$w") oc=$(minimum "$oc" "$u")
			read -r w u r < <(measure new "$tmp/new.json" "${args[@]}")
			nw=$(minimum "$nw" "$w") nc=$(minimum "$nc" "$u") rss=$((r > rss ? r : rss))
		done
		same=identical
		cmp -s "$tmp/old.json" "$tmp/new.json" || same=DIFFERENT
		awk -v c="$c" -v ow="$ow" -v nw="$nw" -v oc="$oc" -v nc="$nc" -v r="$rss" -v s="$same" \
			'BEGIN{printf "%-72s %8.2f %8.2f %8.2f %8.2f %6.2f× %6.2f× %8.1f  %s\n", c, ow, nw, oc, nc, ow/nw, oc/nc, r/1024, s}'
	done
fi

if [ "${BENCH:-1}" != 0 ]; then
	echo
	echo "go test -bench, min ns/op of $runs interleaved runs"
	for p in "${pkgs[@]}"; do
		name=$(basename "$p")
		for ((i = 0; i < runs; i++)); do
			for v in old new; do
				# Run from the package directory, as go test does (the
				# runner's benchmark reads models/ relative to it).
				[ -x "$tmp/$v-$name.test" ] || continue # no tests in that tree
				(cd "$root/$p" && "$tmp/$v-$name.test" -test.run '^$' -test.bench . -test.benchtime 200ms 2>/dev/null) |
					awk -v v="$v" -v pkg="$name" '/^Benchmark/ {print pkg, v, $1, $3}' >>"$tmp/bench"
			done
		done
	done
	awk '{k = $1 " " $3; if (!(k in seen)) {seen[k] = 1; order[++m] = k}
	      if (!((k, $2) in best) || $4 < best[k, $2]) best[k, $2] = $4}
	     END {printf "%-60s %12s %12s %7s\n", "benchmark", "old ns/op", "new ns/op", "ratio"
	          for (i = 1; i <= m; i++) {k = order[i]; o = best[k, "old"]; nn = best[k, "new"]
	            if (o == "" || nn == "") printf "%-60s %12s %12s\n", k, (o == "" ? "-" : o), (nn == "" ? "-" : nn)
	            else printf "%-60s %12.0f %12.0f %6.2f×\n", k, o, nn, o / nn}}' "$tmp/bench"
fi
