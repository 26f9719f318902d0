import assert from "node:assert/strict";
import { test } from "node:test";
import {
  forwardedHeaderLines,
  headEnd,
  parseRequestHead,
  parseResponseHead,
  responseBodyKind,
} from "./http-head.js";

function req(text: string) {
  const buf = Buffer.from(text, "latin1");
  const end = headEnd(buf, 0);
  return end < 0 ? undefined : parseRequestHead(buf, 0, end);
}

function res(text: string) {
  const buf = Buffer.from(text, "latin1");
  return parseResponseHead(buf, 0, headEnd(buf, 0));
}

test("headEnd finds the blank line, also when the search resumes across reads", () => {
  const buf = Buffer.from("GET / HTTP/1.1\r\nhost: a\r\n\r\nBODY");
  assert.equal(headEnd(buf, 0), buf.length - 4);
  assert.equal(headEnd(buf, 0, 26), buf.length - 4, "resuming just past a split CRLF");
  assert.equal(headEnd(Buffer.from("GET / HTTP/1.1\r\n"), 0), -1);
});

test("a request head: method, target, path, framing, keep-alive by version", () => {
  const r = req(
    "POST /v2/models/m/infer?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nX-Request-Id: r1\r\n\r\n",
  );
  assert.ok(r?.ok);
  assert.equal(r.head.method, "POST");
  assert.equal(r.head.target, "/v2/models/m/infer?x=1");
  assert.equal(r.head.path, "/v2/models/m/infer");
  assert.equal(r.head.contentLength, 12);
  assert.equal(r.head.keepAlive, true);
  assert.deepEqual(r.head.headers, ["host", "a", "content-length", "12", "x-request-id", "r1"]);

  const close = req("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  assert.ok(close?.ok);
  assert.equal(close.head.keepAlive, false);
  const http10 = req("GET / HTTP/1.0\r\n\r\n");
  assert.ok(http10?.ok);
  assert.equal(http10.head.keepAlive, false);
  const http10ka = req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  assert.ok(http10ka?.ok);
  assert.equal(http10ka.head.keepAlive, true);
  const chunked = req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
  assert.ok(chunked?.ok);
  assert.equal(chunked.head.chunked, true);
  assert.equal(chunked.head.expectContinue, true);
});

test("ambiguous or unsupported request framing is refused, never guessed", () => {
  const cases: [string, number][] = [
    ["POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501],
    ["POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400],
    ["GET /\r\n\r\n", 400],
    ["GET / HTTP/2.0\r\n\r\n", 505],
    ["GET / HTTP/1.1\r\nExpect: something-else\r\n\r\n", 417],
  ];
  for (const [text, status] of cases) {
    const r = req(text);
    assert.ok(r !== undefined && !r.ok, JSON.stringify(text));
    assert.equal(r.status, status, JSON.stringify(text));
  }
  // the same Content-Length twice is one length
  const twice = req("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
  assert.ok(twice?.ok);
  assert.equal(twice.head.contentLength, 5);
});

test("a response head: status, framing, keep-alive hint", () => {
  const r = res("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nKeep-Alive: timeout=5\r\n\r\n");
  assert.ok(r?.ok);
  assert.equal(r.head.status, 200);
  assert.equal(r.head.contentLength, 3);
  assert.equal(r.head.keepAliveMs, 5000);
  assert.equal(responseBodyKind("POST", r.head), "length");
  assert.equal(responseBodyKind("HEAD", r.head), "none");

  const chunked = res("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  assert.ok(chunked?.ok);
  assert.equal(responseBodyKind("POST", chunked.head), "chunked");
  const untilClose = res("HTTP/1.0 200 OK\r\n\r\n");
  assert.ok(untilClose?.ok);
  assert.equal(untilClose.head.keepAlive, false);
  assert.equal(responseBodyKind("GET", untilClose.head), "close");
  const noContent = res("HTTP/1.1 204 No Content\r\n\r\n");
  assert.ok(noContent?.ok);
  assert.equal(responseBodyKind("POST", noContent.head), "none");
  const closing = res("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  assert.ok(closing?.ok);
  assert.equal(closing.head.keepAlive, false);
});

test("malformed response heads are errors", () => {
  for (const text of [
    "HTTP/1.1 2000 OK\r\n\r\n",
    "garbage\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
  ]) {
    const r = res(text);
    assert.ok(r !== undefined && !r.ok, JSON.stringify(text));
  }
});

test("forwarded headers leave out hop-by-hop ones and those named in Connection", () => {
  const lines = forwardedHeaderLines([
    "content-type",
    "application/json",
    "connection",
    "close, x-secret",
    "x-secret",
    "1",
    "transfer-encoding",
    "chunked",
    "content-length",
    "3",
    "host",
    "a",
    "x-request-id",
    "r1",
  ]);
  assert.equal(lines, "content-type: application/json\r\nx-request-id: r1\r\n");
});
