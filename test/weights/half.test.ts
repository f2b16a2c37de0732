import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bfloat16ToFloat32, halfToFloat32 } from '../../src/models/weights/index.js';

test('half -> float32 covers zeros, subnormals, normals, infinities and NaN', () => {
  const cases: Array<[number, number]> = [
    [0x0000, 0],
    [0x8000, -0],
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x0400, 2 ** -14], // smallest normal
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  const out = halfToFloat32(Uint16Array.from(cases, ([h]) => h));
  cases.forEach(([h, want], i) => assert.ok(Object.is(out[i], want), `0x${h.toString(16)} -> ${out[i]}, want ${want}`));
  assert.ok(Number.isNaN(halfToFloat32(Uint16Array.of(0x7e00))[0]));
});

test('bfloat16 -> float32 keeps the top 16 bits', () => {
  const out = bfloat16ToFloat32(Uint16Array.of(0x3f80, 0xc040, 0x7f80, 0x0001));
  assert.deepEqual(Array.from(out.subarray(0, 3)), [1, -3, Infinity]);
  assert.equal(out[3], 2 ** -133); // bf16 subnormal stays exact
});
