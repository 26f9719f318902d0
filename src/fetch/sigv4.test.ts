import { test } from "node:test";
import assert from "node:assert/strict";
import { amzDate, signV4, uriEncode } from "./sigv4.js";

test("matches the GET Object example from the AWS Signature V4 documentation", () => {
  const h = signV4({
    method: "GET",
    url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"),
    region: "us-east-1",
    service: "s3",
    credentials: {
      accessKeyId: "AKIAIOSFODNN7EXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    },
    now: new Date("2013-05-24T00:00:00Z"),
    headers: { range: "bytes=0-9" },
    payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  });
  assert.equal(
    h.authorization,
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  );
});

test("matches botocore's S3SigV4Auth for an encoded key, a query and a session token", () => {
  // Reference: botocore S3SigV4Auth(Credentials("AKID","SECRET","TOKEN"), "s3", "eu-west-1") at 2026-01-02T03:04:05Z.
  const h = signV4({
    method: "GET",
    url: new URL("http://127.0.0.1:9000/my-bucket/dir/a%20b%2Bc.onnx?versionId=x%2Fy&a=1"),
    region: "eu-west-1",
    service: "s3",
    credentials: { accessKeyId: "AKID", secretAccessKey: "SECRET", sessionToken: "TOKEN" },
    now: new Date("2026-01-02T03:04:05Z"),
    payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  });
  assert.match(
    h.authorization!,
    /Signature=959fb9f5cef2c71ffe8cd0473a36fbf7a582492bb6594a2b93565316d013abe8$/,
  );
  assert.equal(h["x-amz-security-token"], "TOKEN");
});

test("uri encoding and timestamps", () => {
  assert.equal(uriEncode("a b/c~d+é", true), "a%20b/c~d%2B%C3%A9");
  assert.equal(uriEncode("a/b", false), "a%2Fb");
  assert.equal(amzDate(new Date("2026-01-02T03:04:05.678Z")), "20260102T030405Z");
});
