#!/usr/bin/env bash
# noc-equiv.sh OLD_BIN NEW_BIN: runs `nmsim noc` and `nmsim run` cases that
# exercise every NoC option (both allocation modes, multicast, torus, YX
# routing, 1 VC, pipeline depths, link latency, credit delay, bounded NI
# queue, traffic patterns, a sweep, traces, 2 workers) with both binaries
# and checks that each case's JSON (and trace file) is byte-identical.
# Prints one line per case and exits non-zero if any differs. A change to
# the network's code that is meant to be a pure speed-up must pass it.
#
#   go build -o /tmp/nmsim-old ./cmd/nmsim   # before the change
#   go build -o /tmp/nmsim-new ./cmd/nmsim
#   NMSIM_DATA=../shared/data scripts/noc-equiv.sh /tmp/nmsim-old /tmp/nmsim-new
set -euo pipefail
old=$1 new=$2
root=$(git rev-parse --show-toplevel)
data=${NMSIM_DATA:-$root/../shared/data}
[ -d "$data" ] || data=$root/data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
noc=(
	"--size 8x8 --rate 0.2 --measure 5000"
	"--size 8x8 --rate 0.2 --measure 5000 --set noc.allocation=separate"
	"--size 8x8 --rate 0.3 --measure 3000 --set noc.allocation=separate --set noc.credit_delay_cycles=2"
	"--size 8x8 --rate 0.35 --packet-flits 4 --vcs 4 --measure 3000"
	"--size 8x8 --rate 0.12 --pattern transpose --measure 3000"
	"--size 8x8 --rate 0.12 --pattern transpose --measure 3000 --set noc.allocation=separate"
	"--size 8x8 --rate 0.2 --pattern bitcomp --measure 3000 --routing yx"
	"--size 8x8 --rate 0.1 --pattern hotspot --measure 3000 --packet-flits 2"
	"--size 8x8 --rate 0.3 --pattern neighbor --measure 3000"
	"--size 8x8 --rate 0.15 --measure 3000 --set noc.vcs=1"
	"--size 8x8 --rate 0.15 --measure 3000 --set noc.vcs=1 --packet-flits 3"
	"--size 8x8 --rate 0.2 --measure 3000 --pipeline 2"
	"--size 8x8 --rate 0.2 --measure 3000 --pipeline 1"
	"--size 8x8 --rate 0.2 --measure 3000 --pipeline 5 --set noc.link_latency_cycles=2"
	"--size 8x8 --rate 0.2 --measure 3000 --set noc.vc_depth=2 --set noc.credit_delay_cycles=1"
	"--size 8x8 --rate 0.25 --measure 3000 --set noc.vc_depth=5 --packet-flits 3"
	"--size 8x8 --rate 0.6 --measure 2000 --set noc.ni_queue_packets=4"
	"--size 8x8 --rate 0.6 --measure 2000 --set noc.ni_queue_packets=2 --set noc.allocation=separate --packet-flits 3"
	"--size 4x4 --topology torus --vcs 4 --rate 0.3 --packet-flits 3 --measure 5000"
	"--size 6x6 --topology torus --vcs 2 --rate 0.2 --measure 3000 --set noc.allocation=separate"
	"--size 5x7 --topology torus --vcs 4 --rate 0.25 --measure 3000 --routing yx --packet-flits 2"
	"--size 16x16 --rate 0.2 --measure 1000"
	"--size 32x32 --rate 0.02 --warmup 200 --measure 1000"
	"--size 32x32 --rate 0.002 --warmup 200 --measure 1000"
	"--size 4x4 --rate 0.05 --sweep --step 0.1 --refine 2 --out $tmp/sweep"
)
run=(
	"models/mnist-convert.bin --samples 20"
	"models/mnist-convert.bin --samples 20 --workers 2"
	"models/mnist-convert.bin --samples 20 --set noc.multicast=tree"
	"models/mnist-convert.bin --samples 20 --set noc.allocation=separate"
	"models/mnist-convert.bin --samples 20 --set noc.vcs=1"
	"models/mnist-convert.bin --samples 20 --set noc.vcs=4 --set noc.vc_depth=2 --set noc.credit_delay_cycles=2"
	"models/mnist-convert.bin --samples 20 --set noc.ni_queue_packets=2"
	"models/mnist-convert.bin --samples 20 --set noc.routing=yx --set noc.pipeline_stages=4"
	"models/mnist-convert.bin --samples 20 --set chip.topology=torus --set noc.multicast=tree"
	"models/mnist-convert.bin --samples 10 --set noc.model=zeroload"
	"models/mnist-ttfs.bin --samples 20"
	"models/mnist-surrogate.bin --samples 20 --set noc.multicast=tree --set noc.allocation=separate"
	"models/fashion-mnist-convert.bin --samples 5"
)
fail=0
check() { # check NAME FILE...: compare the old and new outputs
	local name=$1 same=identical
	shift
	for f in "$@"; do
		[ -s "$tmp/new.$f" ] || same=MISSING
		cmp -s "$tmp/old.$f" "$tmp/new.$f" || same=DIFFERENT
	done
	[ "$same" = identical ] || fail=1
	printf '%-10s %s\n' "$same" "$name"
}
for c in "${noc[@]}"; do
	read -ra args <<<"$c"
	for v in old new; do
		bin=$old
		[ $v = new ] && bin=$new
		"$bin" noc "${args[@]}" --json "$tmp/$v.json" >"$tmp/$v.out" 2>&1
	done
	check "noc $c" json out
done
for c in "${run[@]}"; do
	read -ra args <<<"$c"
	for v in old new; do
		bin=$old
		[ $v = new ] && bin=$new
		(cd "$root" && "$bin" run configs/rram-xnor.toml "${args[@]}" --data "$data" --json "$tmp/$v.json" >/dev/null)
	done
	check "run $c" json
done
# A trace: every packet's injection, grants and ejection.
for v in old new; do
	bin=$old
	[ $v = new ] && bin=$new
	(cd "$root" && "$bin" run configs/rram-xnor.toml models/mnist-convert.bin --samples 3 --trace "$tmp/$v.trace" \
		--trace-samples 2 --data "$data" --json "$tmp/$v.json" >/dev/null)
done
check "run mnist-convert --trace" json trace
exit $fail
