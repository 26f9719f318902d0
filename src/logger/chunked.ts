/**
 * Incremental decoder for chunked transfer coding (RFC 9112 7.1): feed it bytes as they arrive, it
 * collects the chunk data and says where the message ended. Chunk extensions and trailers are read and
 * dropped (the proxy re-frames bodies with Content-Length). No I/O.
 */
const MAX_LINE = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;

type State = "size" | "data" | "data-crlf" | "trailer";

export class ChunkedDecoder {
  private state: State = "size";
  private remaining = 0;
  /** A size or trailer line split across reads. */
  private line = "";
  private trailerBytes = 0;
  readonly chunks: Buffer[] = [];
  bytes = 0;
  done = false;

  /**
   * Consumes buf[from..]; returns the index after the message's last byte when it ended in this buffer,
   * -1 when more is needed. Throws an Error saying what is malformed.
   */
  push(buf: Buffer, from = 0): number {
    let i = from;
    while (i < buf.length) {
      switch (this.state) {
        case "size":
        case "trailer": {
          const nl = buf.indexOf(10, i);
          const end = nl < 0 ? buf.length : nl + 1;
          this.line += buf.toString("latin1", i, end);
          if (this.state === "trailer") this.trailerBytes += end - i;
          i = end;
          if (this.line.length > MAX_LINE || this.trailerBytes > MAX_TRAILER_BYTES) {
            throw new Error("chunked body: line too long");
          }
          if (nl < 0) return -1;
          if (!this.line.endsWith("\r\n")) throw new Error("chunked body: line not ended by CRLF");
          const line = this.line.slice(0, -2);
          this.line = "";
          if (this.state === "trailer") {
            if (line === "") {
              this.done = true;
              return i;
            }
            continue;
          }
          const semi = line.indexOf(";");
          const hex = (semi < 0 ? line : line.slice(0, semi)).trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex))
            throw new Error(`chunked body: bad chunk size "${hex.slice(0, 20)}"`);
          const size = parseInt(hex, 16);
          if (size === 0) this.state = "trailer";
          else {
            this.remaining = size;
            this.state = "data";
          }
          break;
        }
        case "data": {
          const n = Math.min(this.remaining, buf.length - i);
          this.chunks.push(buf.subarray(i, i + n));
          this.bytes += n;
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) {
            this.state = "data-crlf";
            this.remaining = 2;
          }
          break;
        }
        case "data-crlf": {
          const c = buf[i] as number;
          if ((this.remaining === 2 && c !== 13) || (this.remaining === 1 && c !== 10)) {
            throw new Error("chunked body: chunk data not followed by CRLF");
          }
          i++;
          if (--this.remaining === 0) this.state = "size";
          break;
        }
      }
    }
    return -1;
  }

  body(): Buffer {
    return this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.bytes);
  }
}
