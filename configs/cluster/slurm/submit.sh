#!/bin/bash
# Submit an nmsim sweep to Slurm as a job array of N shards plus a merge job
# that starts when every shard has succeeded. Run from the directory the
# sweep file's paths are relative to (the repository root for the shipped
# sweeps). Prints the two job ids.
#
#   configs/cluster/slurm/submit.sh configs/sweeps/adc-rows.toml runs/adc-rows 4
#
# NMSIM (default: nmsim on PATH) and DATA (default: nmsim's own data search)
# are passed on to the jobs; extra arguments go to both sbatch calls, e.g.
# --partition=short.
set -euo pipefail
if [ $# -lt 3 ]; then
	echo "usage: $0 sweep.toml OUT_DIR SHARDS [sbatch options…]" >&2
	exit 2
fi
sweep=$1 out=$2 shards=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
export SWEEP=$sweep OUT=$out NMSIM=${NMSIM:-nmsim} ${DATA:+DATA=$DATA}
array=$(sbatch --parsable --array=0-$((shards - 1)) --export=ALL "$@" "$here/sweep-array.sbatch")
merge=$(sbatch --parsable --dependency=afterok:"$array" --export=ALL "$@" "$here/merge.sbatch")
echo "$array $merge"
