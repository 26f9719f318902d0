#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft: broker and controller in one JVM) on loopback, for tests and
# local runs, from Kafka's own jars on Maven Central and the machine's Java (17+).
#
#   scripts/kafka.sh fetch                 download the jars into .cache/kafka/<version>/libs (idempotent)
#   scripts/kafka.sh start [--port N] [--dir DIR] [--sasl-port N] [--ssl-port N] [--mtls-port N] [--watch PID]
#                                          start one broker in the background; prints KEY=VALUE lines:
#                                          PID, PORT, DIR, LOG (and SASL_PORT, SSL_PORT, SSL_CA, MTLS_PORT,
#                                          MTLS_CERT, MTLS_KEY). DIR is
#                                          created (a temp dir by default) and formatted once: starting
#                                          again with the same DIR and ports restarts the same broker
#                                          with its data. Port 0 or none picks a free one. With
#                                          --watch, the broker is killed once process PID is gone (a
#                                          test runner that died cannot leave it behind).
#   scripts/kafka.sh stop PID              SIGTERM, SIGKILL after 10 s; returns when the process is gone
#   scripts/kafka.sh kill PID              SIGKILL at once
#
# --sasl-port adds a SASL_PLAINTEXT listener (SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN, user "modelship",
# password "modelship-secret"); --ssl-port adds a SASL_SSL listener with the same users and a
# self-signed certificate for 127.0.0.1 made by keytool, whose PEM is printed as SSL_CA. --mtls-port adds
# an SSL listener that requires a client certificate (mutual TLS, no SASL): openssl makes a client CA the
# broker trusts and a client certificate (CN=modelship) under it, printed as MTLS_CERT and MTLS_KEY.
# KAFKA_VERSION (default 4.4.0) picks the release; KAFKA_HEAP (default 512m) the JVM heap. Settings
# suit one test node: replication factor 1, group.min.session.timeout.ms=1000 (short test sessions),
# broker.session.timeout.ms=2000 (after a kill -9 the restarted broker re-registers within 2 s, not 9).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

version="${KAFKA_VERSION:-4.4.0}"
cache="$root/.cache/kafka"
libs="$cache/$version/libs"
sasl_user="modelship"
sasl_password="modelship-secret"

die() {
  echo "kafka.sh: $*" >&2
  exit 1
}

need_java() {
  command -v java >/dev/null 2>&1 || die "java not found: install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)"
}

# The jars of kafka_2.13 and what it needs at run time, copied by Maven from the local repository
# (~/.m2, so a second fetch works offline) into $libs. A marker file makes it idempotent.
fetch() {
  if [[ -f "$libs/.complete" ]]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found: install Maven (Debian: apt-get install maven) to fetch Kafka's jars"
  mkdir -p "$cache/$version"
  local pom="$cache/$version/pom.xml"
  # log4j-slf4j2-impl and slf4j-api 2 give the broker's slf4j logging a backend (kafka_2.13's pom
  # brings neither); versions as Kafka's own distribution pairs them.
  cat >"$pom" <<EOF
<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.modelship.test</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>$version</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>2.0.17</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>2.25.5</version></dependency>
  </dependencies>
</project>
EOF
  echo "kafka.sh: fetching Apache Kafka $version jars with Maven into $libs" >&2
  rm -rf "$libs.tmp"
  # -B: one line per artifact downloaded (progress without the terminal animation)
  mvn -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs.tmp" >&2 ||
    die "mvn could not fetch org.apache.kafka:kafka_2.13:$version (see its output above)"
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  touch "$libs/.complete"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Waits until something accepts TCP connections on 127.0.0.1:$1, or the process $2 is gone.
wait_port() {
  local port="$1" pid="$2" log="$3" deadline=$((SECONDS + 90))
  while ((SECONDS < deadline)); do
    alive "$pid" || die "the broker (pid $pid) exited during start-up; its log: $log
$(tail -n 30 "$log")"
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  kill -9 "$pid" 2>/dev/null || true
  die "the broker did not listen on 127.0.0.1:$port within 90 s; its log: $log"
}

start() {
  local port=0 dir="" sasl_port="" ssl_port="" mtls_port="" watch=""
  while (($#)); do
    case "$1" in
    --port) port="$2" && shift 2 ;;
    --dir) dir="$2" && shift 2 ;;
    --sasl-port) sasl_port="$2" && shift 2 ;;
    --ssl-port) ssl_port="$2" && shift 2 ;;
    --mtls-port) mtls_port="$2" && shift 2 ;;
    --watch) watch="$2" && shift 2 ;;
    *) die "unknown option $1 (see the header of scripts/kafka.sh)" ;;
    esac
  done
  need_java
  fetch
  [[ -n "$dir" ]] || dir="$(mktemp -d "${TMPDIR:-/tmp}/modelship-kafka-XXXXXX")"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  [[ "$port" != 0 ]] || port="$(free_port)"
  # the controller's port is internal; it stays the same across restarts of one DIR
  local controller_port
  if [[ -f "$dir/controller.port" ]]; then
    controller_port="$(cat "$dir/controller.port")"
  else
    controller_port="$(free_port)"
    echo "$controller_port" >"$dir/controller.port"
  fi
  [[ "$sasl_port" != 0 ]] || sasl_port="$(free_port)"
  [[ "$ssl_port" != 0 ]] || ssl_port="$(free_port)"
  [[ "$mtls_port" != 0 ]] || mtls_port="$(free_port)"

  local listeners="PLAINTEXT://127.0.0.1:$port"
  local protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  [[ -z "$sasl_port" ]] || listeners+=",SASL://127.0.0.1:$sasl_port" protocols+=",SASL:SASL_PLAINTEXT"
  [[ -z "$ssl_port" ]] || listeners+=",SSL://127.0.0.1:$ssl_port" protocols+=",SSL:SASL_SSL"
  [[ -z "$mtls_port" ]] || listeners+=",MTLS://127.0.0.1:$mtls_port" protocols+=",MTLS:SSL"

  if [[ -n "$ssl_port$mtls_port" && ! -f "$dir/tls/broker.p12" ]]; then
    mkdir -p "$dir/tls"
    keytool -genkeypair -alias broker -keyalg EC -groupname secp256r1 -validity 30 \
      -dname "CN=127.0.0.1" -ext "SAN=IP:127.0.0.1,DNS:localhost" \
      -storetype PKCS12 -keystore "$dir/tls/broker.p12" -storepass changeit -keypass changeit >/dev/null 2>&1 ||
      die "keytool could not make the test certificate"
    keytool -exportcert -rfc -alias broker -keystore "$dir/tls/broker.p12" -storepass changeit \
      >"$dir/tls/ca.pem" 2>/dev/null || die "keytool could not export the test certificate"
  fi

  if [[ -n "$mtls_port" && ! -f "$dir/tls/clients.p12" ]]; then
    command -v openssl >/dev/null 2>&1 || die "openssl not found: --mtls-port makes the client certificate with it"
    (
      cd "$dir/tls"
      openssl ecparam -name prime256v1 -genkey -noout -out client-ca.key &&
        openssl req -x509 -new -key client-ca.key -subj "/CN=modelship test client CA" -days 30 -out client-ca.pem &&
        openssl ecparam -name prime256v1 -genkey -noout -out client.key.sec1 &&
        openssl pkcs8 -topk8 -nocrypt -in client.key.sec1 -out client.key &&
        openssl req -new -key client.key -subj "/CN=modelship" -out client.csr &&
        openssl x509 -req -in client.csr -CA client-ca.pem -CAkey client-ca.key -CAcreateserial -days 30 \
          -out client.pem &&
        rm -f client.key.sec1 client.csr &&
        keytool -importcert -noprompt -alias clients -file client-ca.pem -storetype PKCS12 \
          -keystore clients.p12 -storepass changeit
    ) >/dev/null 2>&1 || die "could not make the mutual-TLS test certificates in $dir/tls"
  fi

  local scram="org.apache.kafka.common.security.scram.ScramLoginModule required;"
  local plain="org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user=\"$sasl_password\";"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=$listeners,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=2000
log.flush.interval.messages=9223372036854775807
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
listener.name.sasl.scram-sha-512.sasl.jaas.config=$scram
listener.name.sasl.scram-sha-256.sasl.jaas.config=$scram
listener.name.sasl.plain.sasl.jaas.config=$plain
listener.name.ssl.scram-sha-512.sasl.jaas.config=$scram
listener.name.ssl.scram-sha-256.sasl.jaas.config=$scram
listener.name.ssl.plain.sasl.jaas.config=$plain
listener.name.ssl.ssl.keystore.type=PKCS12
listener.name.ssl.ssl.keystore.location=$dir/tls/broker.p12
listener.name.ssl.ssl.keystore.password=changeit
listener.name.ssl.ssl.key.password=changeit
listener.name.mtls.ssl.keystore.type=PKCS12
listener.name.mtls.ssl.keystore.location=$dir/tls/broker.p12
listener.name.mtls.ssl.keystore.password=changeit
listener.name.mtls.ssl.key.password=changeit
listener.name.mtls.ssl.truststore.type=PKCS12
listener.name.mtls.ssl.truststore.location=$dir/tls/clients.p12
listener.name.mtls.ssl.truststore.password=changeit
listener.name.mtls.ssl.client.auth=required
EOF
  cat >"$dir/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/broker.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = warn
logger.apache.name = org.apache.kafka
logger.apache.level = warn
EOF

  local cp="$libs/*"
  local jvm=(-Xms128m "-Xmx${KAFKA_HEAP:-512m}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1
    -Djava.awt.headless=true "-Dlog4j2.configurationFile=$dir/log4j2.properties")
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    # SCRAM users live in the metadata log; format writes them before the first start
    java "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format --ignore-formatted \
      --cluster-id "$(node -e 'console.log(require("crypto").randomBytes(16).toString("base64url"))')" \
      --config "$dir/server.properties" \
      --add-scram "SCRAM-SHA-512=[name=$sasl_user,password=$sasl_password]" \
      --add-scram "SCRAM-SHA-256=[name=$sasl_user,password=$sasl_password]" \
      >"$dir/format.log" 2>&1 || die "formatting $dir/data failed: $(cat "$dir/format.log")"
  fi

  local p
  for p in "$port" "$controller_port" $sasl_port $ssl_port $mtls_port; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      die "port $p on 127.0.0.1 is in use: pick another (or 0 for a free one)"
    fi
  done
  local log="$dir/broker.out"
  nohup java "${jvm[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties" >"$log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/broker.pid"
  if [[ -n "$watch" ]]; then
    # detached from our stdout, so whoever reads it sees EOF when this script exits
    nohup bash -c "while kill -0 $watch 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 1; done; kill -0 $watch 2>/dev/null || kill -9 $pid 2>/dev/null" \
      >/dev/null 2>&1 </dev/null &
  fi
  wait_port "$port" "$pid" "$log"
  [[ -z "$sasl_port" ]] || wait_port "$sasl_port" "$pid" "$log"
  [[ -z "$ssl_port" ]] || wait_port "$ssl_port" "$pid" "$log"
  [[ -z "$mtls_port" ]] || wait_port "$mtls_port" "$pid" "$log"
  echo "PID=$pid"
  echo "PORT=$port"
  echo "DIR=$dir"
  echo "LOG=$dir/broker.log"
  [[ -z "$sasl_port" ]] || echo "SASL_PORT=$sasl_port"
  [[ -z "$ssl_port" ]] || {
    echo "SSL_PORT=$ssl_port"
    echo "SSL_CA=$dir/tls/ca.pem"
  }
  [[ -z "$mtls_port" ]] || {
    echo "MTLS_PORT=$mtls_port"
    echo "SSL_CA=$dir/tls/ca.pem"
    echo "MTLS_CERT=$dir/tls/client.pem"
    echo "MTLS_KEY=$dir/tls/client.key"
  }
}

# A zombie (exited, not yet reaped by an init that does not reap) counts as gone.
alive() {
  kill -0 "$1" 2>/dev/null && ! grep -qE '^[0-9]+ \(.*\) Z' "/proc/$1/stat" 2>/dev/null
}

stop() {
  local pid="${1:?usage: scripts/kafka.sh stop PID}" signal="${2:-TERM}"
  [[ "$pid" =~ ^[0-9]+$ ]] || die "stop and kill take the broker's PID, got \"$pid\""
  alive "$pid" || return 0
  kill "-$signal" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 10))
  while alive "$pid"; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 10))
    fi
    sleep 0.1
  done
}

cmd="${1:-}"
shift || true
case "$cmd" in
fetch) fetch ;;
start) start "$@" ;;
stop) stop "${1:-}" TERM ;;
kill) stop "${1:-}" KILL ;;
*) die "usage: scripts/kafka.sh fetch | start [--port N] [--dir DIR] [--sasl-port N] [--ssl-port N] [--mtls-port N] | stop PID | kill PID" ;;
esac
