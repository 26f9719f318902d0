import assert from "node:assert/strict";
import { test } from "node:test";
import { partitionLags, type PartitionOffsets } from "./kafka-lag.js";

test("partitionLags: records left to store per assigned partition", () => {
  const cases: { name: string; assigned: number[]; offsets: PartitionOffsets; want: [number, number][] }[] = [
    {
      name: "end minus committed",
      assigned: [0],
      offsets: { end: [120n], start: [0n], committed: [100n] },
      want: [[0, 20]],
    },
    {
      name: "caught up",
      assigned: [0],
      offsets: { end: [120n], start: [0n], committed: [120n] },
      want: [[0, 0]],
    },
    {
      name: "no commit yet: everything retained is lag",
      assigned: [0],
      offsets: { end: [120n], start: [30n], committed: [-1n] },
      want: [[0, 90]],
    },
    {
      name: "a commit retention has passed counts from the log start",
      assigned: [0],
      offsets: { end: [120n], start: [30n], committed: [10n] },
      want: [[0, 90]],
    },
    {
      name: "an end read before a newer commit is 0, not negative",
      assigned: [0],
      offsets: { end: [100n], start: [0n], committed: [105n] },
      want: [[0, 0]],
    },
    {
      name: "only assigned partitions, in the order given",
      assigned: [3, 1],
      offsets: { end: [5n, 50n, 7n, 70n], start: [0n, 0n, 0n, 0n], committed: [0n, 10n, 0n, 65n] },
      want: [
        [3, 5],
        [1, 40],
      ],
    },
    {
      name: "an unknown end offset gives no sample",
      assigned: [0, 1],
      offsets: { end: [undefined, 9n], start: [], committed: [] },
      want: [[1, 9]],
    },
    {
      name: "unknown start and commit: the whole partition",
      assigned: [2],
      offsets: { end: [undefined, undefined, 42n], start: [], committed: [] },
      want: [[2, 42]],
    },
    {
      name: "nothing assigned",
      assigned: [],
      offsets: { end: [1n], start: [0n], committed: [0n] },
      want: [],
    },
  ];
  for (const c of cases) assert.deepEqual([...partitionLags(c.assigned, c.offsets)], c.want, c.name);
});
