#!/usr/bin/env bash
# A single-node Slurm cluster on loopback, for the Slurm integration tests (issue 16) and for
# trying `renal-triage slurm` on one machine. Debian's slurm-wlm and munge; the daemons are
# started here (the service manager does not start them in a sandbox or a CI container).
#     bash scripts/slurm-local.sh start    # installs what is missing, writes the config, starts
#     bash scripts/slurm-local.sh stop
# Partition `debug` (default, this node's CPUs); no accounting.
set -euo pipefail
cmd=${1:-start}
node=$(hostname -s)
conf=/etc/slurm/slurm.conf
if [ "$cmd" = stop ]; then
  for d in slurmd slurmctld munged; do pkill -x "$d" 2>/dev/null || true; done
  exit 0
fi
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
mkdir -p /etc/slurm /var/spool/slurmd /var/spool/slurmctld /var/log/slurm /run/munge /var/lib/munge /var/log/munge
cat > "$conf" <<CONF
ClusterName=local
SlurmctldHost=$node(127.0.0.1)
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
KillWait=5
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 700 /etc/munge && chmod 400 /etc/munge/munge.key
pgrep -x munged >/dev/null || sudo -u munge /usr/sbin/munged 2>/dev/null || runuser -u munge -- /usr/sbin/munged
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 1 30); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE 'idle|mix|alloc'; then
    echo "slurm: node $node up ($cpus CPUs)"; exit 0
  fi
  sleep 1
done
echo "slurm did not come up; see /var/log/slurm/*.log" >&2
sinfo >&2 || true
exit 1
