// The Kafka transport end to end on a real broker (Apache Kafka in KRaft mode, scripts/kafka.sh): events
// go spool -> sender -> kafka:// sink -> topic -> collector consumer mode -> store, through a broker
// restart, a collector kill -9 and a rebalance between two collectors. One broker for the whole file.
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Admin, Consumer } from "@platformatic/kafka";
import { createLogger } from "../platform/log.js";
import { createRegistry } from "../platform/metrics.js";
import { createEventMetrics } from "../events/metrics.js";
import { Sender } from "../events/sender.js";
import { createSink, RejectedBatchError } from "../events/sink.js";
import { Spool } from "../events/spool.js";
import { eventually, metricValue, startCollectorCli, tmp, type Cli } from "../testing/procs.js";
import { testEvent } from "./testing/events.js";
import {
  ids,
  javaMissing,
  SASL_PASSWORD,
  SASL_USER,
  startKafka,
  storedLines,
  type KafkaBroker,
} from "./testing/kafka.js";
import { KafkaEventConsumer, type KafkaConsumerConfig } from "./kafka-consumer.js";
import { EventStore } from "./store.js";

const log = createLogger({ name: "test", level: "silent" });
const noJava = javaMissing();
if (noJava) console.log(`# skipping the Kafka tests: ${noJava}`);

const MODELS = ["fraud", "iris", "churn", "ranker", "spam", "vision", "speech", "pricing"];
const line = (id: string, model: string) => JSON.stringify(testEvent(id, new Date(), 0, model));

let broker: KafkaBroker;
const closers: (() => Promise<unknown>)[] = [];

async function createTopic(topic: string, partitions: number): Promise<void> {
  const admin = new Admin({ clientId: "test-admin", bootstrapBrokers: [broker.bootstrap] });
  try {
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
  } finally {
    await admin.close();
  }
}

/** The production path of a model pod: a disk spool, the sender and the sink named by URL. */
async function pipeline(sinkUrl: string) {
  const registry = createRegistry("test", { defaultMetrics: false });
  const metrics = createEventMetrics(registry);
  const spool = await Spool.open({
    dir: tmp("kafka-spool"),
    maxBytes: 64 * 1024 * 1024,
    syncIntervalMs: 20,
    mode: "write-through",
    log,
  });
  const sink = createSink(sinkUrl, log, { requestTimeoutMs: 5_000 });
  const sender = new Sender(spool, sink, log, metrics, {
    lingerMs: 20,
    backoffInitialMs: 100,
    backoffMaxMs: 1_000,
  });
  sender.start();
  let stopped: Promise<void> | undefined;
  // also after a failed assertion: a running sender would keep the test process alive
  const stop = () =>
    (stopped ??= (async () => {
      await sender.stop();
      await spool.close();
      await sink.close();
    })());
  closers.push(stop);
  const shipped = async (result: string) =>
    metricValue(await registry.metrics(), "modelship_events_shipped_total", { result });
  return {
    spool,
    shipped,
    /**
     * Appends events prefix-from, prefix-(from+1), ... (models in turn), perSecond of them a second: n
     * of them, or with n = Infinity until onProgress returns "stop". Resolves with how many.
     */
    async produce(
      prefix: string,
      n: number,
      perSecond: number,
      onProgress?: (i: number) => Promise<void | "stop"> | void | "stop",
      from = 0,
    ): Promise<number> {
      const start = Date.now();
      let i = 0;
      while (i < n) {
        const id = `${prefix}-${from + i}`;
        assert.ok(spool.append(line(id, MODELS[(from + i) % MODELS.length]!)), "spool refused an event");
        i++;
        if (i % 20 === 0) {
          if ((await onProgress?.(i)) === "stop") break;
          const due = start + (i * 1000) / perSecond;
          await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
        }
      }
      return i;
    },
    async close() {
      assert.ok(await sender.drain(60_000), "the sender did not ship every spooled event within 60 s");
      await stop();
    },
  };
}

function consumerConfig(
  topic: string,
  group: string,
  extra: Partial<KafkaConsumerConfig> = {},
): KafkaConsumerConfig {
  return {
    brokers: [broker.bootstrap],
    topic,
    group,
    clientId: "test-collector",
    sessionTimeoutMs: 3_000,
    batchMaxEvents: 100,
    fetchMaxBytes: 1024 * 1024,
    security: {},
    ...extra,
  };
}

/** An in-process collector: its store and its consumer. */
function collector(cfg: KafkaConsumerConfig) {
  const dir = tmp("kafka-store");
  const store = new EventStore({ dir, log });
  const registry = createRegistry("collector", { defaultMetrics: false });
  const consumer = new KafkaEventConsumer(cfg, store, registry, log, {
    backoffInitialMs: 200,
    backoffMaxMs: 1_000,
  });
  consumer.start();
  const stop = async () => {
    await consumer.stop();
    await store.close();
  };
  closers.push(stop);
  return { dir, consumer, registry, stop };
}

/**
 * Waits until the stores under dirs hold `want` distinct ids together; returns their lines. Gives up
 * once the count has not grown for stallMs (events lost stay lost), and returns what is there, so the
 * caller's assertion names what is missing.
 */
async function storedAll(dirs: string[], want: number, stallMs = 15_000): Promise<string[][]> {
  let count = -1;
  let changedAt = Date.now();
  for (;;) {
    const all = await Promise.all(dirs.map((d) => storedLines(d)));
    const n = new Set(all.flatMap(ids)).size;
    if (n >= want) {
      // a moment more, so a copy written late shows up in the assertion
      await new Promise((r) => setTimeout(r, 300));
      return Promise.all(dirs.map((d) => storedLines(d)));
    }
    if (n !== count) [count, changedAt] = [n, Date.now()];
    if (Date.now() - changedAt > stallMs) return all;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function assertExactly(lines: string[], prefix: string, n: number) {
  const got = ids(lines);
  const distinct = new Set(got);
  const missing = Array.from({ length: n }, (_, i) => `${prefix}-${i}`).filter((id) => !distinct.has(id));
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${n} events lost`);
  assert.equal(distinct.size, n, "events that were never produced were stored");
  assert.equal(got.length, n, `${got.length - n} duplicate events in one store`);
}

describe("Kafka transport on a real broker", { skip: noJava, timeout: 240_000 }, () => {
  before(async () => {
    broker = await startKafka();
  });

  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await broker?.stop();
    if (broker) rmSync(broker.dir, { recursive: true, force: true });
  });

  test("events shipped through the kafka sink are keyed by model, stored by the collector, offsets committed after", async () => {
    const topic = "events-basic";
    await createTopic(topic, 3);
    const p = await pipeline(`kafka://${broker.bootstrap}/${topic}`);
    await p.produce("b", 400, 4_000);
    await p.close();
    assert.equal(await p.shipped("ok"), 400);

    // as a raw consumer sees the topic: one record per event, key = model, one partition per model
    const raw = new Consumer({
      clientId: "inspect",
      groupId: "inspect",
      bootstrapBrokers: [broker.bootstrap],
    });
    const stream = await raw.consume({ topics: [topic], mode: "earliest", autocommit: false });
    const partitionOf = new Map<string, number>();
    let n = 0;
    for await (const m of stream) {
      const event = JSON.parse(m.value!.toString()) as { subject: string };
      assert.equal(m.key!.toString(), event.subject);
      assert.equal(contentType(m.headers), "application/cloudevents+json; charset=UTF-8");
      assert.equal(
        partitionOf.get(event.subject) ?? m.partition,
        m.partition,
        `${event.subject} is in two partitions`,
      );
      partitionOf.set(event.subject, m.partition);
      if (++n === 400) break;
    }
    await stream.close();
    await raw.close(true);
    assert.ok(new Set(partitionOf.values()).size > 1, "every model landed in one partition");

    const c = collector(consumerConfig(topic, "collectors-basic"));
    const [lines] = await storedAll([c.dir], 400);
    assertExactly(lines!, "b", 400);
    await c.stop();
    assert.equal(
      metricValue(await c.registry.metrics(), "modelship_collector_kafka_events_total", { result: "stored" }),
      400,
    );

    // the group's committed offsets cover every record: a restarted collector reads nothing again
    const check = new Consumer({
      clientId: "inspect",
      groupId: "collectors-basic",
      bootstrapBrokers: [broker.bootstrap],
    });
    const committed = await check.listCommittedOffsets({ topics: [{ topic, partitions: [0, 1, 2] }] });
    await check.close(true);
    assert.equal(
      (committed.get(topic) ?? []).reduce((a, b) => a + b, 0n),
      400n,
    );
  });

  test("consumer lag: the records not yet stored per partition, N while the store is held, 0 once it is let go", async () => {
    const topic = "events-lag";
    await createTopic(topic, 3);
    const p = await pipeline(`kafka://${broker.bootstrap}/${topic}`);
    await p.produce("l", 300, 4_000);
    // Given 300 records in the topic and a collector whose store holds every batch until released
    const dir = tmp("kafka-store");
    const store = new EventStore({ dir, log });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const heldStore = {
      ingest: async (lines: string[]) => {
        await held;
        return store.ingest(lines);
      },
    };
    const registry = createRegistry("collector", { defaultMetrics: false });
    const consumer = new KafkaEventConsumer(
      consumerConfig(topic, "collectors-lag"),
      heldStore,
      registry,
      log,
      {
        backoffInitialMs: 200,
        lagIntervalMs: 200,
      },
    );
    consumer.start();
    closers.push(async () => {
      release();
      await consumer.stop();
      await store.close();
    });
    const lag = async () => {
      const text = await registry.metrics();
      const series = text.split("\n").filter((l) => l.startsWith("modelship_collector_kafka_lag_messages{"));
      return { series, total: metricValue(text, "modelship_collector_kafka_lag_messages", { topic }) };
    };
    const lagReaches = (want: number, what: string) =>
      eventually(
        async () => {
          const l = await lag();
          return l.series.length === 3 && l.total === want ? l : undefined;
        },
        30_000,
        what,
      );

    // Then the gauge reports all 300 as lag, one series per assigned partition
    const before = await lagReaches(300, "the lag of the three partitions to add up to 300");
    assert.ok(
      before.series.every((l) => Number(l.split(" ").at(-1)) > 0),
      `a partition without records: ${before.series.join(", ")}`,
    );
    // When 60 more arrive while the store is still held, the lag grows by 60
    await p.produce("l", 60, 4_000, undefined, 300);
    await p.close();
    await lagReaches(360, "the lag to grow to 360");
    assert.equal(
      metricValue(await registry.metrics(), "modelship_collector_kafka_events_total", { result: "stored" }),
      0,
    );

    // When the store is released, the collector catches up and the lag of every partition falls to 0
    release();
    const after = await lagReaches(0, "the lag to fall to 0");
    assert.equal(after.series.length, 3);
    assert.equal(
      metricValue(await registry.metrics(), "modelship_collector_kafka_events_total", { result: "stored" }),
      360,
    );
    assertExactly(await storedLines(dir), "l", 360);
    const perPartition = before.series.map(
      (l) => `${/partition="(\d+)"/.exec(l)?.[1]}: ${l.split(" ").at(-1)}`,
    );
    console.log(`# lag test: partitions ${perPartition.join(", ")} while held (300); 0 each after release`);

    // And a stopped consumer reports no lag: its partitions are another member's to report
    await consumer.stop();
    assert.deepEqual((await lag()).series, []);
  });

  test("TLS and SCRAM: the sink and the collector authenticate with credentials from files and env", async () => {
    const topic = "events-secure";
    await createTopic(topic, 2);
    const secrets = tmp("kafka-secrets");
    writeFileSync(join(secrets, "user"), `${SASL_USER}\n`);
    writeFileSync(join(secrets, "password"), `${SASL_PASSWORD}\n`);
    const url =
      `kafka://${broker.sslBootstrap}/${topic}?ca=${encodeURIComponent(broker.ca)}&sasl=scram-sha-512` +
      `&username-file=${encodeURIComponent(join(secrets, "user"))}&password-file=${encodeURIComponent(join(secrets, "password"))}`;
    const sink = createSink(url, log, { requestTimeoutMs: 5_000 });
    closers.push(() => sink.close());
    await sink.send(Array.from({ length: 30 }, (_, i) => line(`s-${i}`, MODELS[i % 3]!)));

    // a wrong password is retried (it may be mid-rotation), never dropped
    writeFileSync(join(secrets, "password"), "wrong\n");
    const bad = createSink(url, log, { requestTimeoutMs: 5_000 });
    closers.push(() => bad.close());
    const err = await bad.send([line("s-x", "fraud")]).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err instanceof Error && !(err instanceof RejectedBatchError), String(err));
    assert.match(err.message, /check the SASL mechanism, username and password/);

    const env = { KAFKA_USER: SASL_USER, KAFKA_PASS: SASL_PASSWORD };
    Object.assign(process.env, env);
    closers.push(async () => {
      for (const k of Object.keys(env)) delete process.env[k];
    });
    const c = collector(
      consumerConfig(topic, "collectors-secure", {
        brokers: [broker.saslBootstrap],
        security: {
          sasl: {
            mechanism: "scram-sha-256",
            username: { env: "KAFKA_USER" },
            password: { env: "KAFKA_PASS" },
          },
        },
      }),
    );
    const [lines] = await storedAll([c.dir], 30);
    assertExactly(lines!, "s", 30);
  });

  test("mutual TLS and SASL PLAIN: a client certificate admits the sink and the collector; without it the broker refuses", async () => {
    const topic = "events-mtls";
    await createTopic(topic, 2);
    const q = encodeURIComponent;
    const mtls = `kafka://${broker.mtlsBootstrap}/${topic}?ca=${q(broker.ca)}`;
    const sink = createSink(`${mtls}&cert=${q(broker.clientCert)}&key=${q(broker.clientKey)}`, log, {
      requestTimeoutMs: 5_000,
    });
    closers.push(() => sink.close());
    await sink.send(Array.from({ length: 20 }, (_, i) => line(`m-${i}`, MODELS[i % 3]!)));

    // the same listener without a client certificate: refused, and retried rather than dropped
    const anonymous = createSink(mtls, log, { requestTimeoutMs: 5_000 });
    closers.push(() => anonymous.close());
    const err = await anonymous.send([line("m-x", "fraud")]).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err instanceof Error && !(err instanceof RejectedBatchError), String(err));

    // SASL PLAIN over TLS, credentials from files
    const secrets = tmp("kafka-plain");
    writeFileSync(join(secrets, "user"), `${SASL_USER}\n`);
    writeFileSync(join(secrets, "password"), `${SASL_PASSWORD}\n`);
    const plain = createSink(
      `kafka://${broker.sslBootstrap}/${topic}?ca=${q(broker.ca)}&sasl=plain` +
        `&username-file=${q(join(secrets, "user"))}&password-file=${q(join(secrets, "password"))}`,
      log,
      { requestTimeoutMs: 5_000 },
    );
    closers.push(() => plain.close());
    await plain.send(Array.from({ length: 10 }, (_, i) => line(`m-${20 + i}`, MODELS[i % 3]!)));

    const c = collector(
      consumerConfig(topic, "collectors-mtls", {
        brokers: [broker.mtlsBootstrap],
        security: {
          tls: {
            ca: readFileSync(broker.ca),
            cert: readFileSync(broker.clientCert),
            key: readFileSync(broker.clientKey),
          },
        },
      }),
    );
    const [lines] = await storedAll([c.dir], 30);
    assertExactly(lines!, "m", 30);
  });

  test("a broker restart mid-stream loses nothing: the spool holds events until Kafka acknowledges them", async () => {
    const topic = "events-restart";
    await createTopic(topic, 3);
    const c = collector(consumerConfig(topic, "collectors-restart"));
    const p = await pipeline(`kafka://${broker.bootstrap}/${topic}`);
    let restarted: Promise<void> | undefined;
    await p.produce("r", 1_500, 300, (i) => {
      // a third in: kill the broker (a crash, not a clean stop), bring it back 1 s later
      if (i === 500)
        restarted = broker.stop("KILL").then(async () => {
          await new Promise((r) => setTimeout(r, 1_000));
          await broker.start();
        });
    });
    await restarted;
    await p.close();
    const [lines] = await storedAll([c.dir], 1_500);
    assertExactly(lines!, "r", 1_500);
    assert.ok((await p.shipped("error")) > 0, "the sink never saw the broker down");
    assert.ok(
      metricValue(await c.registry.metrics(), "modelship_collector_kafka_session_failures_total") > 0,
      "the consumer never lost its session",
    );
  });

  test("a collector killed with kill -9 mid-stream and restarted loses nothing and stores nothing twice", async () => {
    const topic = "events-kill";
    await createTopic(topic, 3);
    const dataDir = tmp("kafka-collector");
    const flags = [
      "--kafka-brokers",
      broker.bootstrap,
      "--kafka-topic",
      topic,
      "--kafka-group",
      "collectors-kill",
      // static membership, as a StatefulSet pod would use: the restarted member takes its partitions back
      "--kafka-group-instance-id",
      "collector-0",
      "--kafka-session-timeout-ms",
      "2000",
      "--kafka-batch-max-events",
      "20",
    ];
    const p = await pipeline(`kafka://${broker.bootstrap}/${topic}`);
    // a backlog first: the collector starts behind, so when it is killed it holds records it has read
    // but not yet stored, and records stored but not yet committed
    await p.produce("k", 2_000, 20_000);
    await eventually(
      async () => ((await p.shipped("ok")) >= 2_000 ? true : undefined),
      30_000,
      "the backlog in Kafka",
    );
    let cli = (await startCollectorCli(dataDir, 0, flags)).cli;
    closers.push(() => cli.stop());
    const deadline = Date.now() + 30_000;
    while ((await storedLines(dataDir)).length < 100) {
      assert.ok(Date.now() < deadline, "the collector stored nothing in 30 s");
      await new Promise((r) => setTimeout(r, 10));
    }
    cli.child.kill("SIGKILL");
    await cli.exited;
    const atKill = (await storedLines(dataDir)).length;
    assert.ok(atKill < 2_000, `the collector had stored all ${atKill} events before the kill`);
    // more arrive while it is down, and after it is back
    const more = p.produce("k", 500, 500, undefined, 2_000);
    const restarted = await startCollectorCli(dataDir, 0, flags);
    cli = restarted.cli;
    await more;
    await p.close();
    const [lines] = await storedAll([dataDir], 2_500);
    assertExactly(lines!, "k", 2_500);
    const metrics = await (await fetch(`${restarted.url}/metrics`)).text();
    const dup = metricValue(metrics, "modelship_collector_kafka_events_total", { result: "duplicate" });
    console.log(
      `# kill test: ${atKill} stored at the kill, ${dup} re-read copies dropped by the store after the restart`,
    );
  });

  test("two collectors in one group split the partitions; rebalances as one joins and one leaves lose nothing", async () => {
    const topic = "events-group";
    await createTopic(topic, 4);
    const flags = [
      "--kafka-brokers",
      broker.bootstrap,
      "--kafka-topic",
      topic,
      "--kafka-group",
      "collectors-group",
      "--kafka-session-timeout-ms",
      "3000",
      "--kafka-batch-max-events",
      "50",
    ];
    const joins = (cli: Cli) =>
      cli.logs.filter((l) => l.msg === "Joined Kafka consumer group").map((l) => l.partitions as number[]);
    const dirA = tmp("kafka-collector-a");
    const dirB = tmp("kafka-collector-b");
    const a = (await startCollectorCli(dirA, 0, flags)).cli;
    closers.push(() => a.stop());
    const p = await pipeline(`kafka://${broker.bootstrap}/${topic}`);
    // traffic all along: until both rebalances are done, then 200 more events
    let sent = 0;
    let stopAt = Infinity;
    const producing = p.produce("g", Infinity, 400, (i) => {
      sent = i;
      return i >= stopAt ? "stop" : undefined;
    });

    // Given A alone owns the four partitions and has stored events
    await eventually(
      async () =>
        joins(a).at(-1)?.length === 4 && (await storedLines(dirA)).length >= 100 ? true : undefined,
      30_000,
      "A to own every partition and store 100 events",
    );
    // When B joins, the group splits the partitions between them
    const b = (await startCollectorCli(dirB, 0, flags)).cli;
    closers.push(() => b.stop());
    const split = await eventually(
      async () => {
        const [pa, pb] = [joins(a).at(-1) ?? [], joins(b).at(-1) ?? []];
        return pa.length > 0 && pb.length > 0 && pa.length + pb.length === 4 ? [pa, pb] : undefined;
      },
      30_000,
      "A and B to split the partitions",
    );
    assert.deepEqual([...split[0]!, ...split[1]!].sort(), [0, 1, 2, 3]);
    await eventually(
      async () => ((await storedLines(dirB)).length >= 100 ? true : undefined),
      30_000,
      "B to store",
    );
    // When A leaves, B takes every partition
    await a.stop();
    await eventually(
      async () => (joins(b).at(-1)?.length === 4 ? true : undefined),
      30_000,
      "B to own every partition",
    );
    stopAt = sent + 200;
    const n = await producing;
    await p.close();

    // Then nothing is lost, no store holds a copy twice, and across the two readers de-duplicate by id
    const [linesA, linesB] = await storedAll([dirA, dirB], n);
    assert.equal(ids(linesA!).length, new Set(ids(linesA!)).size, "duplicates in A's store");
    assert.equal(ids(linesB!).length, new Set(ids(linesB!)).size, "duplicates in B's store");
    assert.ok(linesA!.length > 0 && linesB!.length > 0, "one collector stored nothing");
    const union = [...new Set([...ids(linesA!), ...ids(linesB!)])];
    assertExactly(
      union.map((id) => JSON.stringify({ id })),
      "g",
      n,
    );
    console.log(
      `# group test: ${n} events, A stored ${linesA!.length}, B ${linesB!.length}, ${linesA!.length + linesB!.length - n} copies across the two`,
    );
  });
});

function contentType(headers: Map<unknown, unknown>): string | undefined {
  for (const [k, v] of headers) if (String(k) === "content-type") return String(v);
  return undefined;
}
