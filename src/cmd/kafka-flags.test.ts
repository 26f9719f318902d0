import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tmp } from "../testing/procs.js";
import { command } from "./collector.js";
import { parseCommandArgs, UsageError } from "./command.js";
import { kafkaConsumerConfig } from "./kafka-flags.js";

const parse = (...argv: string[]) => parseCommandArgs(command, ["--data-dir", "/tmp/x", ...argv]);

test("without --kafka-brokers the collector has no consumer; a stray --kafka-* flag is named", () => {
  assert.equal(kafkaConsumerConfig(parse(), {}), undefined);
  assert.throws(
    () => kafkaConsumerConfig(parse("--kafka-topic", "t"), {}),
    /--kafka-topic needs --kafka-brokers/,
  );
});

test("--kafka-* flags: brokers, topic, group, membership and security", () => {
  const dir = tmp("kafka-flags");
  writeFileSync(join(dir, "pass"), "pw\n");
  const cfg = kafkaConsumerConfig(
    parse(
      "--kafka-brokers",
      "k0:9093,k1:9093",
      "--kafka-topic",
      "events",
      "--kafka-group-instance-id",
      "collector-0",
      "--kafka-sasl",
      "scram-sha-256",
      "--kafka-tls",
      "--kafka-password-file",
      join(dir, "pass"),
    ),
    { MODELSHIP_KAFKA_USERNAME: "svc" },
  );
  assert.deepEqual(cfg && { ...cfg, clientId: undefined }, {
    brokers: ["k0:9093", "k1:9093"],
    topic: "events",
    group: "modelship-collector",
    clientId: undefined,
    groupInstanceId: "collector-0",
    sessionTimeoutMs: 30_000,
    batchMaxEvents: 500,
    fetchMaxBytes: 8 * 1024 * 1024,
    security: {
      tls: {},
      sasl: {
        mechanism: "scram-sha-256",
        username: { env: "MODELSHIP_KAFKA_USERNAME" },
        password: { file: join(dir, "pass") },
      },
    },
  });
});

test("bad --kafka-* values are usage errors naming the flag", () => {
  const bad: [string[], RegExp][] = [
    [["--kafka-brokers", "k0:9092"], /--kafka-topic is required with --kafka-brokers/],
    [["--kafka-brokers", "k0", "--kafka-topic", "t"], /--kafka-brokers: "k0" is not host:port/],
    [["--kafka-brokers", "k0:1", "--kafka-topic", "t t"], /--kafka-topic: "t t" is not a Kafka topic name/],
    [
      ["--kafka-brokers", "k0:1", "--kafka-topic", "t", "--kafka-session-timeout-ms", "5"],
      /--kafka-session-timeout-ms must be an integer >= 1000/,
    ],
    [
      ["--kafka-brokers", "k0:1", "--kafka-topic", "t", "--kafka-sasl", "plain"],
      /set the environment variable MODELSHIP_KAFKA_USERNAME, or name a file with --kafka-username-file/,
    ],
    [
      ["--kafka-brokers", "k0:1", "--kafka-topic", "t", "--kafka-ca", "/nonexistent"],
      /--kafka-ca: cannot read \/nonexistent/,
    ],
  ];
  for (const [argv, re] of bad)
    assert.throws(
      () => kafkaConsumerConfig(parse(...argv), {}),
      (e: Error) => e instanceof UsageError && re.test(e.message),
      argv.join(" "),
    );
});
