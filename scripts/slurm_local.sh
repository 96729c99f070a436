#!/usr/bin/env bash
# A one-node SLURM cluster with accounting on this machine, to try and test hydra/launcher=slurm:
# Debian's SLURM 22.05 (auth/none, so no munge) and slurmdbd on a private MariaDB (so that sacct,
# and with it submitit, sees jobs that died).
#   scripts/slurm_local.sh start    install (root, once), configure and start; a second start is a no-op
#   scripts/slurm_local.sh stop     stop the daemons it started, by PID
#   scripts/slurm_local.sh status
# Everything lives under $SLURM_LOCAL_DIR (default /tmp/hintrag-slurm). Clients need
#   export SLURM_CONF=$SLURM_LOCAL_DIR/etc/slurm.conf
set -euo pipefail

dir=${SLURM_LOCAL_DIR:-/tmp/hintrag-slurm}
etc=$dir/etc run=$dir/run log=$dir/log
export SLURM_CONF=$etc/slurm.conf
DB_PORT=${SLURM_LOCAL_DB_PORT:-3307}
DAEMONS=(mariadb slurmdbd slurmctld slurmd)  # start order; stop is the reverse

die() { echo "slurm_local: $*" >&2; exit 1; }

alive() { [ -f "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }

wait_for() {  # wait_for <seconds> <what> <command...>
  local limit=$1 what=$2; shift 2
  for _ in $(seq $((limit * 2))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "$what did not come up within ${limit}s; see $log/"
}

install_packages() {
  local missing=()
  for cmd in slurmctld slurmd sbatch slurmdbd mariadbd; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; run this as root once to install Debian's packages"
  # The packages' install scripts would start system daemons; policy-rc.d answering 101 stops that.
  # A machine's own policy-rc.d (Docker images ship one) is set aside and put back afterwards.
  local policy=/usr/sbin/policy-rc.d saved=""
  if [ -e "$policy" ]; then saved=$(mktemp /usr/sbin/policy-rc.d.hintrag.XXXXXX) && mv -f "$policy" "$saved"; fi
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
  trap 'restore_policy "$policy" "$saved"' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client slurmdbd mariadb-server >/dev/null
  restore_policy "$policy" "$saved"
  trap - EXIT
}

restore_policy() {  # restore_policy <path> <saved copy or "">: the machine's own file again, or none
  rm -f "$1"
  if [ -n "$2" ]; then mv -f "$2" "$1"; fi
}

write_config() {
  mkdir -p "$etc" "$run" "$log" "$dir/state" "$dir/spool"
  local host cpus mem_mb
  host=$(hostname -s)
  cpus=$(nproc)
  mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))  # leave 1 GiB to the system
  cat > "$etc/slurm.conf" <<EOF
ClusterName=hintrag
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
# a requeued job starts in ~12 s instead of waiting out the default credential lifetime (~155 s)
AuthInfo=cred_expire=10
SchedulerParameters=sched_interval=5
KillWait=5
# a job asking for more than the node has fails at once instead of pending forever
EnforcePartLimits=ALL
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$run/slurmctld.pid
SlurmdPidFile=$run/slurmd.pid
SlurmctldLogFile=$log/slurmctld.log
SlurmdLogFile=$log/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  [ -f "$etc/db_password" ] || (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$etc/db_password")
  (umask 077 && cat > "$etc/slurmdbd.conf" <<EOF
AuthType=auth/none
DbdHost=localhost
DbdPort=6819
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$(cat "$etc/db_password")
StorageLoc=slurm_acct_db
PidFile=$run/slurmdbd.pid
LogFile=$log/slurmdbd.log
EOF
  )
}

start_mariadb() {
  alive mariadb && return 0
  if [ ! -d "$dir/mysql/mysql" ]; then
    mariadb-install-db --datadir="$dir/mysql" --user=root --auth-root-authentication-method=socket \
      --skip-test-db >"$log/mariadb-install.log" 2>&1
  fi
  mariadbd --no-defaults --datadir="$dir/mysql" --socket="$run/mysql.sock" --port="$DB_PORT" \
    --bind-address=127.0.0.1 --user=root --pid-file="$run/mariadb.pid" --log-error="$log/mariadb.log" \
    >>"$log/mariadb.log" 2>&1 &
  wait_for 60 "MariaDB" mariadb --no-defaults --socket="$run/mysql.sock" -e "select 1"
  local pass
  pass=$(cat "$etc/db_password")
  mariadb --no-defaults --socket="$run/mysql.sock" <<EOF
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF
}

start() {
  install_packages
  write_config
  local started=$SECONDS
  start_mariadb
  if ! alive slurmdbd; then
    slurmdbd
    wait_for 60 "slurmdbd" sacctmgr -n list cluster
  fi
  sacctmgr -n list cluster format=cluster | grep -qw hintrag || sacctmgr -i add cluster hintrag >/dev/null
  alive slurmctld || slurmctld -f "$SLURM_CONF"
  wait_for 30 "slurmctld" scontrol ping
  alive slurmd || slurmd -f "$SLURM_CONF"
  wait_for 30 "the node" sh -c "sinfo -h -o %T | grep -qx idle"
  echo "slurm_local: one-node cluster up in $((SECONDS - started)) s ($(nproc) CPUs); export SLURM_CONF=$SLURM_CONF"
}

stop() {
  local pid
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    name=${DAEMONS[$i]}
    alive "$name" || continue
    pid=$(cat "$run/$name.pid")
    kill "$pid"
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    rm -f "$run/$name.pid"
  done
  echo "slurm_local: stopped"
}

status() {
  for name in "${DAEMONS[@]}"; do
    if alive "$name"; then echo "$name: running (pid $(cat "$run/$name.pid"))"; else echo "$name: stopped"; fi
  done
  alive slurmctld && sinfo
  return 0
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
