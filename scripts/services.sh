#!/usr/bin/env bash
# services.sh - private RabbitMQ + PostgreSQL for tests and benchmarks on Debian 12, as root,
# without systemd. Source it, then call the functions:
#
#   . ./services.sh
#   start_rabbitmq && start_postgres
#   export RABBITMQ_URL DATABASE_URL     # set by the start functions
#   ... run tests ...
#   stop_postgres; stop_rabbitmq
#
# Everything lives under $CI_SERVICES_DIR and listens on 127.0.0.1 only,
# on non-default ports, so it never collides with a system broker/cluster.

CI_SERVICES_DIR=${CI_SERVICES_DIR:-/tmp/koppel-services}
RABBITMQ_PORT=${RABBITMQ_PORT:-5682}          # AMQP
RABBITMQ_DIST_PORT=${RABBITMQ_DIST_PORT:-25682}  # Erlang distribution
RABBITMQ_EPMD_PORT=${RABBITMQ_EPMD_PORT:-4391}   # private epmd
RABBITMQ_NODE=${RABBITMQ_NODE:-ci@localhost}     # @localhost: no hostname lookup
PG_PORT=${PG_PORT:-5442}
PG_DB=${PG_DB:-app}
SERVICES_START_TIMEOUT=${SERVICES_START_TIMEOUT:-60}

_svc_log() { echo "[services] $*" >&2; }

# Install Debian packages without letting their postinst start the
# system-wide service (no systemd here; /etc/init.d scripts would run).
_svc_apt_install() {
    local created_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        created_policy=1
    fi
    local rc=0
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1; then
        apt-get update -q >/dev/null 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null || rc=$?
    fi
    [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    return $rc
}

# Alive and not a zombie (a zombie still answers kill -0).
_svc_alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$st" ] && [ "${st#Z}" = "$st" ]; }

_svc_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Wait until 127.0.0.1:$1 accepts TCP connections, while pid $2 is alive.
_svc_wait_port() {
    local port=$1 pid=$2 deadline=$((SECONDS + SERVICES_START_TIMEOUT))
    until _svc_port_open "$port"; do
        if [ -n "$pid" ] && ! _svc_alive "$pid"; then return 1; fi
        if [ $SECONDS -ge $deadline ]; then return 1; fi
        sleep 0.1
    done
}

# ------------------------------------------------------ browser and SAML tools

# Debian's chromium for the page tests (Playwright's own browser download cannot be reached
# here), xmlsec1, which pysaml2 (the tests' SAML identity provider) signs with, and wrk, the
# load generator of bench/logins. Sets CHROMIUM to the browser's path. The two servers'
# packages come in the same apt-get run when they are missing too (one run, not three).
install_test_tools() {
    local tool packages=()
    for tool in chromium xmlsec1 wrk; do
        command -v "$tool" >/dev/null 2>&1 || packages=(chromium xmlsec1 wrk fonts-dejavu-core)
    done
    { _pg_bin >/dev/null && id postgres >/dev/null 2>&1; } || packages+=(postgresql-15)
    [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || packages+=(rabbitmq-server)
    if [ "${#packages[@]}" -gt 0 ]; then
        _svc_log "installing ${packages[*]} from Debian"
        _svc_apt_install "${packages[@]}" \
            || { _svc_log "apt-get install ${packages[*]} failed"; return 1; }
    fi
    CHROMIUM=$(command -v chromium)
    export CHROMIUM
}

# ----------------------------------------------------------------- RabbitMQ

_rmq_dir() { echo "$CI_SERVICES_DIR/rabbitmq"; }

# Environment shared by the server and rabbitmqctl (same HOME => same cookie).
_rmq_env() {
    local d; d=$(_rmq_dir)
    export HOME="$d/home"
    export RABBITMQ_NODENAME="$RABBITMQ_NODE"
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT="$RABBITMQ_PORT"
    export RABBITMQ_DIST_PORT
    export RABBITMQ_MNESIA_BASE="$d/mnesia"
    export RABBITMQ_LOG_BASE="$d/log"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins"
    export RABBITMQ_PID_FILE="$d/rabbitmq.pid"
    export RABBITMQ_CONF_ENV_FILE=/dev/null        # ignore /etc/rabbitmq/rabbitmq-env.conf
    export RABBITMQ_CONFIG_FILE="$d/rabbitmq"      # no such file => built-in defaults
    export RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config"
    # Classic queues version 2, as docker-compose.yml runs them (and RabbitMQ >= 4.0 always does):
    # version 1 spent about a third more broker CPU per persistent message (README, Benchmarks).
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} -rabbit classic_queue_default_version 2"
    export ERL_EPMD_ADDRESS=127.0.0.1
    export ERL_EPMD_PORT="$RABBITMQ_EPMD_PORT"
}

rabbitmqctl_ci() { ( _rmq_env; exec /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RABBITMQ_NODE" "$@" ); }

start_rabbitmq() {
    local d; d=$(_rmq_dir)
    if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
        _svc_log "installing rabbitmq-server from Debian"
        _svc_apt_install rabbitmq-server || { _svc_log "apt-get install rabbitmq-server failed"; return 1; }
    fi
    if [ -f "$d/rabbitmq.pid" ] && _svc_alive "$(cat "$d/rabbitmq.pid")"; then
        _svc_log "rabbitmq already running"; export RABBITMQ_URL="amqp://guest:guest@127.0.0.1:$RABBITMQ_PORT/%2F"; return 0
    fi
    local p
    for p in "$RABBITMQ_PORT" "$RABBITMQ_DIST_PORT" "$RABBITMQ_EPMD_PORT"; do
        _svc_port_open "$p" && { _svc_log "port $p on 127.0.0.1 is already in use"; return 1; }
    done
    rm -rf "$d"
    mkdir -p "$d/home" "$d/mnesia" "$d/log"
    chmod 700 "$d/home"
    echo '[].' > "$d/enabled_plugins"                # no plugins: faster boot

    # Private epmd, run in the foreground so we own its PID (no stray daemon).
    ( _rmq_env; exec /usr/bin/epmd -address 127.0.0.1 -port "$RABBITMQ_EPMD_PORT" ) \
        > "$d/log/epmd.out" 2>&1 < /dev/null &
    echo $! > "$d/epmd.pid"
    _svc_wait_port "$RABBITMQ_EPMD_PORT" "$(cat "$d/epmd.pid")" \
        || { _svc_log "epmd did not start (port $RABBITMQ_EPMD_PORT busy?)"; cat "$d/log/epmd.out" >&2; return 1; }

    ( _rmq_env; exec /usr/lib/rabbitmq/bin/rabbitmq-server ) \
        > "$d/log/server.out" 2>&1 < /dev/null &
    echo $! > "$d/launcher.pid"
    if ! _svc_wait_port "$RABBITMQ_PORT" "$(cat "$d/launcher.pid")"; then
        _svc_log "rabbitmq failed to start; last log lines:"
        tail -n 40 "$d/log/server.out" >&2
        stop_rabbitmq; return 1
    fi
    rabbitmqctl_ci -q await_startup --timeout "$SERVICES_START_TIMEOUT" >/dev/null \
        || { _svc_log "rabbitmqctl await_startup failed"; tail -n 40 "$d/log/server.out" >&2; return 1; }
    export RABBITMQ_URL="amqp://guest:guest@127.0.0.1:$RABBITMQ_PORT/%2F"
    _svc_log "rabbitmq up: $RABBITMQ_URL (pid $(cat "$d/rabbitmq.pid"))"
}

stop_rabbitmq() {
    local d pid; d=$(_rmq_dir)
    [ -d "$d" ] || return 0
    if [ -f "$d/rabbitmq.pid" ]; then
        pid=$(cat "$d/rabbitmq.pid")
        # SIGTERM = graceful node stop (~1 s; 'rabbitmqctl shutdown' takes ~2.4 s).
        if kill -TERM "$pid" 2>/dev/null; then
            for _ in $(seq 300); do _svc_alive "$pid" || break; sleep 0.1; done
            _svc_alive "$pid" && kill -9 "$pid" 2>/dev/null
        fi
    fi
    for f in launcher.pid epmd.pid; do
        [ -f "$d/$f" ] || continue
        pid=$(cat "$d/$f")
        kill "$pid" 2>/dev/null
        for _ in $(seq 50); do _svc_alive "$pid" || break; sleep 0.1; done
    done
    [ "${KEEP_SERVICE_DATA:-0}" = 1 ] || rm -rf "$d"
    _svc_log "rabbitmq stopped"
}

# --------------------------------------------------------------- PostgreSQL

_pg_dir() { echo "$CI_SERVICES_DIR/postgres"; }
_pg_bin() {
    local b
    for b in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        [ -x "$b/initdb" ] && { echo "$b"; return 0; }
    done
    return 1
}
_pg_as() { runuser -u postgres -- "$@"; }

start_postgres() {
    local d bin; d=$(_pg_dir)
    if ! bin=$(_pg_bin) || ! id postgres >/dev/null 2>&1; then
        _svc_log "installing postgresql-15 from Debian"
        _svc_apt_install postgresql-15 || { _svc_log "apt-get install postgresql-15 failed"; return 1; }
        bin=$(_pg_bin) || return 1
    fi
    if [ -f "$d/data/postmaster.pid" ] && _pg_as "$bin/pg_ctl" -D "$d/data" status >/dev/null 2>&1; then
        _svc_log "postgres already running"
    else
        rm -rf "$d"
        mkdir -p "$d/sock"
        # postgres must be able to traverse every parent directory.
        chmod 755 "$CI_SERVICES_DIR"
        chown -R postgres:postgres "$d"
        _pg_as "$bin/initdb" -D "$d/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
            --no-sync --no-instructions > "$d/initdb.log" 2>&1 \
            || { _svc_log "initdb failed"; cat "$d/initdb.log" >&2; return 1; }
        # Durability off: this cluster is thrown away after the run.
        _pg_as "$bin/pg_ctl" -D "$d/data" -l "$d/postgres.log" -w -t "$SERVICES_START_TIMEOUT" \
            -o "-p $PG_PORT -k $d/sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start > /dev/null \
            || { _svc_log "pg_ctl start failed"; tail -n 40 "$d/postgres.log" >&2; return 1; }
        if [ "$PG_DB" != postgres ]; then
            "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qAt -c "CREATE DATABASE \"$PG_DB\"" postgres >/dev/null \
                || { _svc_log "createdb $PG_DB failed"; return 1; }
        fi
    fi
    export PGHOST=127.0.0.1 PGPORT="$PG_PORT" PGUSER=postgres PGDATABASE="$PG_DB"
    export DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/$PG_DB"
    _svc_log "postgres up: $DATABASE_URL"
}

stop_postgres() {
    local d bin; d=$(_pg_dir)
    [ -d "$d" ] || return 0
    bin=$(_pg_bin)
    if [ -f "$d/data/postmaster.pid" ]; then
        _pg_as "$bin/pg_ctl" -D "$d/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
            || _pg_as "$bin/pg_ctl" -D "$d/data" -m immediate -w stop >/dev/null 2>&1
    fi
    [ "${KEEP_SERVICE_DATA:-0}" = 1 ] || rm -rf "$d"
    _svc_log "postgres stopped"
}
