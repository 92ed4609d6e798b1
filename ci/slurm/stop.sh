#!/usr/bin/env bash
# Stops the cluster that start.sh started from the same folder (argument 1, else $SAIL_SLURM_DIR,
# else /tmp/sail-slurm): cancels its jobs, then ends slurmd, slurmctld and munged by their pid
# files, waits until they are gone and removes the link /etc/slurm/slurm.conf to its configuration.
set -euo pipefail

state=$(realpath -m "${1:-${SAIL_SLURM_DIR:-/tmp/sail-slurm}}")
export SLURM_CONF=$state/etc/slurm.conf
stop_timeout_s=30

# true while pid $1 is still the daemon named $2 (a stale pid file may name a recycled pid)
alive() {
    [[ $(ps -o comm= -p "$1" 2>/dev/null) == "$2" ]]
}

ctld_pid_file=$state/run/slurmctld.pid
if [[ -f $ctld_pid_file ]] && alive "$(<"$ctld_pid_file")" slurmctld; then
    jobs=$(squeue --noheader --format=%i)
    if [[ -n $jobs ]]; then
        # shellcheck disable=SC2086 # one argument per job id
        scancel $jobs
    fi
fi

for daemon in slurmd slurmctld munged; do
    pid_file=$state/run/$daemon.pid
    [[ -f $pid_file ]] || continue
    pid=$(<"$pid_file")
    if alive "$pid" "$daemon"; then
        kill -TERM "$pid"
        waited=0
        while alive "$pid" "$daemon" && ((waited < stop_timeout_s * 10)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if alive "$pid" "$daemon"; then
            echo "stop.sh: $daemon ($pid) ignored SIGTERM for ${stop_timeout_s}s, killing it" >&2
            kill -KILL "$pid"
        fi
        echo "stopped $daemon ($pid)"
    fi
    rm -f "$pid_file"
done

if [[ $(readlink /etc/slurm/slurm.conf) == "$SLURM_CONF" ]]; then
    rm /etc/slurm/slurm.conf
fi
