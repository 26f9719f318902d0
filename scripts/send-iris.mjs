// Sends iris flowers to a model's Service: node scripts/send-iris.mjs BASE_URL COUNT [SHIFT_CM]
// Each request is one flower near a class mean; SHIFT_CM is added to the sepal length (drifted traffic).
// Prints how many requests succeeded; exits 1 when any failed.
const [base, countArg = "100", shiftArg = "0"] = process.argv.slice(2);
if (!base) {
  console.error("usage: send-iris.mjs BASE_URL COUNT [SHIFT_CM]");
  process.exit(2);
}
const count = Math.min(Number(countArg), 10_000);
const shift = Number(shiftArg);
const means = [
  [5.006, 3.428, 1.462, 0.246],
  [5.936, 2.77, 4.26, 1.326],
  [6.588, 2.974, 5.552, 2.026],
];
let seed = 11;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
let ok = 0;
let failed = 0;
for (let i = 0; i < count; i++) {
  const row = means[i % 3].map((m) => +(m + (rand() - 0.5) * 0.6).toFixed(2));
  row[0] = +(row[0] + shift).toFixed(2);
  const body = JSON.stringify({ inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: row }] });
  try {
    const r = await fetch(`${base}/v2/models/iris/infer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    await r.arrayBuffer();
    if (r.ok) ok++;
    else failed++;
  } catch {
    failed++;
  }
  if ((i + 1) % 100 === 0) console.log(`  sent ${i + 1}/${count}`);
}
console.log(`${ok} succeeded, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
