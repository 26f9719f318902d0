import assert from "node:assert/strict";
import { test } from "node:test";
import { countNumbers, inputDataTexts } from "./raw-json.js";

const texts = (body: string) => inputDataTexts(Buffer.from(body));

test("Given a plain OIP request, Then each input's data text is the client's own, numbers counted", () => {
  const got = texts(
    '{"id":"r","inputs":[{"name":"a","shape":[1,3],"datatype":"FP32","data":[1.0,2E3,-0.5e-2]},{"name":"b","shape":[0],"datatype":"FP32","data":[]}]}',
  );
  assert.deepEqual(got, ["[1.0,2E3,-0.5e-2]", "[]"]);
  assert.deepEqual(
    got!.map((t) => countNumbers(t!)),
    [3, 0],
  );
});

test("Given whitespace anywhere, Then it is skipped and removed from the text", () => {
  assert.deepEqual(texts(' {\n "inputs" :\t[ { "data" : [ 1 ,\r\n 2 ] } , {"data":[3]} ] }\n'), [
    "[1,2]",
    "[3]",
  ]);
});

test("Given data that is not a flat array of numbers, Then that input has no text", () => {
  assert.deepEqual(
    texts(
      '{"inputs":[{"data":[[1,2],[3,4]]},{"data":["a]","b"]},{"data":[true,null]},{"data":[{"x":1}]},{"name":"bin","parameters":{"binary_data_size":8}},"odd"]}',
    ),
    [undefined, undefined, undefined, undefined, undefined, undefined],
  );
});

test("Given decoy and duplicate data keys, Then only an input's own last data key counts, as JSON.parse reads it", () => {
  const body =
    '{"parameters":{"inputs":[{"data":[0]}]},"inputs":[{"parameters":{"data":[9,9]},"data":[7],"name":"x\\"data\\":[5]","data":[1,2,3]}]}';
  assert.deepEqual(texts(body), ["[1,2,3]"]);
  assert.deepEqual(JSON.parse(body).inputs[0].data, [1, 2, 3]);
  // a later top-level inputs key replaces the earlier one, as in JSON.parse
  assert.deepEqual(texts('{"inputs":[{"data":[1]}],"inputs":[{"data":[2]},{"data":[3]}]}'), ["[2]", "[3]"]);
  assert.equal(texts('{"inputs":[{"data":[1]}],"inputs":null}'), undefined);
});

test("Given a key written with escapes, Then nothing is read (JSON.parse would decode it, this reader does not)", () => {
  assert.equal(texts('{"inputs":[{"data":[1],"d\\u0061ta":[2]}]}'), undefined);
  assert.equal(texts('{"\\u0069nputs":[{"data":[2]}]}'), undefined);
});

test("Given no inputs list, Then there is nothing to read", () => {
  assert.equal(texts('{"instances":[[1,2]]}'), undefined);
  assert.equal(texts("[1,2]"), undefined);
});

test("Given random requests, Then every text read is the same JSON value JSON.parse gives", () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const number = () => {
    const forms = [
      () => String(rand() * 100 - 50),
      () => (rand() * 10).toExponential(3).toUpperCase(),
      () => String(Math.floor(rand() * 1000) - 500),
      () => "-0",
    ];
    return forms[Math.floor(rand() * forms.length)]!();
  };
  const space = () => [" ", "", "\n", "\t", ""][Math.floor(rand() * 5)]!;
  for (let n = 0; n < 300; n++) {
    const inputs: string[] = [];
    for (let i = 0, k = 1 + Math.floor(rand() * 3); i < k; i++) {
      const data = Array.from({ length: Math.floor(rand() * 6) }, () => space() + number() + space());
      const members = [
        `"name":"in${i}"`,
        `"datatype":"FP64"`,
        `"shape":[${data.length}]`,
        `"data":[${data.join(",")}]`,
      ];
      if (rand() < 0.3) members.push(`"parameters":{"data":[1,2,3],"s":"]\\"["}`);
      members.sort(() => rand() - 0.5);
      inputs.push(`{${space()}${members.join(`,${space()}`)}}`);
    }
    const body = `{"inputs":[${inputs.join(",")}],"outputs":[{"name":"y"}]}`;
    const want = (JSON.parse(body) as { inputs: { data: number[] }[] }).inputs.map((t) => t.data);
    const got = texts(body)!;
    assert.equal(got.length, want.length, body);
    got.forEach((t, i) => {
      assert.deepEqual(JSON.parse(t!), want[i], body);
      assert.equal(countNumbers(t!), want[i]!.length, body);
    });
  }
});
