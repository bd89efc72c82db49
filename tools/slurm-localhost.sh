#!/usr/bin/env bash
# A real single-node Slurm on localhost (Debian's slurmctld, slurmd, munge), for testing the
# campaign Slurm backend without a cluster.
#
#   tools/slurm-localhost.sh start DIR   install if missing (root + apt-get, only under CI=true
#                                        or METARL_TEST_SLURM=1), write DIR/slurm.conf, start
#                                        munged (unless one runs), slurmctld and slurmd; prints
#                                        the SLURM_CONF line to export
#   tools/slurm-localhost.sh stop DIR    stop every daemon start started, remove a munge key it
#                                        created
#
# SLURM_MAX_ARRAY_SIZE=N sets the cluster's MaxArraySize (Slurm's default: 1001).
# Exit status 2 with a one-line reason when this machine cannot run Slurm.
set -euo pipefail
command=${1:?start or stop}
dir=$(realpath -m "${2:?state folder}")
export SLURM_CONF=$dir/slurm.conf
started=$dir/started   # one line per thing start did that stop undoes

stop_pid() {  # stop_pid PIDFILE: TERM the process, KILL it if it lingers
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

if [[ $command == stop ]]; then
    scontrol shutdown >/dev/null 2>&1 || true
    stop_pid "$dir/slurmctld.pid"
    stop_pid "$dir/slurmd.pid"
    if [[ -f $started ]]; then
        grep -qx munged "$started" && stop_pid /run/munge/munged.pid
        grep -qx munge-key "$started" && rm -f /etc/munge/munge.key
        rm -f "$started"
    fi
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    if [[ ${CI:-} != true && ${METARL_TEST_SLURM:-} != 1 ]]; then
        echo "Slurm is not installed; set METARL_TEST_SLURM=1 (as root, with apt-get) to let this install slurmctld, slurmd, slurm-client and munge" >&2
        exit 2
    fi
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
        echo "Slurm is not installed and cannot be installed here (needs root and apt-get): apt-get install slurmctld slurmd slurm-client munge" >&2
        exit 2
    fi
    echo "installing slurmctld slurmd slurm-client munge with apt-get (log: $dir.apt.log)" >&2
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge; } >"$dir.apt.log" 2>&1 \
        || { echo "apt-get install slurmctld slurmd slurm-client munge failed; see $dir.apt.log" >&2; exit 2; }
fi
if [[ $(id -u) != 0 ]]; then
    echo "slurmd must run as root to start jobs; run the Slurm test as root" >&2
    exit 2
fi

mkdir -p "$dir/spool" "$dir/state" /run/munge
: >"$started"
if [[ ! -f /etc/munge/munge.key ]]; then
    { mungekey -c >/dev/null 2>&1 || /usr/sbin/create-munge-key >/dev/null 2>&1; } && echo munge-key >>"$started"
fi
chown munge:munge /run/munge /etc/munge/munge.key 2>/dev/null || true
if ! pgrep -x munged >/dev/null; then
    munged --force 2>/dev/null || { echo "munged would not start" >&2; exit 2; }
    echo munged >>"$started"
fi

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
if [[ -n ${SLURM_MAX_ARRAY_SIZE:-} ]]; then
    echo "MaxArraySize=$SLURM_MAX_ARRAY_SIZE" >>"$SLURM_CONF"
fi
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
