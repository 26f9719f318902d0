// The collector's consumer-mode flags (--kafka-*): where the topic is, which group, TLS and SASL.
import { hostname } from "node:os";
import { defaultKafkaConsumer, type KafkaConsumerConfig } from "../collector/kafka-consumer.js";
import {
  checkTopic,
  parseBrokers,
  parseKafkaSecurity,
  SECURITY_OPTIONS,
  type SecurityOption,
} from "../events/kafka-client.js";
import { boolFlag, intFlag, stringFlag, UsageError, type Command, type ParsedArgs } from "./command.js";

export const kafkaOptions: Command["options"] = {
  "kafka-brokers": { type: "string" },
  "kafka-topic": { type: "string" },
  "kafka-group": { type: "string" },
  "kafka-client-id": { type: "string" },
  "kafka-group-instance-id": { type: "string" },
  "kafka-session-timeout-ms": { type: "string" },
  "kafka-batch-max-events": { type: "string" },
  "kafka-fetch-max-bytes": { type: "string" },
  ...Object.fromEntries(
    SECURITY_OPTIONS.map((o) => [`kafka-${o}`, o === "tls" ? { type: "boolean" } : { type: "string" }]),
  ),
};

export const kafkaUsage = [
  "Consumer mode (stores the events of a Kafka topic, as a member of a consumer group; docs/kafka.md):",
  "  --kafka-brokers H:P[,H:P]   bootstrap brokers; turns consumer mode on",
  "  --kafka-topic NAME          the topic the kafka:// sink writes (required with --kafka-brokers)",
  `  --kafka-group NAME          consumer group; collectors in one group share the partitions (default ${defaultKafkaConsumer.group})`,
  "  --kafka-client-id ID        client id shown in the broker's logs (default the host name)",
  "  --kafka-group-instance-id ID  static membership (e.g. the StatefulSet pod name): a restart keeps its partitions",
  `  --kafka-session-timeout-ms N  a silent member loses its partitions after this (default ${defaultKafkaConsumer.sessionTimeoutMs})`,
  `  --kafka-batch-max-events N  events stored and fsynced before one offset commit (default ${defaultKafkaConsumer.batchMaxEvents})`,
  `  --kafka-fetch-max-bytes N   most bytes one fetch asks for (default ${defaultKafkaConsumer.fetchMaxBytes})`,
  "  --kafka-tls                 TLS to the brokers (implied by --kafka-ca, --kafka-cert, --kafka-servername)",
  "  --kafka-ca FILE             PEM CA bundle for the brokers' certificates (default: the system's)",
  "  --kafka-cert FILE, --kafka-key FILE  client certificate and key (PEM) for mutual TLS",
  "  --kafka-servername NAME     the name the brokers' certificates are checked against",
  "  --kafka-sasl MECHANISM      plain | scram-sha-256 | scram-sha-512",
  "  --kafka-username-file FILE, --kafka-password-file FILE  SASL credentials (re-read at each connection);",
  "                              or --kafka-username-env VAR, --kafka-password-env VAR (default",
  "                              MODELSHIP_KAFKA_USERNAME, MODELSHIP_KAFKA_PASSWORD)",
];

/** The consumer's settings from the flags; undefined without --kafka-brokers. Throws UsageError naming a flag. */
export function kafkaConsumerConfig(
  args: ParsedArgs,
  env: NodeJS.ProcessEnv = process.env,
): KafkaConsumerConfig | undefined {
  const brokersFlag = stringFlag(args, "kafka-brokers");
  if (brokersFlag === undefined) {
    const stray = Object.keys(kafkaOptions).find((o) => args.values[o] !== undefined);
    if (stray !== undefined) throw new UsageError(`--${stray} needs --kafka-brokers`);
    return undefined;
  }
  try {
    const topicFlag = stringFlag(args, "kafka-topic");
    if (topicFlag === undefined) throw new UsageError("--kafka-topic is required with --kafka-brokers");
    const instance = stringFlag(args, "kafka-group-instance-id");
    return {
      brokers: parseBrokers(brokersFlag, "--kafka-brokers"),
      topic: checkTopic(topicFlag, "--kafka-topic"),
      group: stringFlag(args, "kafka-group") ?? defaultKafkaConsumer.group,
      clientId: stringFlag(args, "kafka-client-id") ?? `modelship-collector-${hostname()}`,
      ...(instance !== undefined && instance !== "" ? { groupInstanceId: instance } : {}),
      sessionTimeoutMs: intFlag(
        args,
        "kafka-session-timeout-ms",
        defaultKafkaConsumer.sessionTimeoutMs,
        1_000,
      ),
      batchMaxEvents: intFlag(args, "kafka-batch-max-events", defaultKafkaConsumer.batchMaxEvents, 1),
      fetchMaxBytes: intFlag(args, "kafka-fetch-max-bytes", defaultKafkaConsumer.fetchMaxBytes, 1024),
      security: parseKafkaSecurity(
        {
          get: (o: SecurityOption) =>
            o === "tls" ? (boolFlag(args, "kafka-tls") ? "1" : undefined) : stringFlag(args, `kafka-${o}`),
          describe: (o: SecurityOption) => `--kafka-${o}`,
        },
        env,
      ),
    };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message);
  }
}
