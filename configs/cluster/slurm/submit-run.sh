#!/bin/bash
# Submit one nmsim run to Slurm as a job array of N shards plus a merge job
# that starts when every shard has succeeded; the merged report is
# OUT_DIR/run.json. Arguments before -- go to both sbatch calls, those after
# it to nmsim run. Run from the directory the paths are relative to. Prints
# the two job ids.
#
#   configs/cluster/slurm/submit-run.sh runs/mc20 20 --partition=short -- \
#       configs/rram-xnor.toml models/mnist-convert.bin --samples 10000 --mc 20 \
#       --set device.variation_sigma=0.1
#
# (about 44 CPU-minutes in all; adding --set device.read_noise_sigma=0.02
# makes it about 10.6 CPU-hours: docs/performance.md, "Read noise")
#
# NMSIM (default: nmsim on PATH) and DATA (default: nmsim's own data search)
# are passed on to the jobs.
set -euo pipefail
usage() {
	echo "usage: $0 OUT_DIR SHARDS [sbatch options…] -- arch.toml model.bin [nmsim run flags…]" >&2
	exit 2
}
[ $# -ge 2 ] || usage
out=$1 shards=$2
shift 2
sbatch_args=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	sbatch_args+=("$1")
	shift
done
[ $# -ge 3 ] || usage # --, arch.toml, model.bin
shift
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
export OUT=$out NMSIM=${NMSIM:-nmsim} ${DATA:+DATA=$DATA}
array=$(sbatch --parsable --array=1-"$shards" --export=ALL "${sbatch_args[@]}" "$here/run-array.sbatch" "$@")
merge=$(sbatch --parsable --dependency=afterok:"$array" --export=ALL "${sbatch_args[@]}" "$here/run-merge.sbatch")
echo "$array $merge"
