#!/usr/bin/env node
// Differential-test vectors for src/lib/Float32.sol, answered by the Rust reference.
//
//   node test/ffi/float32-vectors.mjs probe
//       prints 0x01 when the reference answers correctly, 0x00 (and why, on stderr) otherwise
//   node test/ffi/float32-vectors.mjs <op> <count> <seed>
//       prints 0x followed by <count> records of 16 bytes, big-endian: a, b, c, reference result
//
// Operands are edge-biased and deterministic in (op, seed): specials (zeros, infinities, NaNs
// with several payloads), subnormals and the boundaries around them, the largest finite values,
// and operand pairs built to hit the hard cases of each op (cancellation, ties, exact products,
// perfect squares, fused-versus-unfused differences), mixed with uniformly random bit patterns.
//
// The reference is `$REFUTE_BIN vm ops --reference` (default: target/release/refute, then
// target/debug/refute, in the repository root): it reads lines `OP A B [C]` (8-digit hex) on
// stdin and prints one 8-digit hex result per line, computed with Berkeley SoftFloat.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// docs/SPEC.md 1.3
const ARITY = {
  add: 2, sub: 2, mul: 2, div: 2, sqrt: 1, fma: 3, max: 2, min: 2, neg: 1, abs: 1, lt: 2, le: 2, eq: 2,
  select: 3, i32_to_f32: 1, f32_to_i32: 1, f16_to_f32: 1, bf16_to_f32: 1, exp2i: 1,
};
const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

function referenceBinary() {
  if (process.env.REFUTE_BIN) return process.env.REFUTE_BIN;
  for (const profile of ["release", "debug"]) {
    const p = join(repo, "target", profile, "refute");
    if (existsSync(p)) return p;
  }
  return join(repo, "target", "release", "refute");
}

function runReference(lines) {
  const bin = referenceBinary();
  if (!existsSync(bin)) {
    return { error: `no reference binary at ${bin} (build it: cargo build --release -p refute-engine, or set REFUTE_BIN)` };
  }
  const res = spawnSync(bin, ["vm", "ops", "--reference"], {
    input: lines.join("\n") + "\n",
    maxBuffer: 1 << 30,
    encoding: "utf8",
  });
  if (res.error) return { error: `${bin}: ${res.error.message}` };
  if (res.status !== 0) return { error: `${bin} vm ops --reference exited ${res.status}: ${res.stderr.trim()}` };
  const out = res.stdout.split("\n").filter((l) => l.length > 0);
  if (out.length !== lines.length) {
    return { error: `${bin} vm ops --reference printed ${out.length} results for ${lines.length} lines` };
  }
  return { results: out };
}

// ---------------------------------------------------------------- deterministic PRNG (sfc32)

function rng(seedText) {
  let h = 0x811c9dc5;
  const state = [0, 0, 0, 0];
  for (let k = 0; k < 4; k++) {
    for (const ch of `${seedText}#${k}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    state[k] = h;
  }
  let [a, b, c, d] = state;
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t >>> 0;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

// ---------------------------------------------------------------- float helpers

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (x) => ((f32[0] = x), u32[0]);
const valueOf = (bits) => ((u32[0] = bits >>> 0), f32[0]);
const pack = (sign, exp, frac) => ((sign << 31) | (exp << 23) | frac) >>> 0;

const SPECIALS = [
  0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001,
  0x7fffffff, 0x7fa00000, 0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x00800000, 0x80800000,
  0x00400000, 0x00800001, 0x7f7fffff, 0xff7fffff, 0x7f000000, 0x3f800000, 0xbf800000, 0x3f800001,
  0x3f7fffff, 0x40000000, 0x3f000000, 0x34000000, 0x33800000, 0x4b000000, 0x4b800000, 0x00000003,
];

function makeGen(next) {
  const below = (n) => next() % n;
  const coin = (p) => next() / 4294967296 < p;
  const sign = () => next() >>> 31;
  const frac = () => {
    switch (below(6)) {
      case 0: return 0;
      case 1: return 0x7fffff;
      case 2: return 1 << below(23); // a single bit: exact products and ties
      case 3: return (0x7fffff >>> below(23)) ^ below(4); // long runs of ones
      case 4: return next() & ~((1 << below(24)) - 1) & 0x7fffff; // few low bits: exact results
      default: return next() & 0x7fffff;
    }
  };
  const exponent = () => {
    switch (below(6)) {
      case 0: return 0; // subnormal
      case 1: return 1 + below(3); // smallest normals
      case 2: return 252 + below(3); // largest finite
      case 3: return 100 + below(55); // around 1
      default: return 1 + below(254);
    }
  };
  const any = () => {
    const r = below(16);
    if (r === 0) return SPECIALS[below(SPECIALS.length)];
    if (r === 1) return next() >>> 0; // uniform bits (NaNs included)
    return pack(sign(), exponent(), frac());
  };
  const ulps = (x, k) => (x + k) >>> 0; // neighbour k ulps away (same sign)
  const near = (x, spread) => ulps(x, below(2 * spread + 1) - spread);
  const withExp = (x, de) => {
    const e = Math.min(254, Math.max(0, ((x >>> 23) & 0xff) + de));
    return pack(sign(), e, frac());
  };
  return { below, coin, sign, frac, any, near, withExp, next };
}

function operands(op, g) {
  const a = g.any();
  switch (op) {
    case "add":
    case "sub": {
      const neg = op === "add" ? 0x80000000 : 0;
      switch (g.below(6)) {
        case 0: return [a, (g.near(a & 0x7fffffff, 3) | ((a & 0x80000000) ^ neg)) >>> 0]; // cancellation
        case 1: return [a, g.withExp(a, g.below(60) - 30)]; // overlapping exponents
        case 2: return [a, g.withExp(a, -(22 + g.below(6)))]; // half-ulp ties and sticky bits
        case 3: return [a, ((a ^ 0x80000000 ^ neg) >>> 0)]; // exact zero
        default: return [a, g.any()];
      }
    }
    case "mul": {
      if (g.coin(0.3)) {
        // products around the subnormal range and the overflow threshold
        const ea = g.below(254) + 1;
        const target = g.coin(0.5) ? 100 + g.below(30) : 230 + g.below(40);
        const eb = Math.min(254, Math.max(0, target - ea));
        return [pack(g.sign(), ea, g.frac()), pack(g.sign(), eb, g.frac())];
      }
      return [a, g.any()];
    }
    case "div": {
      if (g.coin(0.3)) {
        // exact quotients (a = b * q) and quotients near the range limits
        const b = pack(0, 100 + g.below(55), g.frac());
        const q = pack(g.sign(), g.coin(0.5) ? 127 + g.below(10) : g.below(255), g.frac() & 0x7ff000);
        return [g.near(bitsOf(Math.fround(valueOf(b) * valueOf(q))), 1), b];
      }
      return [a, g.any()];
    }
    case "sqrt": {
      if (g.coin(0.3)) {
        // perfect squares and their neighbours, including subnormal ones
        const r = pack(0, g.below(255), g.frac() & 0x7ff800);
        return [g.near(bitsOf(Math.fround(valueOf(r) * valueOf(r))), 1)];
      }
      return [a];
    }
    case "fma": {
      const b = g.any();
      if (g.coin(0.4)) {
        // c close to -(a*b): massive cancellation, the fused result differs from the unfused one
        const p = Math.fround(valueOf(a) * valueOf(b));
        const c = (bitsOf(-p) >>> 0) === 0 ? g.any() : g.near(bitsOf(-p), 2);
        return [a, b, c];
      }
      if (g.coin(0.3)) return [a, b, g.withExp(b, g.below(80) - 40)];
      return [a, b, g.any()];
    }
    case "max":
    case "min":
    case "lt":
    case "le":
    case "eq":
      if (g.coin(0.3)) return [a, (a ^ 0x80000000) >>> 0];
      if (g.coin(0.3)) return [a, g.near(a, 2)];
      if (g.coin(0.1)) return [a, a];
      return [a, g.any()];
    case "neg":
    case "abs":
      return [a];
    case "select":
      return [g.coin(0.5) ? 0 : g.coin(0.5) ? 1 << g.below(32) : g.next(), g.any(), g.any()];
    case "i32_to_f32": {
      // integers of every length, so that ties past 2^24 occur
      const n = g.next() >>> g.below(32);
      const v = g.coin(0.2) ? (1 << (24 + g.below(8))) + g.below(8) : n;
      return [(g.coin(0.5) ? -v : v) >>> 0];
    }
    case "f32_to_i32":
    case "exp2i": {
      if (g.coin(0.5)) {
        // halves and near-halves of integers of every size, and the edges of the i32 range
        const k = g.coin(0.1) ? 2 ** 31 - g.below(3) * 128 : (g.next() >>> g.below(32)) % 2 ** (1 + g.below(31));
        const v = Math.fround((g.coin(0.5) ? -1 : 1) * (k + [0.5, 0.25, 0.75, 0, 1][g.below(5)]));
        return [g.near(bitsOf(v), 1)];
      }
      return [a];
    }
    case "f16_to_f32":
    case "bf16_to_f32":
      // the upper 16 bits must be ignored
      return [(g.next() & 0xffff0000) | [0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0x0001, 0x03ff, 0x0400,
        0x7f80, 0xff80, 0x7fc0, 0x7f81, 0x0080][g.below(14)] | (g.coin(0.6) ? g.next() & 0xffff : 0)];
    default:
      throw new Error(`unknown op ${op}`);
  }
}

const hex8 = (x) => (x >>> 0).toString(16).padStart(8, "0");

function main(argv) {
  if (argv[0] === "probe") {
    const res = runReference(["add 3f800000 3f800000", "fma 3f800001 3f800001 bf800002"]);
    const ok = !res.error && res.results[0] === "40000000" && res.results[1] === "28800000";
    if (!ok) console.error(`float32-vectors: reference unavailable: ${res.error ?? res.results.join(" ")}`);
    process.stdout.write(ok ? "0x01" : "0x00");
    return 0;
  }
  const [op, countText, seed] = argv;
  if (!(op in ARITY) || !/^\d+$/.test(countText ?? "") || seed === undefined) {
    console.error(`usage: float32-vectors.mjs probe | <${Object.keys(ARITY).join("|")}> <count> <seed>`);
    return 2;
  }
  const count = Number(countText);
  const g = makeGen(rng(`${op}/${seed}`));
  const records = [];
  const lines = [];
  for (let i = 0; i < count; i++) {
    const ops = operands(op, g);
    while (ops.length < 3) ops.push(0);
    records.push(ops);
    lines.push([op, ...ops.slice(0, ARITY[op]).map(hex8)].join(" "));
  }
  const res = runReference(lines);
  if (res.error) {
    console.error(`float32-vectors: ${res.error}`);
    return 1;
  }
  const parts = new Array(count + 1);
  parts[0] = "0x";
  for (let i = 0; i < count; i++) {
    const [x, y, z] = records[i];
    parts[i + 1] = hex8(x) + hex8(y) + hex8(z) + res.results[i].padStart(8, "0");
  }
  process.stdout.write(parts.join(""));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
