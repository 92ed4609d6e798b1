#!/usr/bin/env bash
# Starts a one-node SLURM cluster on this machine without systemd, for testing the SLURM profile:
# munged with its own key and socket, then slurmctld -D and slurmd -D in the background.
# Configuration, state, logs and pid files live in one folder (argument 1, else $SAIL_SLURM_DIR,
# else /tmp/sail-slurm). Clients find the cluster through SLURM_CONF=<folder>/etc/slurm.conf and,
# inside jobs, through the link /etc/slurm/slurm.conf to it: Snakemake's job steps call srun with
# every SLURM_* variable removed. Returns once the node is idle; does nothing if that cluster is
# already running. Needs root.
set -euo pipefail

export PATH=$PATH:/usr/sbin:/sbin # the daemons live in sbin, which a PATH may lack

state=$(realpath -m "${1:-${SAIL_SLURM_DIR:-/tmp/sail-slurm}}")
export SLURM_CONF=$state/etc/slurm.conf
system_conf=/etc/slurm/slurm.conf
ready_timeout_s=60

fail() {
    echo "start.sh: $*" >&2
    exit 1
}

# wait_until DESCRIPTION COMMAND...: polls COMMAND once a second, fails with the logs on timeout
wait_until() {
    local description=$1
    shift
    for ((waited = 0; waited < ready_timeout_s; waited++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    tail -n 20 "$state"/log/* >&2 || true
    fail "timed out after ${ready_timeout_s}s waiting until $description; logs in $state/log"
}

node_idle() {
    [[ $(sinfo --noheader --nodes="$host" --format=%t) == idle ]]
}

[[ $EUID -eq 0 ]] || fail "must run as root (slurmd starts every job as its submitting user)"
for tool in munged mungekey munge slurmctld slurmd sinfo; do
    command -v "$tool" >/dev/null || fail "$tool not found (run ci/slurm/install.sh)"
done

ctld_pid_file=$state/run/slurmctld.pid
if [[ -f $ctld_pid_file && $(ps -o comm= -p "$(<"$ctld_pid_file")") == slurmctld ]]; then
    echo "SLURM cluster already running (SLURM_CONF=$SLURM_CONF)"
    exit 0
fi
if [[ -e $system_conf || -L $system_conf ]] && [[ $(readlink "$system_conf") != "$SLURM_CONF" ]]; then
    fail "$system_conf belongs to another SLURM setup (srun inside jobs would read it)"
fi
# the folder is wiped below: it must be empty or one that this script made
marker=$state/.sail-slurm
if [[ -d $state && ! -e $marker && -n $(ls -A "$state") ]]; then
    fail "$state is not empty and was not made by start.sh"
fi
stop=$(dirname "$(realpath "$0")")/stop.sh
"$stop" "$state" >/dev/null
# from here on, a failure stops whatever was started
trap 'status=$?; ((status == 0)) || "$stop" "$state" >/dev/null' EXIT
rm -rf "${state:?}"/{etc,munge,spool,ctld,log,run}
mkdir -p "$state"/{etc,munge,spool,ctld,log,run}
touch "$marker"
# munged wants its socket folder reachable by every user; the key itself is 0600
chmod 755 "$state" "$state/munge"

host=$(hostname -s)
# slurmd -C prints this machine's "NodeName=<host> CPUs=... RealMemory=<MB>" line. Memory is not
# enforced here (no cgroups), so the node declares at least 64 GB: the profile's requests then
# fit on small CI machines. config_overrides makes slurmd accept the declaration.
hardware=$(slurmd -C | head -n 1)
memory_mb=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hardware")
node=${hardware/RealMemory=$memory_mb/RealMemory=$((memory_mb > 64000 ? memory_mb : 64000))}

cat >"$SLURM_CONF" <<EOF
ClusterName=sailci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/munge/munge.socket
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
# finished jobs stay visible to squeue and scontrol for an hour: the profile polls with squeue
# (which needs at least 120 s) and the test reads the records back after the run
MinJobAge=3600
GresTypes=gpu
$node NodeAddr=127.0.0.1 Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
# a GPU that does not exist: lets jobs that request --gpus=1 be scheduled on a CPU machine
echo "Name=gpu File=/dev/null" >"$state/etc/gres.conf"
mkdir -p "$(dirname "$system_conf")"
ln -sfn "$SLURM_CONF" "$system_conf"

mungekey --create --keyfile="$state/munge/munge.key"
munged --key-file="$state/munge/munge.key" --socket="$state/munge/munge.socket" \
    --pid-file="$state/run/munged.pid" --log-file="$state/log/munged.log" \
    --seed-file="$state/munge/munged.seed"
munge --socket="$state/munge/munge.socket" --no-input >/dev/null ||
    fail "munged does not answer on $state/munge/munge.socket (see $state/log/munged.log)"

# -D keeps each daemon in the foreground of its own background process, so $! is its pid.
# slurmd starts once slurmctld answers: its first registration then succeeds at once.
slurmctld -D -f "$SLURM_CONF" </dev/null >"$state/log/slurmctld.out" 2>&1 &
echo $! >"$ctld_pid_file"
wait_until "slurmctld answers" scontrol ping
slurmd -D -f "$SLURM_CONF" </dev/null >"$state/log/slurmd.out" 2>&1 &
echo $! >"$state/run/slurmd.pid"
wait_until "node $host is idle" node_idle
echo "SLURM cluster ready (SLURM_CONF=$SLURM_CONF)"
