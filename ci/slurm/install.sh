#!/usr/bin/env bash
# Installs Debian's SLURM daemons, client tools and munge for the one-node test cluster.
# Needs root and apt; does nothing when the tools are already there. The packages' own services
# are not used: start.sh runs the daemons with a private configuration.
set -euo pipefail

export PATH=$PATH:/usr/sbin:/sbin # the daemons live in sbin, which a PATH may lack

tools=(munged mungekey munge slurmctld slurmd sbatch squeue sinfo scontrol scancel)
missing=()
for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ $EUID -ne 0 ]]; then
    echo "install.sh: ${missing[*]} missing and installing them needs root" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "install.sh: ${missing[*]} missing and apt-get is not available" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
echo "installed slurm $(dpkg-query -W -f='${Version}' slurmctld) and $(munged --version)"
