#!/usr/bin/env bash
# Starts, stops and reports the real services authwatch needs for development and tests,
# without Docker: Apache Kafka (KRaft, single broker+controller) from Maven Central jars,
# and ClickHouse from Debian's clickhouse-server package. Both listen on 127.0.0.1 only and
# keep their data under one directory this script owns ($AUTHWATCH_SERVICES_DIR).
#
#   scripts/services.sh start|stop|status|restart|logs [kafka|clickhouse]
#
# start is idempotent: a service that already answers is left alone. Naming a service acts on
# that one only; with AUTHWATCH_SERVICES_DIR and the port variables set, a second broker can run
# beside the first (the broker-restart test does this).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${AUTHWATCH_SERVICES_DIR:-$ROOT/.services}"
KAFKA_PORT="${AUTHWATCH_SERVICES_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${AUTHWATCH_SERVICES_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${AUTHWATCH_SERVICES_KAFKA_HEAP:-512m}"
CH_HTTP_PORT="${AUTHWATCH_SERVICES_CLICKHOUSE_HTTP_PORT:-8123}"
CH_TCP_PORT="${AUTHWATCH_SERVICES_CLICKHOUSE_TCP_PORT:-9000}"
START_TIMEOUT="${AUTHWATCH_SERVICES_TIMEOUT:-120}"
# The names authwatch uses by default (schemas/config.schema.json, docker-compose.yml).
TOPICS=(auth-events authwatch.alerts authwatch.actions authwatch.dlq)
CH_DATABASE=authwatch

KAFKA_LIBS="$ROOT/services/target/kafka-libs"
KAFKA_DIR="$DIR/kafka"
CH_DIR="$DIR/clickhouse"

log() { printf '[services] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Waits until "$2" (a command) succeeds; on time-out prints the service's log tail.
wait_for() {
  local name="$1" check="$2" logfile="$3" pidfile="$4" waited=0
  until eval "$check"; do
    if [ -n "$pidfile" ] && ! pid_alive "$pidfile"; then
      log "$name exited during start-up. Its log is $logfile; last lines:"
      tail -n 40 "$logfile" >&2 2>/dev/null || true
      return 1
    fi
    if [ "$waited" -ge "$START_TIMEOUT" ]; then
      log "$name did not answer within ${START_TIMEOUT}s. Its log is $logfile; last lines:"
      tail -n 40 "$logfile" >&2 2>/dev/null || true
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

stop_pidfile() {
  local name="$1" pidfile="$2" pid waited=0
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    log "$name is not running."
    return 0
  fi
  pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge 60 ]; then
      log "$name (pid $pid) did not stop within 30s; killing it."
      kill -9 "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  rm -f "$pidfile"
  log "$name stopped."
}

# ---------------------------------------------------------------------------- Kafka

kafka_fetch() {
  if [ -f "$KAFKA_LIBS/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || { log "Maven (mvn) is required to fetch Kafka's jars."; return 1; }
  log "Fetching Kafka jars from Maven Central (cached in ~/.m2 after the first time)..."
  rm -rf "$KAFKA_LIBS"
  mvn -q -B -f "$ROOT/services/pom.xml" dependency:copy-dependencies >&2
  touch "$KAFKA_LIBS/.complete"
}

KAFKA_JAVA=(java -Xms128m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true
  -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -Dkafka.logs.dir="$KAFKA_DIR/logs"
  -cp "$KAFKA_LIBS/*")

kafka_configure() {
  mkdir -p "$KAFKA_DIR/logs" "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/server.properties" <<EOF
# Written by scripts/services.sh: a single KRaft node for development and tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
log.retention.hours=24
EOF
  cat >"$KAFKA_DIR/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$KAFKA_DIR/logs/server.log
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
EOF
}

kafka_ready() {
  port_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$KAFKA_DIR/logs/server.log" 2>/dev/null
}

kafka_start() {
  if pid_alive "$KAFKA_DIR/kafka.pid" && kafka_ready; then
    log "Kafka already running on 127.0.0.1:$KAFKA_PORT."
    return 0
  fi
  if port_open "$KAFKA_PORT"; then
    log "Port $KAFKA_PORT is taken by a process this script did not start; using it as Kafka."
    return 0
  fi
  command -v java >/dev/null || { log "Java 17 is required to run Kafka."; return 1; }
  kafka_fetch
  kafka_configure
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    local cluster_id
    cluster_id="$("${KAFKA_JAVA[@]}" kafka.tools.StorageTool random-uuid 2>>"$KAFKA_DIR/logs/format.log" | tail -n 1)"
    "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" \
      >>"$KAFKA_DIR/logs/format.log" 2>&1 || {
      log "Formatting Kafka storage failed; see $KAFKA_DIR/logs/format.log"
      tail -n 20 "$KAFKA_DIR/logs/format.log" >&2
      return 1
    }
  fi
  # The marker line is from this start only.
  : >"$KAFKA_DIR/logs/server.log"
  log "Starting Kafka on 127.0.0.1:$KAFKA_PORT (logs: $KAFKA_DIR/logs)..."
  nohup setsid "${KAFKA_JAVA[@]}" kafka.Kafka "$KAFKA_DIR/server.properties" \
    </dev/null >"$KAFKA_DIR/logs/stdout.log" 2>&1 &
  echo $! >"$KAFKA_DIR/kafka.pid"
  wait_for Kafka kafka_ready "$KAFKA_DIR/logs/server.log" "$KAFKA_DIR/kafka.pid"
  log "Kafka is up on 127.0.0.1:$KAFKA_PORT."
  kafka_create_topics
}

kafka_create_topics() {
  local topic
  for topic in "${TOPICS[@]}"; do
    "${KAFKA_JAVA[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
      --create --if-not-exists --topic "$topic" --partitions 3 --replication-factor 1 \
      >>"$KAFKA_DIR/logs/topics.log" 2>&1 || {
      log "Creating topic $topic failed; see $KAFKA_DIR/logs/topics.log"
      return 1
    }
  done
}

# ----------------------------------------------------------------------- ClickHouse

clickhouse_install() {
  if command -v clickhouse-server >/dev/null || [ -x /usr/sbin/clickhouse-server ]; then return 0; fi
  log "Installing Debian's clickhouse-server..."
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq clickhouse-server clickhouse-client >&2
}

clickhouse_bin() {
  command -v clickhouse-server 2>/dev/null || echo /usr/sbin/clickhouse-server
}

clickhouse_configure() {
  mkdir -p "$CH_DIR/data" "$CH_DIR/tmp" "$CH_DIR/user_files" "$CH_DIR/logs" "$CH_DIR/format_schemas"
  cat >"$CH_DIR/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by scripts/services.sh: ClickHouse for development and tests, loopback only. -->
<yandex>
  <logger>
    <level>information</level>
    <log>$CH_DIR/logs/clickhouse-server.log</log>
    <errorlog>$CH_DIR/logs/clickhouse-server.err.log</errorlog>
    <size>50M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$CH_HTTP_PORT</http_port>
  <tcp_port>$CH_TCP_PORT</tcp_port>
  <path>$CH_DIR/data/</path>
  <tmp_path>$CH_DIR/tmp/</tmp_path>
  <user_files_path>$CH_DIR/user_files/</user_files_path>
  <format_schema_path>$CH_DIR/format_schemas/</format_schema_path>
  <users_config>$CH_DIR/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <max_connections>256</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>64</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <mlock_executable>false</mlock_executable>
</yandex>
EOF
  cat >"$CH_DIR/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <load_balancing>random</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
    </default>
  </quotas>
</yandex>
EOF
}

clickhouse_ready() {
  [ "$(curl -s --max-time 2 "http://127.0.0.1:$CH_HTTP_PORT/ping" 2>/dev/null)" = "Ok." ]
}

clickhouse_start() {
  if clickhouse_ready; then
    log "ClickHouse already answering on 127.0.0.1:$CH_HTTP_PORT."
    return 0
  fi
  clickhouse_install
  clickhouse_configure
  log "Starting ClickHouse on 127.0.0.1:$CH_HTTP_PORT (logs: $CH_DIR/logs)..."
  nohup setsid "$(clickhouse_bin)" --config-file="$CH_DIR/config.xml" \
    </dev/null >"$CH_DIR/logs/stdout.log" 2>&1 &
  echo $! >"$CH_DIR/clickhouse.pid"
  wait_for ClickHouse clickhouse_ready "$CH_DIR/logs/clickhouse-server.err.log" "$CH_DIR/clickhouse.pid"
  curl -sf --max-time 10 "http://127.0.0.1:$CH_HTTP_PORT/" --data-binary "CREATE DATABASE IF NOT EXISTS $CH_DATABASE" >/dev/null
  log "ClickHouse is up on 127.0.0.1:$CH_HTTP_PORT."
}

# -------------------------------------------------------------------------- rsyslog

# Only installed: the syslog sink's integration tests start rsyslogd processes of their own
# (test/support/rsyslog.ts). The system's rsyslog is neither started nor enabled.
rsyslog_install() {
  if [ -x /usr/sbin/rsyslogd ] && dpkg -s rsyslog-gnutls >/dev/null 2>&1; then return 0; fi
  log "Installing Debian's rsyslog and rsyslog-gnutls (for the tests; the system's rsyslog is not started)..."
  local sudo="" fresh="" policy="" rc=0
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  [ -x /usr/sbin/rsyslogd ] || fresh=1
  # A policy-rc.d that says no keeps the packages' scripts from starting the service.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=1
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
  fi
  $sudo apt-get update -qq >&2 &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq rsyslog rsyslog-gnutls >&2 || rc=$?
  [ -z "$policy" ] || $sudo rm -f /usr/sbin/policy-rc.d
  # The postinst enables the unit (systemctl disables it without a running systemd too); an
  # rsyslogd it started anyway would hold /dev/log.
  if [ -n "$fresh" ]; then
    $sudo systemctl disable --now rsyslog.service >/dev/null 2>&1 || true
    if pid_alive /run/rsyslogd.pid; then $sudo kill "$(cat /run/rsyslogd.pid)" 2>/dev/null || true; fi
  fi
  return $rc
}

# ---------------------------------------------------------------------------- main

status() {
  local rc=0
  if kafka_ready; then echo "kafka: up (127.0.0.1:$KAFKA_PORT)"; else echo "kafka: down"; rc=1; fi
  if clickhouse_ready; then echo "clickhouse: up (127.0.0.1:$CH_HTTP_PORT)"; else echo "clickhouse: down"; rc=1; fi
  return $rc
}

ONLY="${2:-}"
case "$ONLY" in
  "" | kafka | clickhouse) ;;
  *)
    echo "usage: $0 start|stop|status|restart|logs [kafka|clickhouse]" >&2
    exit 2
    ;;
esac
wants() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

case "${1:-}" in
  start)
    mkdir -p "$DIR"
    if [ -z "$ONLY" ]; then rsyslog_install; fi
    if wants clickhouse; then clickhouse_start; fi
    if wants kafka; then kafka_start; fi
    ;;
  stop)
    if wants kafka; then stop_pidfile Kafka "$KAFKA_DIR/kafka.pid"; fi
    if wants clickhouse; then stop_pidfile ClickHouse "$CH_DIR/clickhouse.pid"; fi
    ;;
  restart)
    "$0" stop "$ONLY"
    "$0" start "$ONLY"
    ;;
  status) status ;;
  logs)
    echo "kafka:      $KAFKA_DIR/logs/server.log"
    echo "clickhouse: $CH_DIR/logs/clickhouse-server.log ($CH_DIR/logs/clickhouse-server.err.log)"
    ;;
  *)
    echo "usage: $0 start|stop|status|restart|logs" >&2
    exit 2
    ;;
esac
