// The kafka:// sink's URL and request planning, without a broker (kafka-consumer.test.ts ships through a real one).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createLogger } from "../platform/log.js";
import { tmp } from "../testing/procs.js";
import { testEvent } from "../collector/testing/events.js";
import { DEFAULT_MAX_MESSAGE_BYTES, parseKafkaSinkUrl, planRecords } from "./kafka-sink.js";
import { createSink } from "./sink.js";

const log = createLogger({ name: "test", level: "silent" });

test("kafka://brokers/topic: brokers, topic and defaults", () => {
  const cfg = parseKafkaSinkUrl("kafka://kafka-0.kafka:9092,kafka-1.kafka:9092/inference-events", {});
  assert.deepEqual(cfg.brokers, ["kafka-0.kafka:9092", "kafka-1.kafka:9092"]);
  assert.equal(cfg.topic, "inference-events");
  assert.equal(cfg.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES);
  assert.equal(cfg.compression, "none");
  assert.deepEqual(cfg.security, {});
  assert.match(cfg.clientId, /^modelship-/);
  assert.equal(createSink("kafka://127.0.0.1:9092/events", log).name, "kafka");
});

test("TLS and SASL options: certificates read at start, credentials from files or env, never the URL", () => {
  const dir = tmp("kafka-url");
  const ca = join(dir, "ca.pem");
  writeFileSync(ca, "-----BEGIN CERTIFICATE-----\n");
  writeFileSync(join(dir, "user"), "svc\n");
  writeFileSync(join(dir, "pass"), "pw\n");
  const cfg = parseKafkaSinkUrl(
    `kafka://b:9093/t?ca=${ca}&sasl=SCRAM-SHA-512&username-file=${dir}/user&password-file=${dir}/pass&client-id=pod-1`,
    {},
  );
  assert.equal(cfg.security.tls?.ca?.toString(), "-----BEGIN CERTIFICATE-----\n");
  assert.deepEqual(cfg.security.sasl, {
    mechanism: "scram-sha-512",
    username: { file: `${dir}/user` },
    password: { file: `${dir}/pass` },
  });
  assert.equal(cfg.clientId, "pod-1");

  // the default variables, or the ones named
  const env = { MODELSHIP_KAFKA_USERNAME: "u", MODELSHIP_KAFKA_PASSWORD: "p", PW: "x" };
  assert.deepEqual(parseKafkaSinkUrl("kafka://b:9093/t?tls=1&sasl=plain&password-env=PW", env).security, {
    tls: {},
    sasl: { mechanism: "plain", username: { env: "MODELSHIP_KAFKA_USERNAME" }, password: { env: "PW" } },
  });
});

test("bad kafka:// URLs are refused, naming the option and the fix", () => {
  const pem = join(tmp("kafka-url"), "client.pem");
  writeFileSync(pem, "-----BEGIN CERTIFICATE-----\n");
  const bad: [string, RegExp][] = [
    ["kafka://user:secret@b:9092/t", /carries credentials; put them in files .* or environment variables/],
    ["kafka://b:9092/", /needs a topic/],
    ["kafka://b:9092", /is not kafka:\/\/host:port\[,host:port\]\/topic/],
    ["kafka://b/t", /"b" is not host:port/],
    ["kafka://b:9092/a%2Fb", /is not a Kafka topic name/],
    ["kafka://b:9092/t?acks=1", /unknown option "acks"; known: tls, ca, /],
    ["kafka://b:9092/t?tls=1&tls=0", /option "tls" is given twice/],
    ["kafka://b:9092/t?tls=maybe", /option tls= must be 1 or 0/],
    ["kafka://b:9092/t?ca=/nonexistent/ca.pem", /option ca=: cannot read \/nonexistent\/ca.pem/],
    [`kafka://b:9092/t?cert=${pem}`, /cert= and .* key= go together/],
    ["kafka://b:9092/t?sasl=gssapi", /option sasl= must be one of plain, scram-sha-256, scram-sha-512/],
    [
      "kafka://b:9092/t?sasl=plain",
      /SASL needs a username: set the environment variable MODELSHIP_KAFKA_USERNAME/,
    ],
    ["kafka://b:9092/t?username-env=U", /username-env= needs .* sasl=/],
    ["kafka://b:9092/t?max-message-bytes=12", /max-message-bytes= must be an integer >= 1024/],
    ["kafka://b:9092/t?compression=snappy", /compression= must be none or gzip/],
  ];
  for (const [url, re] of bad) assert.throws(() => parseKafkaSinkUrl(url, {}), re, url);
  // the password never appears in the error
  assert.throws(
    () => parseKafkaSinkUrl("kafka://user:secret@b:9092/t", {}),
    (e: Error) => !e.message.includes("secret"),
  );
});

test("records are keyed by model and split into requests under the message size; an oversized event is set aside", () => {
  const lines = ["fraud", "iris", "fraud"].map((m, i) =>
    JSON.stringify(testEvent(`e${i}`, new Date(), 0, m)),
  );
  const one = planRecords(lines, 1_000_000);
  assert.equal(one.requests.length, 1);
  assert.deepEqual(
    one.requests[0]!.map((r) => r.key.toString()),
    ["fraud", "iris", "fraud"],
  );
  assert.deepEqual(
    one.requests[0]!.map((r) => r.value.toString()),
    lines,
  );

  const size = Buffer.byteLength(lines[0]!) + 5 + 96;
  const split = planRecords(lines, size * 2);
  assert.deepEqual(
    split.requests.map((r) => r.length),
    [2, 1],
  );

  const big = JSON.stringify(testEvent("huge", new Date(), 5_000, "fraud"));
  const planned = planRecords([lines[0]!, big, lines[1]!], 2_000);
  assert.deepEqual(
    planned.oversized.map((o) => o.id),
    ["huge"],
  );
  assert.deepEqual(
    planned.requests.flat().map((r) => r.key.toString()),
    ["fraud", "iris"],
  );
});
