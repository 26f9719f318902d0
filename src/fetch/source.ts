// Where a model comes from: the URI schemes `fetch` (and `batch --input`) understand, parsed purely.
import { posix } from "node:path";

export type Source =
  | { kind: "http"; url: string }
  | {
      kind: "s3";
      /** s3 or gs (gs:// goes through Cloud Storage's S3-compatible XML API). */
      scheme: "s3" | "gs";
      bucket: string;
      key: string;
    }
  | { kind: "local"; path: string };

export class SourceError extends Error {
  override name = "SourceError";
}

/** Parses a model URI: https://, http://, s3://BUCKET/KEY, gs://BUCKET/KEY, pvc://CLAIM/PATH, file:///PATH or a plain path. */
export function parseSource(uri: string, pvcRoot: string): Source {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(uri);
  if (m === null) {
    if (uri === "") throw new SourceError("--uri is empty");
    return { kind: "local", path: uri };
  }
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  switch (scheme) {
    case "http":
    case "https":
      try {
        new URL(uri);
      } catch {
        throw new SourceError(`--uri ${uri} is not a valid URL`);
      }
      return { kind: "http", url: uri };
    case "s3":
    case "gs": {
      const slash = rest.indexOf("/");
      const bucket = slash === -1 ? rest : rest.slice(0, slash);
      const key = slash === -1 ? "" : rest.slice(slash + 1);
      if (bucket === "" || key === "" || key.endsWith("/")) {
        throw new SourceError(`--uri ${uri} must name an object: ${scheme}://BUCKET/path/to/model.onnx`);
      }
      return { kind: "s3", scheme, bucket, key };
    }
    case "pvc": {
      const slash = rest.indexOf("/");
      const claim = slash === -1 ? rest : rest.slice(0, slash);
      const path = slash === -1 ? "" : rest.slice(slash + 1);
      if (claim === "" || path === "")
        throw new SourceError(`--uri ${uri} must look like pvc://CLAIM/path/to/model.onnx`);
      const normal = posix.normalize(path);
      if (normal.startsWith("..") || posix.isAbsolute(normal)) {
        throw new SourceError(`--uri ${uri}: the path must stay inside the claim`);
      }
      return { kind: "local", path: posix.join(pvcRoot, claim, normal) };
    }
    case "file": {
      const path = decodeURIComponent(new URL(uri).pathname);
      return { kind: "local", path };
    }
    default:
      throw new SourceError(
        `--uri ${uri}: unsupported scheme "${scheme}"; use https, http, s3, gs, pvc or file`,
      );
  }
}

/** The file name a URI downloads to by default: the last segment of its path. */
export function defaultFileName(uri: string): string {
  const noQuery = uri.split(/[?#]/)[0]!;
  // Only the path counts: never the host, bucket or claim.
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/.*)?$/i.exec(noQuery);
  const path = m === null ? noQuery : (m[1] ?? "");
  const name = path.split("/").filter(Boolean).at(-1);
  if (name === undefined) throw new SourceError(`cannot take a file name from --uri ${uri}; pass --filename`);
  return decodeURIComponent(name);
}
