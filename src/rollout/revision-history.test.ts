import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { revisionSpecOf, type RevisionSpec } from "../render/plan.js";
import { readKeptRevisions, revisionsConfigMap, type KeptRevision } from "../render/revisions-configmap.js";
import {
  findKeptRevision,
  formatKeptRevisions,
  keptRevisionsAfter,
  nextRevisionHistory,
  promotionOf,
  type Promotion,
} from "./revision-history.js";
import { writeBook } from "./book.js";
import { canaryMD } from "./testing/sim.js";

const base = revisionSpecOf(canaryMD([{ setWeight: 50 }]).spec);
// as JSON has it (no undefined fields): the book and the ConfigMap both go through JSON
const specOf = (version: string): RevisionSpec =>
  JSON.parse(
    JSON.stringify({
      ...base,
      model: { ...base.model, version, uri: `pvc://store/fraud/${version}/model.onnx` },
    }),
  ) as RevisionSpec;
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
const kept = (id: string, version: string, minute: number): KeptRevision => ({
  id,
  modelVersion: version,
  promotedAt: at(minute),
  spec: specOf(version),
});
const promo = (id: string, version: string, minute: number): Promotion => ({
  id,
  spec: specOf(version),
  at: at(minute),
});
const ids = (h: KeptRevision[]) => h.map((k) => `${k.id}@${k.promotedAt.slice(14, 16)}`);

describe("nextRevisionHistory", () => {
  const a = kept("aaaa000001", "v1", 1);
  const b = kept("bbbb000002", "v2", 2);
  const c = kept("cccc000003", "v3", 3);
  const cases: {
    name: string;
    kept: KeptRevision[];
    promoted?: Promotion;
    limit: number;
    want: string[];
  }[] = [
    { name: "nothing promoted yet", kept: [], limit: 5, want: [] },
    {
      name: "the first promotion",
      kept: [],
      promoted: promo("aaaa000001", "v1", 1),
      limit: 5,
      want: ["aaaa000001@01"],
    },
    {
      name: "a new promotion goes in front",
      kept: [a],
      promoted: promo("bbbb000002", "v2", 2),
      limit: 5,
      want: ["bbbb000002@02", "aaaa000001@01"],
    },
    {
      name: "the same promotion again changes nothing (every reconcile)",
      kept: [b, a],
      promoted: promo("bbbb000002", "v2", 2),
      limit: 5,
      want: ["bbbb000002@02", "aaaa000001@01"],
    },
    {
      name: "the limit counts earlier revisions, besides the stable one",
      kept: [c, b, a],
      promoted: promo("dddd000004", "v4", 4),
      limit: 2,
      want: ["dddd000004@04", "cccc000003@03", "bbbb000002@02"],
    },
    {
      name: "limit 0 keeps only the stable revision",
      kept: [c, b, a],
      promoted: promo("dddd000004", "v4", 4),
      limit: 0,
      want: ["dddd000004@04"],
    },
    {
      name: "rolled back to: the old revision moves to the front with its new time",
      kept: [c, b, a],
      promoted: promo("aaaa000001", "v1", 9),
      limit: 5,
      want: ["aaaa000001@09", "cccc000003@03", "bbbb000002@02"],
    },
    {
      name: "the same spec under a new id (the controller's image changed) replaces the old id",
      kept: [b, a],
      promoted: promo("eeee000005", "v2", 5),
      limit: 5,
      want: ["eeee000005@05", "aaaa000001@01"],
    },
    {
      name: "a lowered limit trims even without a promotion",
      kept: [a, c, b],
      limit: 1,
      want: ["cccc000003@03", "bbbb000002@02"],
    },
  ];
  for (const tc of cases)
    test(tc.name, () => {
      const got = nextRevisionHistory(tc.kept, tc.promoted, tc.limit);
      assert.deepEqual(ids(got), tc.want);
      // applying the same decision twice is a fixed point: a resync writes nothing
      assert.deepEqual(nextRevisionHistory(got, tc.promoted, tc.limit), got);
    });

  test("a kept entry carries the promoted spec and its model version", () => {
    const [k] = nextRevisionHistory([], promo("aaaa000001", "v7", 1), 5);
    assert.equal(k?.modelVersion, "v7");
    assert.deepEqual(k?.spec, specOf("v7"));
  });
});

describe("promotionOf", () => {
  const book = (b: Record<string, unknown>) => writeBook(b);
  test("the stable revision once the book records its promotion", () => {
    const p = promotionOf({
      stableRevision: "x1",
      rollout: book({ promotedRevision: "x1", promotedAt: at(3), stable: { id: "x1", spec: specOf("v1") } }),
    });
    assert.deepEqual(p, { id: "x1", spec: specOf("v1"), at: at(3) });
  });
  test("none while the first revision is not yet available, or the book speaks of another", () => {
    assert.equal(
      promotionOf({ stableRevision: "x1", rollout: book({ stable: { id: "x1", spec: specOf("v1") } }) }),
      undefined,
    );
    assert.equal(
      promotionOf({
        stableRevision: "x2",
        rollout: book({
          promotedRevision: "x1",
          promotedAt: at(1),
          stable: { id: "x2", spec: specOf("v2") },
        }),
      }),
      undefined,
    );
    assert.equal(promotionOf({ rollout: {} }), undefined);
  });
});

describe("the ConfigMap", () => {
  const md = canaryMD([{ setWeight: 50 }]);
  md.metadata.uid = "uid-1";
  const history = [kept("bbbb000002", "v2", 2), kept("aaaa000001", "v1", 1)];

  test("one key per revision id, read back newest first", () => {
    const cm = revisionsConfigMap(md, history)!;
    assert.equal(cm.metadata?.name, "fraud-revisions");
    assert.equal(cm.metadata?.labels?.["modelship.io/deployment"], "fraud");
    const data = cm.data as Record<string, string>;
    assert.deepEqual(Object.keys(data).sort(), ["aaaa000001", "bbbb000002"]);
    assert.deepEqual(readKeptRevisions(data), history);
    assert.equal(revisionsConfigMap(md, []), undefined, "nothing to render before the first promotion");
  });

  test("entries that do not parse, or sit under another key, are skipped", () => {
    const data = {
      aaaa000001: JSON.stringify(history[1]),
      bbbb000002: "{not json",
      cccc000003: JSON.stringify(history[0]),
    };
    assert.deepEqual(
      readKeptRevisions(data).map((k) => k.id),
      ["aaaa000001"],
    );
  });

  test("keptRevisionsAfter reads only a ConfigMap this ModelDeployment owns", () => {
    const data = revisionsConfigMap(md, history)!.data;
    const status = {
      stableRevision: "cccc000003",
      rollout: writeBook({
        promotedRevision: "cccc000003",
        promotedAt: at(3),
        stable: { id: "cccc000003", spec: specOf("v3") },
      }),
    };
    const owned = { metadata: { ownerReferences: [{ uid: "uid-1" }] }, data };
    assert.deepEqual(
      keptRevisionsAfter(owned, "uid-1", status, 5).map((k) => k.id),
      ["cccc000003", "bbbb000002", "aaaa000001"],
    );
    const foreign = { metadata: { ownerReferences: [{ uid: "uid-old" }] }, data };
    assert.deepEqual(
      keptRevisionsAfter(foreign, "uid-1", status, 5).map((k) => k.id),
      ["cccc000003"],
    );
    assert.deepEqual(
      keptRevisionsAfter(undefined, "uid-1", status, 5).map((k) => k.id),
      ["cccc000003"],
    );
  });
});

describe("finding and listing kept revisions", () => {
  const history = [kept("ab12000003", "v3", 3), kept("ab34000002", "v2", 2), kept("cd56000001", "v1", 1)];
  test("an exact id, or a unique prefix of 4+ characters", () => {
    assert.equal(findKeptRevision(history, "ab34000002")?.modelVersion, "v2");
    assert.equal(findKeptRevision(history, "cd56")?.modelVersion, "v1");
    assert.equal(findKeptRevision(history, "ab12")?.modelVersion, "v3");
    assert.equal(findKeptRevision(history, "ab"), undefined, "too short");
    assert.equal(findKeptRevision(history, "ab1"), undefined, "too short");
    assert.equal(findKeptRevision(history, "0000000000"), undefined);
    assert.equal(findKeptRevision([...history, kept("ab12ffffff", "v9", 9)], "ab12"), undefined, "ambiguous");
  });
  test("the stable revision is marked, the others are rollback targets, with how to roll back", () => {
    const lines = formatKeptRevisions(history, "ab12000003", { name: "fraud", namespace: "payments" });
    assert.match(lines[0]!, /REVISION +MODEL VERSION +PROMOTED +STATE/);
    assert.match(lines[1]!, /ab12000003 +v3 +2026-01-01T00:03:00\.000Z +stable/);
    assert.match(lines[2]!, /ab34000002 +v2 +\S+ +rollback target/);
    assert.match(lines[3]!, /cd56000001 +v1 +\S+ +rollback target/);
    assert.match(lines[4]!, /modelship rollback fraud -n payments --to-revision REVISION/);
    assert.deepEqual(formatKeptRevisions([], "x", { name: "fraud", namespace: "payments" }), []);
  });
});
