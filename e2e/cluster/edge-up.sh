# Sourced by up.sh once the real node and the Gateway API CRDs are in: the cluster's edge, two real
# services on this machine beside the control plane.
# - Traefik (TRAEFIK_VERSION, built by build-edge.sh) implements the GatewayClass "traefik" and the
#   Gateway modelship-gateway/inference, listening on $HOST_IP:$GATEWAY_PORT. It reads routes and
#   EndpointSlices with its ServiceAccount's token and sends requests straight to the pods' addresses.
# - Prometheus (PROMETHEUS_VERSION, built by build-edge.sh: Debian's package has no Kubernetes discovery) discovers the real node's pods through the API server (Kubernetes
#   service discovery, role pod) and scrapes those annotated prometheus.io/scrape, with the pods'
#   labels copied onto their series: what rollout analysis queries, at $HOST_IP:$PROMETHEUS_PORT.
# Both listen on the machine's own address so pods (the controller's analysis, in-cluster callers of
# the Gateway) and the tests on the host reach them alike.
# shellcheck shell=bash

# --- Traefik ---
log "Starting Traefik $TRAEFIK_VERSION (Gateway API) on $HOST_IP:$GATEWAY_PORT."
"${KUBECTL[@]}" apply -f "$E2E_CLUSTER_DIR/gateway/traefik-rbac.yaml" >/dev/null
"${KUBECTL[@]}" create token traefik -n modelship-gateway --duration=168h >"$STATE_DIR/traefik.token"
chmod 600 "$STATE_DIR/traefik.token"
cat >"$STATE_DIR/traefik.yaml" <<CFG
entryPoints:
  web:
    address: "$HOST_IP:$GATEWAY_PORT"
  traefik:
    address: "127.0.0.1:$TRAEFIK_ADMIN_PORT"
ping:
  entryPoint: traefik
metrics:
  prometheus:
    entryPoint: traefik
log:
  level: INFO
accessLog: {}
global:
  checkNewVersion: false
  sendAnonymousUsage: false
providers:
  kubernetesGateway:
    endpoint: "https://127.0.0.1:$APISERVER_PORT"
    token: "$STATE_DIR/traefik.token"
    certAuthFilePath: "$PKI/ca.crt"
    throttleDuration: 500ms
    statusAddress:
      ip: "$HOST_IP"
CFG
start_component traefik "$TRAEFIK_BIN" --configFile="$STATE_DIR/traefik.yaml"
wait_until traefik "Traefik answers its ping" 60 curl -fsS "http://127.0.0.1:$TRAEFIK_ADMIN_PORT/ping"
sed "s/GATEWAY_PORT/$GATEWAY_PORT/" "$E2E_CLUSTER_DIR/gateway/gateway.yaml" | "${KUBECTL[@]}" apply -f - >/dev/null
gateway_programmed() {
  [[ "$("${KUBECTL[@]}" get gateway inference -n modelship-gateway \
    -o jsonpath='{.status.conditions[?(@.type=="Programmed")].status}')" == True ]]
}
wait_until traefik "the Gateway modelship-gateway/inference is Programmed" 90 gateway_programmed

# --- Prometheus ---
log "Starting Prometheus on $HOST_IP:$PROMETHEUS_PORT (Kubernetes service discovery of the real node's pods)."
cat >"$STATE_DIR/prometheus.yml" <<CFG
global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
  - job_name: model-pods
    kubernetes_sd_configs:
      - role: pod
        api_server: "https://127.0.0.1:$APISERVER_PORT"
        tls_config: { ca_file: "$PKI/ca.crt", cert_file: "$PKI/admin.crt", key_file: "$PKI/admin.key" }
        selectors:
          - role: pod
            field: "spec.nodeName=$NODE_NAME"
    relabel_configs:
      # kwok's pods have addresses nothing answers at: only the real node's pods, annotated for scraping.
      - { source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], regex: "true", action: keep }
      - { source_labels: [__meta_kubernetes_pod_phase], regex: Running, action: keep }
      - source_labels: [__meta_kubernetes_pod_ip, __meta_kubernetes_pod_annotation_prometheus_io_port]
        regex: "(.+);(\\\\d+)"
        replacement: "\$1:\$2"
        target_label: __address__
      - { source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path], regex: "(.+)", target_label: __metrics_path__ }
      - { action: labelmap, regex: "__meta_kubernetes_pod_label_(.+)" }
      - { source_labels: [__meta_kubernetes_namespace], target_label: namespace }
      - { source_labels: [__meta_kubernetes_pod_name], target_label: pod }
  - job_name: traefik
    static_configs:
      - targets: ["127.0.0.1:$TRAEFIK_ADMIN_PORT"]
CFG
start_component prometheus "$PROMETHEUS_BIN" \
  --config.file="$STATE_DIR/prometheus.yml" --storage.tsdb.path="$STATE_DIR/prometheus" \
  --storage.tsdb.retention.time=6h --web.listen-address="$HOST_IP:$PROMETHEUS_PORT" --log.level=warn
wait_until prometheus "Prometheus is ready" 60 curl -fsS "http://$HOST_IP:$PROMETHEUS_PORT/-/ready"
