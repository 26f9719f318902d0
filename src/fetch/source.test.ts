import { test } from "node:test";
import assert from "node:assert/strict";
import { objectUrl } from "./download.js";
import { defaultFileName, parseSource } from "./source.js";

test("parses every supported scheme", () => {
  assert.deepEqual(parseSource("https://h/x/m.onnx", "/mnt/pvc"), {
    kind: "http",
    url: "https://h/x/m.onnx",
  });
  assert.deepEqual(parseSource("s3://b/k/m.onnx", "/mnt/pvc"), {
    kind: "s3",
    scheme: "s3",
    bucket: "b",
    key: "k/m.onnx",
  });
  assert.deepEqual(parseSource("gs://b/m.onnx", "/mnt/pvc"), {
    kind: "s3",
    scheme: "gs",
    bucket: "b",
    key: "m.onnx",
  });
  assert.deepEqual(parseSource("pvc://claim/dir/m.onnx", "/mnt/pvc"), {
    kind: "local",
    path: "/mnt/pvc/claim/dir/m.onnx",
  });
  assert.deepEqual(parseSource("file:///models/a%20b.onnx", "/x"), {
    kind: "local",
    path: "/models/a b.onnx",
  });
  assert.deepEqual(parseSource("relative/m.onnx", "/x"), { kind: "local", path: "relative/m.onnx" });
});

test("refuses URIs that cannot work, naming the fix", () => {
  assert.throws(() => parseSource("s3://bucket", "/p"), /must name an object: s3:\/\/BUCKET\/path/);
  assert.throws(() => parseSource("s3://bucket/dir/", "/p"), /must name an object/);
  assert.throws(() => parseSource("pvc://claim/../../etc/passwd", "/p"), /must stay inside the claim/);
  assert.throws(() => parseSource("pvc://claim", "/p"), /pvc:\/\/CLAIM\/path/);
  assert.throws(() => parseSource("ftp://h/m.onnx", "/p"), /unsupported scheme "ftp"/);
});

test("default file name is the last path segment", () => {
  assert.equal(defaultFileName("https://h/a/model.onnx?sig=1"), "model.onnx");
  assert.equal(defaultFileName("s3://b/k/my%20model.onnx"), "my model.onnx");
  assert.throws(() => defaultFileName("https://h/"), /pass --filename/);
});

test("object URLs: path-style on an endpoint, virtual-hosted on AWS, XML API for gs", () => {
  const s3 = { kind: "s3", scheme: "s3", bucket: "models", key: "fraud/v 1/m.onnx" } as const;
  assert.equal(
    objectUrl(s3, "http://127.0.0.1:9000/", "us-east-1").href,
    "http://127.0.0.1:9000/models/fraud/v%201/m.onnx",
  );
  assert.equal(
    objectUrl(s3, undefined, "eu-west-1").href,
    "https://models.s3.eu-west-1.amazonaws.com/fraud/v%201/m.onnx",
  );
  assert.equal(
    objectUrl({ ...s3, bucket: "my.models" }, undefined, "us-east-1").href,
    "https://s3.us-east-1.amazonaws.com/my.models/fraud/v%201/m.onnx",
  );
  assert.equal(
    objectUrl({ ...s3, scheme: "gs" }, undefined, "auto").href,
    "https://storage.googleapis.com/models/fraud/v%201/m.onnx",
  );
});
