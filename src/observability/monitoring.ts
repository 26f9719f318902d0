// What makes a model's health visible at a glance: a Grafana dashboard per ModelDeployment and the
// Prometheus alert rules, generated from one list of queries so both read the same series. Pure data;
// `modelship monitoring` writes them into the Helm chart (charts/modelship/files/), which ships them as
// a dashboard ConfigMap and a PrometheusRule beside a PodMonitor that scrapes every model pod.
//
// Series carry the pod's labels through the usual Kubernetes relabeling (the chart's PodMonitor, or a
// `labelmap` of __meta_kubernetes_pod_label_(.+)): modelship_io_deployment and modelship_io_revision,
// plus namespace.

/** The labels a scrape adds to every model pod's series. */
export const scrapeLabels = {
  namespace: "namespace",
  deployment: "modelship_io_deployment",
  revision: "modelship_io_revision",
} as const;

const L = scrapeLabels;
/** The dashboard's selector: one ModelDeployment, chosen by the namespace and deployment variables. */
const SEL = `${L.namespace}="$namespace",${L.deployment}="$deployment"`;
const RATE = "$__rate_interval";
const byRev = `sum by (${L.revision})`;

export interface PanelQuery {
  expr: string;
  legend: string;
}

export interface Panel {
  title: string;
  description: string;
  unit: string;
  kind: "stat" | "timeseries";
  queries: PanelQuery[];
  /** Whether the panel has data whenever the deployment serves traffic (tests check these return series). */
  core: boolean;
}

export interface Row {
  title: string;
  panels: Panel[];
}

const quantile = (q: number): PanelQuery => ({
  expr: `histogram_quantile(${q}, sum by (le, ${L.revision}) (rate(modelship_inference_request_duration_seconds_bucket{${SEL}}[${RATE}])))`,
  legend: `p${Math.round(q * 100)} {{${L.revision}}}`,
});

/** The dashboard's content, row by row. */
export function dashboardRows(): Row[] {
  return [
    {
      title: "Serving",
      panels: [
        {
          title: "Models loaded and ready",
          description: "Model server processes whose model is loaded and warmed up (modelship_model_ready).",
          unit: "none",
          kind: "stat",
          core: true,
          queries: [{ expr: `sum(modelship_model_ready{${SEL}})`, legend: "ready" }],
        },
        {
          title: "Requests per second, by revision",
          description: "Requests the model server answered, whatever the outcome.",
          unit: "reqps",
          kind: "timeseries",
          core: true,
          queries: [
            {
              expr: `${byRev} (rate(modelship_inference_requests_total{${SEL}}[${RATE}]))`,
              legend: `{{${L.revision}}}`,
            },
          ],
        },
        {
          title: "Server errors (5xx share), by revision",
          description:
            "The model server's own 5xx before the logger's fallback hides them from clients: what a canary's analysis judges.",
          unit: "percentunit",
          kind: "timeseries",
          core: true,
          queries: [
            {
              expr: `(${byRev} (rate(modelship_inference_requests_total{${SEL},code=~"5.."}[${RATE}])) or ${byRev} (rate(modelship_inference_requests_total{${SEL}}[${RATE}])) * 0) / ${byRev} (rate(modelship_inference_requests_total{${SEL}}[${RATE}]))`,
              legend: `{{${L.revision}}}`,
            },
          ],
        },
        {
          title: "Latency (model server)",
          description: "Time from request to response inside the model server, queueing included.",
          unit: "s",
          kind: "timeseries",
          core: true,
          queries: [quantile(0.5), quantile(0.95), quantile(0.99)],
        },
        {
          title: "Queue depth and requests in flight",
          description: "Requests waiting for a batch slot, and requests being answered.",
          unit: "none",
          kind: "timeseries",
          core: true,
          queries: [
            {
              expr: `${byRev} (modelship_inference_queue_depth{${SEL}})`,
              legend: `queued {{${L.revision}}}`,
            },
            {
              expr: `${byRev} (modelship_inference_in_flight{${SEL}})`,
              legend: `in flight {{${L.revision}}}`,
            },
          ],
        },
        {
          title: "Average batch size",
          description: "Requests per session run: above 1 when dynamic batching groups concurrent requests.",
          unit: "none",
          kind: "timeseries",
          core: true,
          queries: [
            {
              expr: `${byRev} (rate(modelship_inference_batch_size_sum{${SEL}}[${RATE}])) / ${byRev} (rate(modelship_inference_batch_size_count{${SEL}}[${RATE}]))`,
              legend: `{{${L.revision}}}`,
            },
          ],
        },
      ],
    },
    {
      title: "Logging and fallback",
      panels: [
        {
          title: "Fallbacks per second, by revision",
          description: "Requests the local model failed that the stable revision answered (canary pods).",
          unit: "reqps",
          kind: "timeseries",
          core: false,
          queries: [
            {
              expr: `${byRev} (rate(modelship_fallback_total{${SEL}}[${RATE}]))`,
              legend: `{{${L.revision}}}`,
            },
          ],
        },
        {
          title: "Inference events recorded",
          description:
            "Events spooled (by serve, or the logger in front of a custom container), by result; every request is one event.",
          unit: "ops",
          kind: "timeseries",
          core: true,
          queries: [
            {
              expr: `sum by (result) (rate(modelship_events_total{${SEL}}[${RATE}]))`,
              legend: "{{result}}",
            },
          ],
        },
        {
          title: "Events dropped",
          description: "Events lost because the spool was full (the sink was down too long). Should be 0.",
          unit: "short",
          kind: "timeseries",
          core: false,
          queries: [
            {
              expr: `sum by (reason) (increase(modelship_events_dropped_total{${SEL}}[${RATE}]))`,
              legend: "{{reason}}",
            },
          ],
        },
        {
          title: "Spool backlog",
          description: "Oldest unsent event's age: grows while the event sink is unreachable.",
          unit: "s",
          kind: "timeseries",
          core: true,
          queries: [
            { expr: `max(modelship_events_spool_oldest_age_seconds{${SEL}})`, legend: "oldest event age" },
          ],
        },
      ],
    },
    {
      title: "Drift",
      panels: [
        {
          title: "Drift score",
          description:
            "The drift job's overall score for the model (share of features drifted), from its pushed metrics.",
          unit: "percentunit",
          kind: "timeseries",
          core: false,
          queries: [{ expr: `max by (model) (modelship_drift_score{model=~"$model"})`, legend: "{{model}}" }],
        },
        {
          title: "Feature PSI",
          description:
            "Population stability index per feature against the training baseline (0.2+ is a shift).",
          unit: "none",
          kind: "timeseries",
          core: false,
          queries: [
            {
              expr: `max by (feature) (modelship_drift_feature_psi{model=~"$model"})`,
              legend: "{{feature}}",
            },
          ],
        },
      ],
    },
  ];
}

/** The Grafana dashboard JSON (schemaVersion 39), with datasource, namespace, deployment and model variables. */
export function grafanaDashboard(): Record<string, unknown> {
  const ds = { type: "prometheus", uid: "${datasource}" };
  let id = 0;
  let y = 0;
  const panels: Record<string, unknown>[] = [];
  for (const row of dashboardRows()) {
    panels.push({
      id: ++id,
      type: "row",
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
    });
    y += 1;
    row.panels.forEach((p, i) => {
      const w = p.kind === "stat" ? 6 : 12;
      panels.push({
        id: ++id,
        type: p.kind,
        title: p.title,
        description: p.description,
        datasource: ds,
        gridPos: { h: 8, w, x: (i % 2) * 12, y: y + Math.floor(i / 2) * 8 },
        fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
        options:
          p.kind === "stat"
            ? { reduceOptions: { calcs: ["lastNotNull"] } }
            : { legend: { displayMode: "list" } },
        targets: p.queries.map((q, k) => ({
          refId: String.fromCharCode(65 + k),
          datasource: ds,
          expr: q.expr,
          legendFormat: q.legend,
        })),
      });
    });
    y += Math.ceil(row.panels.length / 2) * 8;
  }
  const query = (name: string, label: string, q: string, multi = false) => ({
    name,
    label,
    type: "query",
    datasource: ds,
    query: { query: q, refId: name },
    definition: q,
    refresh: 2,
    sort: 1,
    multi,
    includeAll: multi,
  });
  return {
    title: "modelship / ModelDeployment",
    uid: "modelship-deployment",
    description: "One ModelDeployment at a glance: serving, logging and fallback, drift.",
    tags: ["modelship"],
    schemaVersion: 39,
    editable: true,
    time: { from: "now-3h", to: "now" },
    refresh: "30s",
    templating: {
      list: [
        { name: "datasource", label: "Prometheus", type: "datasource", query: "prometheus" },
        query("namespace", "Namespace", `label_values(modelship_model_ready, ${L.namespace})`),
        query(
          "deployment",
          "ModelDeployment",
          `label_values(modelship_model_ready{${L.namespace}="$namespace"}, ${L.deployment})`,
        ),
        query("model", "Model", `label_values(modelship_model_ready{${SEL}}, model)`, true),
      ],
    },
    panels,
  };
}

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: "warning" | "critical" };
  annotations: { summary: string; description: string };
}

const perDeployment = `${L.namespace}, ${L.deployment}`;
/** The collectors' consumer lag of a topic, all partitions and collectors together (partitions move between them). */
const kafkaLag = `sum by (${L.namespace}, topic) (modelship_collector_kafka_lag_messages)`;

/** The alert rules (one Prometheus rule group). */
export function alertRules(): AlertRule[] {
  const who = `{{ $labels.${L.namespace} }}/{{ $labels.${L.deployment} }}`;
  return [
    {
      alert: "ModelshipModelNotReady",
      expr: `sum by (${perDeployment}) (modelship_model_ready) == 0`,
      for: "10m",
      labels: { severity: "critical" },
      annotations: {
        summary: `${who}: no model server has its model ready`,
        description:
          "Every model server of this ModelDeployment reports modelship_model_ready 0: check `kubectl describe md` and the serve container's logs.",
      },
    },
    {
      alert: "ModelshipHighServerErrorRate",
      expr: `sum by (${perDeployment}, ${L.revision}) (rate(modelship_inference_requests_total{code=~"5.."}[5m])) / sum by (${perDeployment}, ${L.revision}) (rate(modelship_inference_requests_total[5m])) > 0.05`,
      for: "10m",
      labels: { severity: "warning" },
      annotations: {
        summary: `${who} revision {{ $labels.${L.revision} }}: {{ $value | humanizePercentage }} of requests fail with 5xx`,
        description:
          "The model server answers more than 5% of requests with a server error (timeouts, queue full, model errors).",
      },
    },
    {
      alert: "ModelshipFallbacks",
      expr: `sum by (${perDeployment}, ${L.revision}) (rate(modelship_fallback_total[5m])) / (sum by (${perDeployment}, ${L.revision}) (rate(modelship_inference_requests_total[5m])) or sum by (${perDeployment}, ${L.revision}) (rate(modelship_logger_requests_total{kind="infer"}[5m]))) > 0.01`,
      for: "10m",
      labels: { severity: "warning" },
      annotations: {
        summary: `${who} revision {{ $labels.${L.revision} }}: {{ $value | humanizePercentage }} of requests answered by the fallback`,
        description:
          "The local model fails often enough that the logger retries on the stable revision; clients do not see it, a rollout's analysis does.",
      },
    },
    {
      alert: "ModelshipInferenceEventsDropped",
      expr: `sum by (${perDeployment}) (increase(modelship_events_dropped_total[10m])) > 0`,
      for: "0m",
      labels: { severity: "critical" },
      annotations: {
        summary: `${who}: {{ $value }} inference events dropped in 10 minutes`,
        description:
          "The logger's spool filled up because the event sink was unreachable for too long; drift and audits miss these requests.",
      },
    },
    {
      alert: "ModelshipEventSinkBacklog",
      expr: `max by (${perDeployment}) (modelship_events_spool_oldest_age_seconds) > 900`,
      for: "5m",
      labels: { severity: "warning" },
      annotations: {
        summary: `${who}: inference events wait {{ $value | humanizeDuration }} to be shipped`,
        description:
          "The event sink (the collector) is not taking events; they are safe in the spool until it fills.",
      },
    },
    {
      alert: "ModelshipCollectorKafkaLagGrowing",
      expr: `${kafkaLag} > 1000 and deriv(${kafkaLag}[10m:1m]) > 0`,
      for: "10m",
      labels: { severity: "warning" },
      annotations: {
        summary: `{{ $labels.${L.namespace} }}: the collectors are {{ $value }} records behind Kafka topic {{ $labels.topic }}, and falling further behind`,
        description:
          "The collectors' consumer lag (end offsets minus the group's committed offsets) has grown for 10 minutes: they store events slower than the model pods produce them. Check their logs for failed stores or commits, their disk, and whether the group has as many collectors as the topic has partitions to share.",
      },
    },
    {
      alert: "ModelshipCollectorKafkaNotConsuming",
      expr: `sum by (${L.namespace}, job) (modelship_collector_kafka_assigned_partitions) == 0`,
      for: "15m",
      labels: { severity: "warning" },
      annotations: {
        summary: `{{ $labels.${L.namespace} }}/{{ $labels.job }}: no collector has been assigned a Kafka partition for 15 minutes`,
        description:
          "The collectors in Kafka consumer mode hold no partition (and so report no lag): their sessions fail (modelship_collector_kafka_session_failures_total; the log names the cause) or the topic does not exist. Events wait in Kafka until its retention deletes them.",
      },
    },
    {
      alert: "ModelshipDriftDetected",
      expr: `max by (model) (modelship_drift_verdict{verdict="drift"}) == 1`,
      for: "0m",
      labels: { severity: "warning" },
      annotations: {
        summary: "model {{ $labels.model }}: the last drift evaluation found drift",
        description: "See status.drift of the ModelDeployment and the full report at status.drift.reportRef.",
      },
    },
  ];
}

/** The Prometheus rule file (also the spec of a PrometheusRule). */
export function alertRuleGroups(): { groups: { name: string; rules: AlertRule[] }[] } {
  return { groups: [{ name: "modelship", rules: alertRules() }] };
}
