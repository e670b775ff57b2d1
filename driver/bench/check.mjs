// check.mjs: checks the benchmark suite and the C examples on node's WebAssembly (V8).
//
// For every program in manifest.txt: the module (WAT compiled with wabt's wat2wasm, or the
// committed .wasm) must validate, import nothing, export `run: () -> i64`, and contain no SIMD
// or atomic instruction, and no floating point either unless it is one of FLOAT_PROGRAMS (which
// must use it); then `run()` must return the manifest's value. Also checks kvstore's main() and
// service's refine/accumulate against their .expected files, and recomputes eleven checksums
// with independent JavaScript (node crypto, BigInt, plain loops; for the float programs, JS
// numbers, which are IEEE doubles, and Math.fround for float).
//
// The float/SIMD scan prints each module as text with wabt (every instruction, type and local
// is spelled out there, names are left out) and rejects any line outside the data segments that
// contains "v128" or "atomic", or (outside FLOAT_PROGRAMS) "f32" or "f64".
//
// Usage: node check.mjs [--interp] [--count] [--print]
//   --interp  also runs every module on wabt's own interpreter (wasm-interp): a second engine.
//   --count   counts the instructions one run() executes (wasm-interp --trace; slow).
//   --print   prints manifest lines with the values node computed instead of comparing.
// wabt comes from npm; WABT_DIR names the installed package (or it is resolved from here), e.g.
//   npm install --prefix /tmp/wabt wabt && WABT_DIR=/tmp/wabt/node_modules/wabt node check.mjs
// Exit status 0 only when every check passed.

import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const bench = dirname(fileURLToPath(import.meta.url));
const root = resolve(bench, "../..");
const args = new Set(process.argv.slice(2));
for (const a of args) {
  if (!["--interp", "--count", "--print"].includes(a)) {
    console.error(`check.mjs: unknown option ${a} (use --interp, --count, --print)`);
    process.exit(2);
  }
}

function loadWabt() {
  const require = createRequire(import.meta.url);
  const where = process.env.WABT_DIR ?? "wabt";
  try {
    return { dir: dirname(require.resolve(where)), factory: require(where) };
  } catch {
    console.error(
      `check.mjs: cannot load wabt from '${where}'; install it with: ` +
        "npm install --prefix /tmp/wabt wabt && export WABT_DIR=/tmp/wabt/node_modules/wabt",
    );
    process.exit(2);
  }
}
const { dir: wabtDir, factory } = loadWabt();
const wabt = await factory();

let failures = 0;
function fail(message) {
  failures++;
  console.log(`FAIL ${message}`);
}

// manifest.txt: `NAME  FILE  EXPECTED  # description`, FILE relative to the repository root.
function readManifest() {
  const entries = [];
  readFileSync(join(bench, "manifest.txt"), "utf8")
    .split("\n")
    .forEach((line, i) => {
      const text = line.replace(/#.*/, "").trim();
      if (!text) return;
      const [name, file, expected, ...rest] = text.split(/\s+/);
      if (!expected || rest.length || !/^-?\d+$/.test(expected)) {
        throw new Error(`manifest.txt line ${i + 1}: expected NAME FILE I64, got '${line}'`);
      }
      entries.push({ name, file, expected: BigInt(expected) });
    });
  return entries;
}

function moduleBytes(file) {
  const path = join(root, file);
  if (!file.endsWith(".wat")) return new Uint8Array(readFileSync(path));
  const parsed = wabt.parseWat(file, readFileSync(path, "utf8"));
  try {
    parsed.resolveNames();
    parsed.validate();
    return parsed.toBinary({ write_debug_names: true }).buffer;
  } finally {
    parsed.destroy();
  }
}

// The module as text, one instruction per line, without debug names: every identifier left is
// a number, so an instruction or type name cannot hide inside (or be faked by) a function name.
function moduleText(bytes) {
  const module = wabt.readWasm(bytes, { readDebugNames: false });
  try {
    return module.toText({ foldExprs: false, inlineExport: true });
  } finally {
    module.destroy();
  }
}

// The programs that compute in floating point (the soft-float runtime's workload).
const FLOAT_PROGRAMS = new Set(["mandelbrot", "nbody", "dot", "spectral"]);

// The module's code lines (data segments are skipped: bytes are not code) that match `pattern`.
function codeLines(text, pattern) {
  return text
    .split("\n")
    .filter((line) => !/^\s*\(data\b/.test(line))
    .filter((line) => pattern.test(line));
}

// Returns the offending lines: anything mentioning a vector type (v128.load ...) or an atomic
// operator, and unless floats are allowed a float type (f32.add, i32.trunc_f32_s, (local f64)).
function forbiddenInstructions(text, floats) {
  return codeLines(text, floats ? /v128|atomic/ : /f32|f64|v128|atomic/);
}

// Instructions the suite is meant to exercise; reported per module.
const FEATURES = [
  "call_indirect", "br_table", "memory.copy", "memory.fill", "global.set", "i64.mul",
  "f64.div", "f64.sqrt", "f32.mul", "f64.promote_f32", "f32.demote_f64", "i32.trunc_f64_s",
];

// Returns the compiled module, or null (after reporting why) when it must not be run.
function checkModule(name, bytes, text) {
  const before = failures;
  if (!WebAssembly.validate(bytes)) {
    fail(`${name}: WebAssembly.validate rejects the module`);
    return null;
  }
  const module = new WebAssembly.Module(bytes);
  const imports = WebAssembly.Module.imports(module);
  if (imports.length) fail(`${name}: imports ${imports.map((i) => `${i.module}.${i.name}`).join(", ")}`);
  const floats = FLOAT_PROGRAMS.has(name);
  const bad = forbiddenInstructions(text, floats);
  if (bad.length) fail(`${name}: float/SIMD/atomic code:\n${bad.slice(0, 5).join("\n")}`);
  if (floats && !codeLines(text, /f32|f64/).length) fail(`${name}: listed as a float program, has no float code`);
  return failures === before ? module : null;
}

// The signature of an export, as wabt prints it: `(func $f (export "run") (type 1) (result i64)`.
function exportSignature(text, exportName) {
  const line = text.split("\n").find((l) => l.includes(`(export "${exportName}")`));
  if (!line) return null;
  const params = [...line.matchAll(/\(param(?: \$\S+)? ([^)]+)\)/g)].flatMap((m) => m[1].split(" "));
  const results = [...line.matchAll(/\(result ([^)]+)\)/g)].flatMap((m) => m[1].split(" "));
  return `(${params.join(", ")}) -> ${results.join(", ") || "()"}`;
}

// Runs `run` on wabt's interpreter (wasm-interp); resolves to [result, executed steps or null].
// With --trace it prints one line per executed interpreter instruction (its instructions are
// wasm's, plus a few bookkeeping ones such as `alloca` and `drop_keep`), so the lines are
// counted as they stream by: a big run traces gigabytes.
function interpret(bytes, count) {
  const dir = mkdtempSync(join(tmpdir(), "bench-check-"));
  const file = join(dir, "m.wasm");
  writeFileSync(file, bytes);
  const child = spawn(
    process.execPath,
    [join(wabtDir, "bin", "wasm-interp"), file, "-r", "run", ...(count ? ["--trace"] : [])],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let steps = 0, tail = "", result = null;
  const scan = (line) => {
    if (line.startsWith("#")) steps++;
    else result ??= line.match(/^run\(\) => i64:(\d+)/);
  };
  child.stdout.on("data", (chunk) => {
    const lines = (tail + chunk.toString("latin1")).split("\n");
    tail = lines.pop();
    lines.forEach(scan);
  });
  return new Promise((resolvePromise, reject) => {
    child.on("close", (status) => {
      rmSync(dir, { recursive: true });
      scan(tail);
      const m = result;
      if (status !== 0 || !m) reject(new Error(`wasm-interp failed (status ${status}): ${tail.slice(-300)}`));
      else resolvePromise([BigInt.asIntN(64, BigInt(m[1])), count ? steps : null]);
    });
  });
}

// Independent recomputations of some checksums (signed i64, as run() returns them).
const u64 = (x) => BigInt.asUintN(64, x);
const i64 = (x) => BigInt.asIntN(64, x);
const rotl64 = (x, n) => u64((x << BigInt(n)) | (x >> BigInt(64 - n)));
function xorshift64(state) {
  let x = state;
  return () => {
    x = u64(x ^ (x << 13n));
    x ^= x >> 7n;
    x = u64(x ^ (x << 17n));
    return x;
  };
}

// The float programs' checksums (bench.h): bits of doubles and floats folded FNV-style.
const scratch = new DataView(new ArrayBuffer(8));
function bits64(x) {
  scratch.setFloat64(0, x);
  return scratch.getBigUint64(0);
}
function bits32(x) {
  scratch.setFloat32(0, x);
  return BigInt(scratch.getUint32(0));
}
function fold(hash, value) {
  const h = u64((hash ^ value) * 0x100000001b3n);
  return h ^ (h >> 29n);
}
// JS arithmetic is IEEE double; a float operation is the double operation rounded to float
// (Math.fround), exact for + - * / of floats because a double has more than 2 * 24 + 2 bits.
const fr = Math.fround;

const ORACLES = {
  fib() {
    let calls = 0n;
    const fib = (n) => (calls++, n < 2 ? BigInt(n) : fib(n - 1) + fib(n - 2));
    const f = fib(25);
    return i64(f | (calls << 32n));
  },
  sieve() {
    const n = 65536;
    const prime = new Uint8Array(n).fill(1);
    prime[0] = prime[1] = 0;
    for (let i = 2; i * i < n; i++) if (prime[i]) for (let j = i * i; j < n; j += i) prime[j] = 0;
    let count = 0n, sum = 0n, xor = 0n;
    for (let i = 0; i < n; i++) if (prime[i]) (count++, (sum += BigInt(i)), (xor ^= BigInt(i)));
    return i64((count << 40n) ^ sum ^ (xor << 20n));
  },
  crc32() {
    const table = Array.from({ length: 256 }, (_, n) => {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      return c >>> 0;
    });
    const data = Buffer.alloc(32768);
    let state = 0x0123456789abcdefn;
    for (let i = 0; i < 4096; i++) {
      state = u64(state * 6364136223846793005n + 1442695040888963407n);
      data.writeBigUInt64LE(state, 8 * i);
    }
    const crc = (len) => {
      let c = 0xffffffff;
      for (let i = 0; i < len; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
      return BigInt((c ^ 0xffffffff) >>> 0);
    };
    return i64((crc(32768) << 32n) | crc(1000));
  },
  vm() {
    let acc = 0n;
    for (let i = 0n; i < 5000n; i++) acc = u64((acc ^ (i * i)) + i);
    return i64(acc * -3n - 7n);
  },
  sha256() {
    const message = Buffer.alloc(3000);
    for (let i = 0; i < 3000; i++) message[i] = ((7 * i + 3) ^ (i >> 3)) & 0xff;
    return i64(createHash("sha256").update(message).digest().readBigUInt64BE(0));
  },
  bigint() {
    const limbs = 24, bits = 64n * 24n, mask = (1n << bits) - 1n;
    const random = xorshift64(0x0123456789abcdefn);
    const number = () => {
      let v = 0n;
      for (let k = 0; k < limbs; k++) v |= random() << (64n * BigInt(k));
      return v;
    };
    let x = number();
    const y = number();
    for (let round = 0; round < 20; round++) {
      const p = x * y;
      x = ((p & mask) + (p >> bits)) & mask;
    }
    let h = 0n;
    for (let k = 0; k < limbs; k++) h = rotl64(h, 7) ^ ((x >> (64n * BigInt(k))) & (2n ** 64n - 1n));
    return i64(h);
  },
  blake2s() {
    const message = Buffer.alloc(8192);
    let x = 0x9e3779b9;
    for (let i = 0; i < 8192; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      message[i] = x >>> 24;
    }
    return i64(createHash("blake2s256").update(message).digest().readBigUInt64LE(0));
  },
  mandelbrot() {
    let hash = 0n, total = 0n;
    for (let row = 0; row < 16; row++) {
      const ci = -1.2 + row * 0.15;
      for (let col = 0; col < 24; col++) {
        const cr = -2.1 + col * 0.125;
        let zr = 0, zi = 0, zr2 = 0, zi2 = 0, n = 0;
        while (n < 32 && zr2 + zi2 <= 4) {
          zi = 2 * zr * zi + ci;
          zr = zr2 - zi2 + cr;
          zr2 = zr * zr;
          zi2 = zi * zi;
          n++;
        }
        hash = fold(fold(fold(hash, BigInt(n)), bits64(zr)), bits64(zi));
        total += BigInt(n);
      }
    }
    return i64(hash ^ u64(total << 48n));
  },
  nbody() {
    const PI = 3.141592653589793, SOLAR_MASS = 4 * PI * PI, DAYS = 365.24;
    const body = (x, y, z, vx, vy, vz, mass) => ({ x, y, z, vx: vx * DAYS, vy: vy * DAYS, vz: vz * DAYS, mass: mass * SOLAR_MASS });
    const bodies = [
      { x: 0, y: 0, z: 0, vx: 0, vy: 0, vz: 0, mass: SOLAR_MASS },
      body(4.8414314424647209, -1.16032004402742839, -1.03622044471123109e-1, 1.66007664274403694e-3,
        7.69901118419740425e-3, -6.90460016972063023e-5, 9.54791938424326609e-4),
      body(8.34336671824457987, 4.12479856412430479, -4.03523417114321381e-1, -2.76742510726862411e-3,
        4.99852801234917238e-3, 2.30417297573763929e-5, 2.85885980666130812e-4),
      body(1.2894369562139131e1, -1.51111514016986312e1, -2.23307578892655734e-1, 2.96460137564761618e-3,
        2.3784717395948095e-3, -2.96589568540237556e-5, 4.36624404335156298e-5),
      body(1.53796971148509165e1, -2.59193146099879641e1, 1.79258772950371181e-1, 2.68067772490389322e-3,
        1.62824170038242295e-3, -9.5159225451971587e-5, 5.15138902046611451e-5),
    ];
    let px = 0, py = 0, pz = 0;
    for (const b of bodies) {
      px += b.vx * b.mass;
      py += b.vy * b.mass;
      pz += b.vz * b.mass;
    }
    Object.assign(bodies[0], { vx: -px / SOLAR_MASS, vy: -py / SOLAR_MASS, vz: -pz / SOLAR_MASS });
    const energy = () => {
      let e = 0;
      bodies.forEach((b, i) => {
        e += 0.5 * b.mass * (b.vx * b.vx + b.vy * b.vy + b.vz * b.vz);
        for (const c of bodies.slice(i + 1)) {
          const dx = b.x - c.x, dy = b.y - c.y, dz = b.z - c.z;
          e -= (b.mass * c.mass) / Math.sqrt(dx * dx + dy * dy + dz * dz);
        }
      });
      return e;
    };
    let hash = fold(0n, bits64(energy()));
    const dt = 0.01;
    for (let step = 0; step < 60; step++) {
      bodies.forEach((b, i) => {
        for (const c of bodies.slice(i + 1)) {
          const dx = b.x - c.x, dy = b.y - c.y, dz = b.z - c.z;
          const d2 = dx * dx + dy * dy + dz * dz;
          const mag = dt / (d2 * Math.sqrt(d2));
          b.vx -= dx * c.mass * mag;
          b.vy -= dy * c.mass * mag;
          b.vz -= dz * c.mass * mag;
          c.vx += dx * b.mass * mag;
          c.vy += dy * b.mass * mag;
          c.vz += dz * b.mass * mag;
        }
      });
      for (const b of bodies) {
        b.x += dt * b.vx;
        b.y += dt * b.vy;
        b.z += dt * b.vz;
      }
    }
    hash = fold(hash, bits64(energy()));
    for (const b of bodies) for (const v of [b.x, b.y, b.z, b.vx, b.vy, b.vz]) hash = fold(hash, bits64(v));
    return i64(hash);
  },
  dot() {
    let seed = 0x2545f491;
    const next = () => {
      seed = (seed ^ (seed << 13)) >>> 0;
      seed = (seed ^ (seed >>> 17)) >>> 0;
      seed = (seed ^ (seed << 5)) >>> 0;
      return (seed >>> 11) - (1 << 20);
    };
    const n = 512, m = 16;
    const xd = [], yd = [], xf = [], yf = [];
    for (let i = 0; i < n; i++) {
      xd.push(next() * 0.001);
      yd.push(next() * 0.37);
      xf.push(fr(xd[i]));
      yf.push(fr(fr(next()) * fr(0.3)));
    }
    let sd = 0, sf = 0, sm = 0;
    for (let i = 0; i < n; i++) {
      sd += xd[i] * yd[i];
      sf = fr(sf + fr(xf[i] * yf[i]));
      sm += xf[i] * yd[i];
    }
    const ad = [], af = [], bd = [], bf = [];
    for (let i = 0; i < m; i++) {
      ad.push(Array.from({ length: m }, () => next() * 2 ** -25));
      af.push(ad[i].map(fr));
      bd.push(next() * 1e-6);
      bf.push(fr(bd[i]));
    }
    let vd = new Array(m).fill(0), vf = new Array(m).fill(0);
    for (let step = 0; step < 12; step++) {
      vd = bd.map((d, i) => ad[i].reduce((sum, a, j) => sum + a * vd[j], d));
      vf = bf.map((f, i) => af[i].reduce((sum, a, j) => fr(sum + fr(a * vf[j])), f));
    }
    let hash = fold(fold(fold(0n, bits64(sd)), bits32(sf)), bits64(sm));
    for (let i = 0; i < m; i++) {
      hash = fold(fold(hash, bits64(vd[i])), bits32(vf[i]));
      hash = fold(hash, BigInt.asUintN(32, BigInt(Math.trunc(vd[i] * 1e6))));
    }
    return i64(hash);
  },
  spectral() {
    const n = 20;
    const a = (i, j) => 1 / (((i + j) * (i + j + 1)) / 2 + i + 1);
    const times = (x, transposed) =>
      x.map((_, i) => x.reduce((sum, xj, j) => sum + (transposed ? a(j, i) : a(i, j)) * xj, 0));
    const timesAtA = (x) => times(times(x, false), true);
    let u = new Array(n).fill(1), v;
    for (let step = 0; step < 6; step++) {
      v = timesAtA(u);
      u = timesAtA(v);
    }
    let uv = 0, vv = 0;
    for (let i = 0; i < n; i++) {
      uv += u[i] * v[i];
      vv += v[i] * v[i];
    }
    let hash = fold(0n, bits64(Math.sqrt(uv / vv)));
    for (let i = 0; i < n; i++) hash = fold(fold(hash, bits64(u[i])), bits64(v[i]));
    return i64(hash);
  },
};

// service.expected lines: `ENTRY INPUT OUTPUT_HEX` for both entries on both inputs (defined there).
const SERVICE_INPUTS = {
  hello: Buffer.from("hello"),
  ramp1000: Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251)),
};
const SERVICE_INPUT_ADDRESS = 0x40000; // the headroom service.c promises to leave alone

function checkService() {
  const file = "driver/examples/c/service.wasm";
  const bytes = moduleBytes(file);
  const text = moduleText(bytes);
  const module = checkModule("service", bytes, text);
  if (!module) return;
  for (const entry of ["refine", "accumulate"]) {
    const sig = exportSignature(text, entry);
    if (sig !== "(i32, i32) -> i64") fail(`service: ${entry} has type ${sig}`);
  }
  const expectedOutputs = new Map(
    readFileSync(join(root, "driver/examples/c/service.expected"), "utf8")
      .split("\n")
      .filter((l) => l.trim() && !l.startsWith("#"))
      .map((l) => l.trim().split(/\s+/))
      .map(([entry, input, hex]) => [`${entry} ${input}`, hex]),
  );
  for (const [entry, inputName] of ["refine", "accumulate"].flatMap((e) =>
    Object.keys(SERVICE_INPUTS).map((i) => [e, i]),
  )) {
    const input = SERVICE_INPUTS[inputName];
    const expectedHex = expectedOutputs.get(`${entry} ${inputName}`);
    const { exports } = new WebAssembly.Instance(module, {});
    const memory = new Uint8Array(exports.memory.buffer);
    memory.fill(0xa5, SERVICE_INPUT_ADDRESS); // sentinel: the headroom must come back untouched
    memory.set(input, SERVICE_INPUT_ADDRESS);
    const packed = BigInt.asUintN(64, exports[entry](SERVICE_INPUT_ADDRESS, input.length));
    const ptr = Number(packed & 0xffffffffn), len = Number(packed >> 32n);
    const out = Buffer.from(memory.subarray(ptr, ptr + len)).toString("hex");
    const headroom = memory.subarray(SERVICE_INPUT_ADDRESS + input.length);
    const intact =
      Buffer.from(memory.subarray(SERVICE_INPUT_ADDRESS, SERVICE_INPUT_ADDRESS + input.length)).equals(input) &&
      headroom.every((b) => b === 0xa5);
    if (args.has("--print")) {
      console.log(`${entry} ${inputName} ${out}`);
    } else if (out !== expectedHex) {
      fail(`service ${entry}(${inputName}): got ${out.slice(0, 40)}…, expected ${expectedHex?.slice(0, 40)}…`);
    } else if (ptr + len > SERVICE_INPUT_ADDRESS || !intact) {
      fail(`service ${entry}(${inputName}): output at 0x${ptr.toString(16)} or writes reach the headroom`);
    } else {
      console.log(`ok   service.${entry}(${inputName}) -> ${len} bytes at 0x${ptr.toString(16)}`);
    }
  }
  console.log(`     service.wasm ${bytes.length} bytes`);
}

function checkKvstoreMain(module) {
  const expected = readFileSync(join(root, "driver/examples/c/kvstore.expected"), "utf8")
    .split("\n")
    .map((l) => l.match(/^main\s+(-?\d+)/))
    .find(Boolean);
  const got = new WebAssembly.Instance(module, {}).exports.main();
  if (args.has("--print")) console.log(`# kvstore main() = ${got}`);
  else if (!expected) fail("kvstore.expected has no `main` line");
  else if (BigInt(got) !== BigInt(expected[1])) fail(`kvstore main() = ${got}, expected ${expected[1]}`);
  else console.log(`ok   kvstore.main() = ${got}`);
}

for (const { name, file, expected } of readManifest()) {
  const bytes = moduleBytes(file);
  const text = moduleText(bytes);
  const module = checkModule(name, bytes, text);
  if (!module) continue;
  const sig = exportSignature(text, "run");
  if (sig !== "() -> i64") {
    fail(`${name}: export run has type ${sig}`);
    continue;
  }
  let got;
  try {
    got = new WebAssembly.Instance(module, {}).exports.run();
  } catch (error) {
    fail(`${name}: run() failed: ${error.message}`);
    continue;
  }
  const used = FEATURES.filter((f) => text.includes(` ${f}`)).join(" ");
  let line = `${name.padEnd(11)} ${String(bytes.length).padStart(5)} bytes  run() = ${got}  [${used}]`;
  if (ORACLES[name]) {
    const independent = ORACLES[name]();
    if (independent !== got) fail(`${name}: JavaScript recomputation gives ${independent}, wasm ${got}`);
    else line += "  (= JS recomputation)";
  }
  if (args.has("--interp") || args.has("--count")) {
    const [result, steps] = await interpret(bytes, args.has("--count"));
    if (result !== got) fail(`${name}: wasm-interp gives ${result}, node ${got}`);
    else line += "  (= wasm-interp)";
    if (steps !== null) line += `  ${steps} instructions`;
  }
  if (args.has("--print")) {
    console.log(`${name}  ${file}  ${got}\n#    ${line}`);
  } else if (got !== expected) {
    fail(`${name}: run() = ${got}, manifest says ${expected}`);
  } else {
    console.log(`ok   ${line}`);
  }
  if (name === "kvstore") checkKvstoreMain(module);
}
checkService();

if (failures) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log("all checks passed");
