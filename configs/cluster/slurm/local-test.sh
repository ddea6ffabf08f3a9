#!/bin/bash
# Tests the Slurm path for real on one machine: installs Slurm and MUNGE from
# Debian's packages when they are missing, starts a one-node cluster on
# localhost (its own munged socket, config, ports and state in a scratch
# directory, so nothing of a system installation is touched), submits a
# sharded sweep with submit.sh, waits for the array and the merge job, and
# checks that the merged results equal a local run of the same sweep; then
# the same for one Monte-Carlo run split into shards with submit-run.sh,
# whose merged JSON must equal the local run's byte for byte.
# The daemons are stopped on exit, whatever happens.
#
#   configs/cluster/slurm/local-test.sh [SHARDS]     (default 3)
#
# Needs root (apt-get, munged, slurmd) and Go. The model is
# models/mnist-convert.bin when it exists, else a small conv net trained here
# in a few seconds. MNIST comes from $NMSIM_DATA, ../shared/data or ./data.
set -euo pipefail
shards=${1:-3}
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
work=$(mktemp -d /tmp/nmsim-slurm.XXXXXX)
t0=$(date +%s)
log() { printf '[%4ds] %s\n' $(($(date +%s) - t0)) "$*"; }
fail() {
	log "FAIL: $*"
	for f in "$work"/*.log "$work"/jobs/*.out; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
	done
	exit 1
}

cleanup() {
	for f in slurmd slurmctld munged; do
		if [ -f "$work/$f.pid" ]; then
			pid=$(cat "$work/$f.pid")
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 50); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
		fi
	done
}
trap cleanup EXIT

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
	log "installing slurm-wlm and munge from the Debian archive"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q --no-install-recommends slurm-wlm munge >"$work/apt.log" 2>&1; then
		apt-get update -q >>"$work/apt.log" 2>&1
		apt-get install -y -q --no-install-recommends slurm-wlm munge >>"$work/apt.log" 2>&1 || fail "apt-get install"
	fi
fi
log "$(slurmctld -V), $(munged -V | head -n 1)"

# MUNGE authenticates Slurm's messages: a private daemon with its own key.
mungekey --create --keyfile="$work/munge.key"
munged --force --socket="$work/munge.sock" --key-file="$work/munge.key" --pid-file="$work/munged.pid" \
	--log-file="$work/munged.log" --seed-file="$work/munged.seed" || fail "munged"

node=$(hostname -s)
cpus=$(nproc)
mkdir -p "$work/state" "$work/spool" "$work/jobs"
export SLURM_CONF=$work/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=nmsimtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -c || fail "slurmctld"
slurmd || fail "slurmd"
for _ in $(seq 60); do
	state=$(sinfo -h -N -o %T 2>/dev/null || true)
	[ "$state" = idle ] && break
	sleep 1
done
[ "$state" = idle ] || fail "node $node is '$state', not idle"
log "cluster up: node $node, $cpus CPUs, partition local"

log "building nmsim"
go build -o "$work/nmsim" ./cmd/nmsim
if [ -z "${NMSIM_DATA:-}" ]; then
	for d in "$root/../shared/data" "$root/data"; do
		if [ -d "$d/mnist" ]; then
			NMSIM_DATA=$(cd "$d" && pwd)
			break
		fi
	done
fi
export NMSIM_DATA
model=$root/models/mnist-convert.bin
if [ ! -f "$model" ]; then
	model=$work/model.bin
	log "no models/mnist-convert.bin: training a small conv net"
	"$work/nmsim" train --net 8c3p1-ap2-16c3p1-ap2-10 --epochs 1 --train-samples 3000 --calib 500 \
		--eval-samples 200 --eval-timesteps 8 --workers "$cpus" -o "$model" >"$work/train.log" 2>&1 || fail "nmsim train"
fi
# Absolute paths: the jobs run in $work/jobs.
cat >"$work/sweep.toml" <<EOF
arch = "$root/configs/rram-xnor.toml"
models = ["$model"]
dataset = "mnist"
samples = 100
seeds = [1]
timesteps = [8]

[axes]
"crossbar.adc_bits" = [2, 3, 4, 6]
"crossbar.rows_per_read" = [16, 32, 64]
EOF

log "submitting $shards shards and a merge job"
read -r array merge < <(NMSIM=$work/nmsim "$root/configs/cluster/slurm/submit.sh" "$work/sweep.toml" "$work/out" "$shards" \
	--chdir="$work/jobs" --cpus-per-task=1)
[ -n "${merge:-}" ] || fail "submit.sh"
log "array job $array, merge job $merge (afterok:$array)"
# waitjobs ARRAY MERGE waits for both jobs, fails unless both completed and
# shows the jobs' output.
waitjobs() {
	for _ in $(seq 600); do
		[ -z "$(squeue -h -j "$1,$2" 2>/dev/null)" ] && break
		sleep 1
	done
	states=$({ scontrol -o show job "$1"; scontrol -o show job "$2"; } | grep -o 'JobState=[A-Z_]*')
	log "jobs finished: $(sort <<<"$states" | uniq -c | tr -s ' ' | tr '\n' ' ')"
	if grep -qv COMPLETED <<<"$states"; then
		fail "a job did not complete"
	fi
	for f in "$work"/jobs/*"-${1}_"*.out "$work"/jobs/*"-$2".out; do
		echo "--- ${f#"$work"/}"
		cat "$f"
	done
}
waitjobs "$array" "$merge"

log "running the same sweep locally"
"$work/nmsim" sweep "$work/sweep.toml" --out "$work/local" --workers "$cpus"
if ! cmp <(sort "$work/local/results.jsonl") <(sort "$work/out/merged/results.jsonl"); then
	fail "merged Slurm results differ from the local run"
fi
n=$(wc -l <"$work/local/results.jsonl")
log "OK: the merged results of $shards Slurm shards equal the local run ($n points, sha256 of the sorted lines $(sort "$work/local/results.jsonl" | sha256sum | cut -c1-16))"

runargs=("$root/configs/rram-xnor.toml" "$model" --samples 30 --timesteps 8 --mc 2 --set device.variation_sigma=0.2)
log "submitting one run (30 samples × 2 instances) as $shards shards and a merge job"
read -r array merge < <(NMSIM=$work/nmsim "$root/configs/cluster/slurm/submit-run.sh" "$work/run" "$shards" \
	--chdir="$work/jobs" --cpus-per-task=1 -- "${runargs[@]}")
[ -n "${merge:-}" ] || fail "submit-run.sh"
log "array job $array, merge job $merge (afterok:$array)"
waitjobs "$array" "$merge"
log "running the same run locally"
"$work/nmsim" run "${runargs[@]}" --workers "$cpus" --json "$work/run-local.json" >/dev/null
cmp "$work/run-local.json" "$work/run/run.json" || fail "the merged Slurm run differs from the local run"
log "OK: the merged report of $shards Slurm shards equals the local run's JSON byte for byte (sha256 $(sha256sum <"$work/run/run.json" | cut -c1-16))"
cleanup
rm -rf "$work"
