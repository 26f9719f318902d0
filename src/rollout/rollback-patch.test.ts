import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { canonicalJSON } from "../render/canonical-json.js";
import { revisionSpecOf } from "../render/plan.js";
import { readKeptRevisions, revisionsConfigMap, type KeptRevision } from "../render/revisions-configmap.js";
import { requestNonce } from "./request.js";
import { findKeptRevision, keptRevisionsAfter } from "./revision-history.js";
import { mergePatchBetween, rollbackPatch, rolledBackToAnnotation } from "./rollback-patch.js";
import { canaryMD, parseMD, revisionId, Sim } from "./testing/sim.js";
import { requestAnnotations } from "./types.js";

/** RFC 7386, as the API server applies a merge patch: null deletes, objects merge, the rest replaces. */
function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === "object" && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/** The ModelDeployment after the patch, parsed again (defaults and all) as the controller would read it. */
function patched(md: ModelDeployment, patch: unknown): ModelDeployment {
  const raw = JSON.parse(JSON.stringify(md)) as Record<string, unknown>;
  const next = parseMD(applyMergePatch(raw, patch));
  next.status = md.status;
  return next;
}

function keptOf(md: ModelDeployment, promotedAt: string): KeptRevision {
  const spec = JSON.parse(JSON.stringify(revisionSpecOf(md.spec))) as KeptRevision["spec"];
  return { id: revisionId(md, spec), modelVersion: spec.model.version, promotedAt, spec };
}

describe("mergePatchBetween", () => {
  const cases: { name: string; from: unknown; to: unknown; want: unknown }[] = [
    { name: "equal scalars", from: 1, to: 1, want: undefined },
    { name: "a changed scalar", from: "v3", to: "v1", want: "v1" },
    {
      name: "equal objects, keys in another order",
      from: { a: 1, b: 2 },
      to: { b: 2, a: 1 },
      want: undefined,
    },
    {
      name: "one nested key changes",
      from: { a: { x: 1, y: 2 } },
      to: { a: { x: 1, y: 3 } },
      want: { a: { y: 3 } },
    },
    { name: "a key the target lacks is deleted", from: { a: 1, b: 2 }, to: { a: 1 }, want: { b: null } },
    { name: "a key the target adds", from: { a: 1 }, to: { a: 1, c: { d: [1] } }, want: { c: { d: [1] } } },
    { name: "arrays are replaced whole", from: { l: [1, 2, 3] }, to: { l: [1, 3] }, want: { l: [1, 3] } },
    { name: "equal arrays are left alone", from: { l: [{ a: 1 }] }, to: { l: [{ a: 1 }] }, want: undefined },
    { name: "a field the target lacks entirely", from: { a: 1 }, to: undefined, want: null },
    { name: "absent on both sides", from: undefined, to: undefined, want: undefined },
    { name: "an object where there was none", from: undefined, to: { a: 1 }, want: { a: 1 } },
  ];
  for (const tc of cases)
    test(tc.name, () => {
      const got = mergePatchBetween(tc.from, tc.to);
      assert.deepEqual(got, tc.want);
      const result = got === undefined ? tc.from : applyMergePatch(tc.from, got);
      assert.equal(canonicalJSON(result ?? null), canonicalJSON(tc.to ?? null));
    });
});

describe("rollbackPatch", () => {
  const v1 = canaryMD([{ setWeight: 50 }]);
  const target = keptOf(v1, "2026-01-01T00:01:00.000Z");

  test("only what differs is written, and patched the spec renders the kept revision again", () => {
    const v3 = canaryMD([{ setWeight: 50 }], {
      model: {
        name: "fraud",
        version: "v3",
        uri: "pvc://store/fraud/v3/model.onnx",
        sha256: "a".repeat(64),
        format: "custom",
      },
      resources: { cpu: "2", memory: "4Gi" },
      scheduling: { nodeSelector: { pool: "inference" } },
      podMetadata: { labels: { team: "payments" } },
      runtime: { container: { image: "fraud-server:3", port: 9000 } },
      monitoring: { feedback: { enabled: true }, review: { threshold: 0.6 } },
      replicas: 7,
    });
    const { patch, changed } = rollbackPatch(v3.spec, target);
    assert.deepEqual(changed.sort(), [
      "spec.model",
      "spec.monitoring.feedback",
      "spec.monitoring.review",
      "spec.podMetadata",
      "spec.resources",
      "spec.runtime",
      "spec.scheduling",
    ]);
    const spec = patch.spec!;
    assert.deepEqual(spec.model, {
      version: "v1",
      uri: "pvc://store/fraud/v1/model.onnx",
      sha256: null,
      format: "onnx",
    });
    assert.equal(spec.scheduling, null, "a field v1 did not have is deleted");
    assert.equal(spec.podMetadata, null);
    assert.deepEqual(spec.monitoring, { feedback: { enabled: false }, review: null });
    assert.equal((spec.runtime as Record<string, unknown>).container, null, "custom container back to onnx");
    assert.equal("replicas" in spec, false, "replicas are no part of a revision");
    assert.equal("rollout" in spec, false);

    const after = patched(v3, patch);
    assert.equal(canonicalJSON(revisionSpecOf(after.spec)), canonicalJSON(target.spec));
    assert.equal(revisionId(after, revisionSpecOf(after.spec)), target.id, "the same revision id");
    assert.equal(after.spec.replicas, 7, "what is not a revision's stays as the user has it");
  });

  test("the annotation says where it went; --now adds a full promote; the read version guards the write", () => {
    const v2 = canaryMD([{ setWeight: 50 }], {
      model: { name: "fraud", version: "v2", uri: "pvc://store/fraud/v2/model.onnx" },
    });
    const nonce = requestNonce(new Date("2026-01-02T00:00:00Z"), true);
    const { patch } = rollbackPatch(v2.spec, target, { resourceVersion: "42", promoteNonce: nonce });
    assert.deepEqual(patch.metadata, {
      resourceVersion: "42",
      annotations: { [rolledBackToAnnotation]: target.id, [requestAnnotations.promote]: nonce },
    });
    assert.match(nonce, /^full:/);
    const plain = rollbackPatch(v2.spec, target).patch;
    assert.deepEqual(plain.metadata, { annotations: { [rolledBackToAnnotation]: target.id } });
  });

  test("additional models are restored with the revision, and removed when it had none", () => {
    const model = { name: "fraud", version: "v1", uri: "pvc://store/fraud/v1/model.onnx" };
    const extra = (version: string) => [
      { name: "churn", version, uri: `pvc://store/churn/${version}/model.onnx` },
    ];
    const v1 = canaryMD([{ setWeight: 50 }], { model, additionalModels: extra("1") });
    const target = keptOf(v1, "2026-01-01T00:00:00Z");
    const v2 = canaryMD([{ setWeight: 50 }], { model, additionalModels: extra("2") });
    const { patch, changed } = rollbackPatch(v2.spec, target);
    assert.deepEqual(changed, ["spec.additionalModels"]);
    const after = patched(v2, patch.spec ? { spec: patch.spec } : {});
    assert.equal(after.spec.additionalModels?.[0]?.version, "1");
    assert.equal(revisionId(after, revisionSpecOf(after.spec)), target.id, "the same revision id");

    const single = keptOf(canaryMD([{ setWeight: 50 }], { model }), "2026-01-01T00:00:00Z");
    const back = rollbackPatch(v2.spec, single);
    assert.equal(back.patch.spec?.additionalModels, null, "deleted: the revision served one model");
    const alone = patched(v2, { spec: back.patch.spec });
    assert.equal(revisionId(alone, revisionSpecOf(alone.spec)), single.id);
  });

  test("a spec that already describes the revision changes nothing", () => {
    const { patch, changed } = rollbackPatch(v1.spec, target);
    assert.deepEqual(changed, []);
    assert.equal(patch.spec, undefined);
  });
});

describe("rollback through decide, as the controller and the CLI do it", () => {
  /** One reconcile's ConfigMap, the way the reconciler renders it from the cached one. */
  function reconcileHistory(sim: Sim, live: Record<string, string> | undefined) {
    const kept = keptRevisionsAfter(
      { metadata: { ownerReferences: [{ uid: "u" }] }, data: live },
      "u",
      sim.last.status,
      sim.md.spec.rollout.revisionHistoryLimit,
    );
    return revisionsConfigMap(sim.md, kept)?.data as Record<string, string> | undefined;
  }
  function walk(sim: Sim, data: Record<string, string> | undefined, times: number) {
    for (let i = 0; i < times; i++) {
      sim.advance(1000).decide();
      data = reconcileHistory(sim, data);
    }
    return data;
  }

  for (const mode of ["walks the steps", "--now skips them"] as const)
    test(`v1 -> v2 -> v3, then back to v1: the strategy ${mode}`, () => {
      const sim = new Sim(canaryMD([{ setWeight: 20 }, { pause: {} }]));
      let data = walk(sim, undefined, 3);
      const v1 = sim.idOf("v1");
      for (const v of ["v2", "v3"]) {
        sim.release(v);
        data = walk(sim, data, 2);
        sim.request("promote", requestNonce(sim.now, true));
        data = walk(sim, data, 3);
        assert.equal(sim.md.status?.modelVersion, v);
      }
      const kept = readKeptRevisions(data);
      assert.deepEqual(
        kept.map((k) => k.modelVersion),
        ["v3", "v2", "v1"],
      );
      const target = findKeptRevision(kept, v1)!;
      assert.ok(target, "v1 is kept after two promotions");

      const nonce = mode === "--now skips them" ? requestNonce(sim.now, true) : undefined;
      const { patch } = rollbackPatch(sim.md.spec, target, nonce ? { promoteNonce: nonce } : {});
      sim.md = patched(sim.md, patch);
      if (nonce) sim.request("promote", nonce);
      data = walk(sim, data, 3);
      if (mode === "walks the steps") {
        assert.equal(sim.md.status?.canaryRevision, v1, "v1 comes back as a canary");
        assert.equal(sim.condition("Paused")?.status, "True", "and pauses like any release");
        sim.request("promote");
        data = walk(sim, data, 3);
      }
      assert.equal(sim.md.status?.stableRevision, v1, "v1 is stable again");
      assert.equal(sim.md.status?.modelVersion, "v1");
      assert.equal(sim.md.status?.canaryRevision, undefined);
      assert.deepEqual(
        readKeptRevisions(data).map((k) => k.modelVersion),
        ["v1", "v3", "v2"],
        "v1 moved to the front; nothing was lost",
      );
    });

  test("the history keeps the stable revision and revisionHistoryLimit earlier ones", () => {
    const sim = new Sim(canaryMD([{ setWeight: 50 }], {}, { revisionHistoryLimit: 1 }));
    let data = walk(sim, undefined, 3);
    for (const v of ["v2", "v3", "v4"]) {
      sim.release(v);
      data = walk(sim, data, 4);
    }
    assert.equal(sim.md.status?.modelVersion, "v4");
    assert.deepEqual(
      readKeptRevisions(data).map((k) => k.modelVersion),
      ["v4", "v3"],
    );
  });
});
