#!/usr/bin/env bash
# One machine, several app processes: Redis and PostgreSQL (Debian's, PostgreSQL as the postgres user), N Streamlit
# replicas, M training workers (`python -m core worker`) and HAProxy in front with cookie stickiness, a long websocket
# tunnel timeout and health checks on /_stcore/health. Every piece takes its address from the environment, so the same
# pieces run on separate machines (README, "Scale out"). Usage: scripts/cluster.sh start|stop|status|kill-replica N
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

DIR="${MLX_CLUSTER_DIR:-$ROOT/user_data/cluster}"      # pids, logs, the database's files, the shared model cache
PORT="${MLX_CLUSTER_PORT:-8500}"                        # HAProxy's front door: the one address people open
REPLICAS="${MLX_REPLICAS:-2}"
WORKERS="${MLX_WORKERS:-2}"
REPLICA_PORT="${MLX_REPLICA_BASE_PORT:-8601}"           # replica i listens on REPLICA_PORT + i - 1
REDIS_PORT="${MLX_CLUSTER_REDIS_PORT:-6390}"            # only when MLX_REDIS_URL is unset and this script starts Redis
PG_PORT="${MLX_CLUSTER_PG_PORT:-5440}"                  # only when MLX_DATABASE_URL is unset and this script starts it
PY="${MLX_PYTHON:-$ROOT/.venv/bin/python}"

log() { printf 'cluster: %s\n' "$*" >&2; }

need() {  # install Debian's packages that are missing (root, or sudo)
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v haproxy >/dev/null || missing+=(haproxy)
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    log "installing ${missing[*]}"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1; }

as_postgres() {  # PostgreSQL refuses to run as root: its commands run as the postgres user when we are root
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...: poll until COMMAND succeeds
  local secs="$1" what="$2"; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then log "$what did not come up within ${secs}s (logs: $DIR/logs)"; return 1; fi
    sleep 0.2
  done
}

start_redis() {
  if [ -n "${MLX_REDIS_URL:-}" ]; then return; fi
  mkdir -p "$DIR/redis"
  # appendonly: a restart of Redis keeps the queued jobs and their records.
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR/redis" --appendonly yes --save '' \
    --daemonize yes --pidfile "$DIR/pids/redis.pid" --logfile "$DIR/logs/redis.log"
  export MLX_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  wait_for 30 "Redis" redis-cli -p "$REDIS_PORT" ping
}

start_postgres() {
  if [ -n "${MLX_DATABASE_URL:-}" ]; then return; fi
  local bin; bin="$(pg_bin)"
  local data="$DIR/pg/data"
  if [ ! -s "$data/PG_VERSION" ]; then
    mkdir -p "$DIR/pg"
    [ "$(id -u)" -ne 0 ] || chown postgres "$DIR/pg"
    as_postgres "$bin/initdb" -D "$data" --auth=trust --username=mlx -E UTF8 >/dev/null
  fi
  [ "$(id -u)" -ne 0 ] || chown postgres "$DIR/pg"
  chmod o+x "$DIR" "$DIR/pg" 2>/dev/null || true
  as_postgres "$bin/pg_ctl" -D "$data" -l "$DIR/pg/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $DIR/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  as_postgres "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U mlx -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='mlx'" | grep -q 1 ||
    as_postgres "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U mlx mlx
  export MLX_DATABASE_URL="postgresql+psycopg://mlx@127.0.0.1:$PG_PORT/mlx"
}

cookie_secret() {  # one secret for every replica: a session's XSRF cookie must hold on whichever replica serves it
  if [ -z "${STREAMLIT_SERVER_COOKIE_SECRET:-}" ]; then
    [ -s "$DIR/cookie_secret" ] || (umask 077; "$PY" -c 'import secrets; print(secrets.token_hex(32))' >"$DIR/cookie_secret")
    STREAMLIT_SERVER_COOKIE_SECRET="$(cat "$DIR/cookie_secret")"
  fi
  export STREAMLIT_SERVER_COOKIE_SECRET
}

start_replica() {  # start_replica I
  local i="$1" port=$((REPLICA_PORT + $1 - 1))
  # Each replica keeps its own embedded vector index (Qdrant's local mode locks its folder to one process).
  MLX_QDRANT_PATH="$DIR/qdrant-r$i" nohup "$PY" -m streamlit run app.py --server.port "$port" --server.address 127.0.0.1 --server.headless true \
    >"$DIR/logs/replica$i.log" 2>&1 &
  echo $! >"$DIR/pids/replica$i.pid"
}

start_worker() {  # start_worker I
  nohup "$PY" -m core worker --name "$(hostname)-w$1-$$" >"$DIR/logs/worker$1.log" 2>&1 &
  echo $! >"$DIR/pids/worker$1.pid"
}

write_haproxy() {
  {
    cat <<EOF
global
    maxconn 4096
    pidfile $DIR/pids/haproxy.pid
defaults
    mode http
    option redispatch 1
    retries 3  # "redispatch 1": every retry goes to another replica, not ~1 s later to the same dead one
    # A replica may close an idle kept-alive connection just as HAProxy reuses it (an "empty response", 502): never
    # reuse one, and retry a request that met a refused or empty connection (a websocket's opening GET is idempotent).
    http-reuse never
    retry-on conn-failure empty-response 503
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout http-request 30s
    # A replica busy with a class (30 people pressing Start at once) may answer its health check late: give it 10 s
    # and three misses before it is taken out. A killed replica is left at once anyway (refused, then redispatched).
    timeout check 10s
frontend web
    bind 127.0.0.1:$PORT
    default_backend replicas
backend replicas
    balance roundrobin
    cookie SRV insert indirect nocache
    option httpchk GET /_stcore/health
    http-check expect status 200
EOF
    for i in $(seq 1 "$REPLICAS"); do
      echo "    server r$i 127.0.0.1:$((REPLICA_PORT + i - 1)) check cookie r$i inter 2s fall 3 rise 1"
    done
  } >"$DIR/haproxy.cfg"
}

env_file() {  # what a worker or replica on another machine needs to join this cluster
  {
    echo "MLX_DATABASE_URL=$MLX_DATABASE_URL"
    echo "MLX_REDIS_URL=$MLX_REDIS_URL"
    echo "MLX_USER_DATA_DIR=${MLX_USER_DATA_DIR}"
  } >"$DIR/cluster.env"
}

start() {
  need
  mkdir -p "$DIR/pids" "$DIR/logs"
  export MLX_USER_DATA_DIR="${MLX_USER_DATA_DIR:-$DIR/user_data}"
  start_redis
  start_postgres
  cookie_secret
  env_file
  "$PY" -m core db upgrade >"$DIR/logs/upgrade.log" 2>&1
  for i in $(seq 1 "$REPLICAS"); do start_replica "$i"; done
  for i in $(seq 1 "$WORKERS"); do start_worker "$i"; done
  for i in $(seq 1 "$REPLICAS"); do
    wait_for 120 "replica $i" curl -fsS "http://127.0.0.1:$((REPLICA_PORT + i - 1))/_stcore/health"
  done
  write_haproxy
  haproxy -c -q -f "$DIR/haproxy.cfg"
  haproxy -D -f "$DIR/haproxy.cfg"
  wait_for 30 "HAProxy" curl -fsS "http://127.0.0.1:$PORT/_stcore/health"
  echo "http://127.0.0.1:$PORT"
}

stop_pid() {  # stop_pid FILE: TERM, then KILL after 10 s
  local f="$1" pid
  [ -s "$f" ] || return 0
  pid="$(cat "$f")"
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop() {
  for f in "$DIR"/pids/haproxy.pid "$DIR"/pids/replica*.pid "$DIR"/pids/worker*.pid "$DIR"/pids/redis.pid; do
    [ -e "$f" ] && stop_pid "$f"
  done
  if [ -s "$DIR/pg/data/postmaster.pid" ]; then
    as_postgres "$(pg_bin)/pg_ctl" -D "$DIR/pg/data" -m fast -w stop >/dev/null || true
  fi
}

status() {
  for f in "$DIR"/pids/*.pid; do
    [ -e "$f" ] || continue
    local name; name="$(basename "$f" .pid)"
    if kill -0 "$(cat "$f")" 2>/dev/null; then echo "$name up"; else echo "$name down"; fi
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  kill-replica) kill -9 "$(cat "$DIR/pids/replica${2:?which replica}.pid")" ;;
  *) echo "usage: $0 start|stop|status|kill-replica N" >&2; exit 2 ;;
esac
