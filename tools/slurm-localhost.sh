#!/usr/bin/env bash
# A real single-node Slurm on localhost (Debian's slurmctld, slurmd, munge), for testing the
# campaign Slurm backend without a cluster.
#
#   tools/slurm-localhost.sh start DIR   install if missing (root + apt), write DIR/slurm.conf,
#                                        start munged, slurmctld and slurmd; prints the
#                                        SLURM_CONF line to export
#   tools/slurm-localhost.sh stop DIR    shut the daemons down
#
# Exit status 2 with a one-line reason when this machine cannot run Slurm.
set -euo pipefail
command=${1:?start or stop}
dir=$(realpath -m "${2:?state folder}")
export SLURM_CONF=$dir/slurm.conf

if [[ $command == stop ]]; then
    scontrol shutdown >/dev/null 2>&1 || true
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
        echo "Slurm is not installed and cannot be installed here (needs root and apt-get): apt-get install slurmctld slurmd slurm-client munge" >&2
        exit 2
    fi
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge; } >"$dir.apt.log" 2>&1 \
        || { echo "apt-get install slurmctld slurmd slurm-client munge failed; see $dir.apt.log" >&2; exit 2; }
fi
if [[ $(id -u) != 0 ]]; then
    echo "slurmd must run as root to start jobs; run the Slurm test as root" >&2
    exit 2
fi

mkdir -p "$dir/spool" "$dir/state" /run/munge
[[ -f /etc/munge/munge.key ]] || mungekey -c >/dev/null 2>&1 || /usr/sbin/create-munge-key >/dev/null 2>&1
chown munge:munge /run/munge /etc/munge/munge.key 2>/dev/null || true
pgrep -x munged >/dev/null || munged --force 2>/dev/null || { echo "munged would not start" >&2; exit 2; }

cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
cat >"$SLURM_CONF" <<CONF
ClusterName=metarl
SlurmctldHost=localhost
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmdSpoolDir=$dir/spool
StateSaveLocation=$dir/state
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmUser=root
SlurmctldPort=16817
SlurmdPort=16818
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
NodeName=localhost NodeHostname=$(hostname) CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
scontrol shutdown >/dev/null 2>&1 || true
sleep 1
slurmctld -f "$SLURM_CONF" || { echo "slurmctld would not start; see $dir/slurmctld.log" >&2; exit 2; }
slurmd -f "$SLURM_CONF" || { echo "slurmd would not start; see $dir/slurmd.log" >&2; exit 2; }
for _ in $(seq 30); do
    if sinfo --noheader --format=%T 2>/dev/null | grep -qx idle; then
        echo "export SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 1
done
echo "the node never became idle; see $dir/slurmctld.log and $dir/slurmd.log" >&2
exit 2
