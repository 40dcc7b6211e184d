#!/usr/bin/env node
// npm run bench:wasm [-- --quick] [-- --write] [-- --rounds N] [-- --only TEXT] [-- --large N]   (also part of `npm run bench`)
//
// The WebAssembly backend (@oqs/liboqs-js): sync calls, which run on the calling thread, beside
// the …Async and …Many calls, which run on its worker threads (lib/wasm/worker-pool.ts). For
// each: the rate as a ratio to the sync rate, and the longest event-loop stall while it runs,
// from perf_hooks.monitorEventLoopDelay, beside the stall of an idle loop measured in the same
// rounds (on a shared machine the scheduler alone stalls a loop for milliseconds). Targets on
// 2 cores: batch rate ≥ 1.7× sync, longest stall ≤ 5 ms.
//
// Every measurement runs once per round, the rounds alternating between them; times are the best
// round, stalls the median round's longest. Markdown to stdout, progress to stderr; --write puts
// the section into BENCHMARKS.md. Exits 1 when it cannot measure, not when a target is missed.
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { dist, failer, oneLine, progress, stallCauses, threadCpuNs } from './bench-support.mjs';
import { WASM_SECTION, writeSection } from './benchmarks-file.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The bench scripts' statistics are the package's (lib/bench/timing.ts), built into dist/.
const { median } = await dist('bench/timing.js');
const fail = failer('bench-wasm');

const BATCH_TARGET = 1.7; // batch rate ÷ sync rate, at least
const STALL_TARGET_MS = 5; // longest event-loop stall, at most
const SIZES = [256, 4096];
const CONCURRENT = 1024;
// The loop-delay timer's period: a stall is the part of an interval beyond it.
const RESOLUTION_MS = 1;

function parseArgs(argv) {
  const options = { quick: false, write: false, rounds: undefined, only: '', large: 65536 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i];
    const number = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) fail(`${flag} needs a whole number`);
      return n;
    };
    if (flag === '--quick') options.quick = true;
    else if (flag === '--write') options.write = true;
    else if (flag === '--rounds') options.rounds = number();
    else if (flag === '--only') options.only = value() ?? '';
    else if (flag === '--large') options.large = number();
    else fail(`unknown option ${argv[i]}; options: --quick, --write, --rounds N, --only TEXT, --large N (0: none)`);
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
const rounds = options.rounds ?? (options.quick ? 1 : 3);
const syncMs = options.quick ? 30 : 100;

let pqc;
try {
  pqc = await dist('index.js');
} catch (error) {
  fail(`cannot load dist/index.js (${oneLine(error.message)}); build first: npm run build`);
}
const { Kem, Sig, closeWasmWorkers } = pqc;

const KEMS = ['ML-KEM-512', 'ML-KEM-768', 'ML-KEM-1024'];
const SIGS = ['ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87'];
// 16 distinct inputs repeated make a batch of any size: the work per item does not depend on which.
const DISTINCT = 16;
const message = (i) => Uint8Array.from({ length: 64 }, (_, k) => (k * 7 + i) & 0xff);
const repeat = (values, count) => Array.from({ length: count }, (_, i) => values[i % values.length]);

/** The calls of one row: sync, async and batch of `count` items. */
async function kemCalls(name, op) {
  const kem = new Kem(name, { backend: 'wasm' });
  await kem.ready();
  const pairs = Array.from({ length: DISTINCT }, () => kem.generateKeyPair());
  const { secretKey } = pairs[0];
  const ciphertexts = pairs.map(() => kem.encapsulate(pairs[0].publicKey).ciphertext);
  const publicKeys = pairs.map((pair) => pair.publicKey);
  return {
    keygen: { sync: () => kem.generateKeyPair(), async: () => kem.generateKeyPairAsync(), batch: (n) => () => kem.generateKeyPairMany(n) },
    encaps: {
      sync: () => kem.encapsulate(publicKeys[0]),
      async: () => kem.encapsulateAsync(publicKeys[0]),
      batch: (n) => ((keys) => () => kem.encapsulateMany(keys))(repeat(publicKeys, n)),
    },
    decaps: {
      sync: () => kem.decapsulate(ciphertexts[0], secretKey),
      async: () => kem.decapsulateAsync(ciphertexts[0], secretKey),
      batch: (n) => ((cts) => () => kem.decapsulateMany(cts, secretKey))(repeat(ciphertexts, n)),
    },
  }[op];
}

async function sigCalls(name, op) {
  const sig = new Sig(name, { backend: 'wasm' });
  await sig.ready();
  const { publicKey, secretKey } = sig.generateKeyPair();
  const messages = Array.from({ length: DISTINCT }, (_, i) => message(i));
  const signatures = messages.map((m) => sig.sign(m, secretKey));
  return {
    keypair: { sync: () => sig.generateKeyPair(), async: () => sig.generateKeyPairAsync(), batch: (n) => () => sig.generateKeyPairMany(n) },
    sign: {
      sync: () => sig.sign(messages[0], secretKey),
      async: () => sig.signAsync(messages[0], secretKey),
      batch: (n) => ((ms) => () => sig.signMany(ms, secretKey))(repeat(messages, n)),
    },
    verify: {
      sync: () => sig.verify(messages[0], signatures[0], publicKey),
      async: () => sig.verifyAsync(messages[0], signatures[0], publicKey),
      batch: (n) => ((ms, ss) => () => sig.verifyMany(ms, ss, publicKey))(repeat(messages, n), repeat(signatures, n)),
    },
  }[op];
}

/**
 * ns per item of `run` (which does `items` items), the longest stall of the loop meanwhile and
 * how long `run` took to return its promise (ms), the calling thread's CPU time per item (ns),
 * and what the longest gap was made of (stallCauses). The monitor runs a little before and
 * after, so that a stall at either end is caught: it records an interval when its timer next
 * fires.
 */
async function timed(run, items) {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  await sleep(3 * RESOLUTION_MS);
  histogram.reset();
  const causes = stallCauses();
  const cpu = threadCpuNs();
  const start = process.hrtime.bigint();
  const pending = run();
  const returned = process.hrtime.bigint();
  await pending;
  const ns = Number(process.hrtime.bigint() - start);
  const cpuNs = cpu === undefined ? undefined : threadCpuNs() - cpu;
  await sleep(3 * RESOLUTION_MS);
  histogram.disable();
  return {
    ...(await causes.stop()),
    perItem: ns / items,
    stallMs: Math.max(0, histogram.max / 1e6 - RESOLUTION_MS),
    callMs: Number(returned - start) / 1e6,
    cpuPerItem: cpuNs === undefined ? undefined : cpuNs / items,
  };
}

/** The measurements of one row, each a function giving { perItem, stallMs }. */
function measurements(calls, sizes) {
  let syncCalls;
  const list = [
    [
      'sync',
      async () => {
        // Calibrated once: enough calls for about syncMs.
        if (!syncCalls) {
          const start = performance.now();
          let n = 0;
          while (performance.now() - start < syncMs / 4) (calls.sync(), n++);
          syncCalls = Math.max(3, n * 4);
        }
        return timed(async () => {
          for (let i = 0; i < syncCalls; i++) calls.sync();
        }, syncCalls);
      },
    ],
    [
      'async',
      async () => {
        const n = Math.max(8, syncCalls ?? 8);
        return timed(async () => {
          for (let i = 0; i < n; i++) await calls.async();
        }, n);
      },
    ],
    ['concurrent', () => timed(() => Promise.all(Array.from({ length: CONCURRENT }, () => calls.async())), CONCURRENT)],
    ...sizes.map((size) => {
      const batch = calls.batch(size);
      return [`batch ${size}`, () => timed(batch, size)];
    }),
    // The same loop with no work for as long as a short measurement: the machine's own stalls.
    ['idle', () => timed(() => sleep(syncMs), 1)],
  ];
  return list;
}

const rows = [
  ...KEMS.flatMap((name) => ['keygen', 'encaps', 'decaps'].map((op) => ({ name, op, calls: () => kemCalls(name, op) }))),
  ...SIGS.flatMap((name) => ['keypair', 'sign', 'verify'].map((op) => ({ name, op, calls: () => sigCalls(name, op) }))),
].filter((row) => row.name.includes(options.only));
if (rows.length === 0) fail(`no algorithm matches --only ${options.only}`);

// A large batch only where it takes seconds, not minutes, and tens of MB: ML-KEM encapsulation and decapsulation.
const sizesFor = (row) => [...SIZES, ...(options.large > 0 && (row.op === 'encaps' || row.op === 'decaps') ? [options.large] : [])];

const loadBefore = os.loadavg()[0];
const started = Date.now();
progress(`bench-wasm: ${rows.length} rows, ${rounds} rounds`);
for (const row of rows) {
  const t0 = Date.now();
  try {
    const calls = await row.calls();
    const list = measurements(calls, sizesFor(row));
    // Warm-up: the pool's threads started and the algorithm's module loaded in each.
    await calls.batch(64)();
    await calls.async();
    row.samples = new Map(list.map(([key]) => [key, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [key, measure] of list) row.samples.get(key).push(await measure());
    }
  } catch (error) {
    fail(`${row.name} ${row.op}: ${error.stack ?? error}`);
  }
  const best = (key) => Math.min(...row.samples.get(key).map((s) => s.perItem));
  // The median round's, with what was measured in that round beside it.
  const middle = (key) => [...row.samples.get(key)].sort((a, b) => a.stallMs - b.stallMs)[(row.samples.get(key).length - 1) >> 1];
  row.result = Object.fromEntries([...row.samples.keys()].map((key) => [key, { ...middle(key), perItem: best(key) }]));
  progress(`  ${row.name} ${row.op}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
await closeWasmWorkers();
const elapsed = (Date.now() - started) / 1000;
const loadAfter = os.loadavg()[0];

// ---------------------------------------------------------------------------------------------
// Report.

const micros = (ns) => (ns / 1000 < 100 ? (ns / 1000).toFixed(1) : (ns / 1000).toFixed(0));
const mark = (ok) => (ok ? '✓' : '✗');
const ratioCell = (row, key, target) => {
  const r = row.result[key];
  if (!r) return '—';
  const value = row.result.sync.perItem / r.perItem;
  return `${value.toFixed(2)}${target ? ` ${mark(value >= target)}` : ''}`;
};
const stallCell = (row, key) => {
  const r = row.result[key];
  return r ? `${r.stallMs.toFixed(1)} ${mark(r.stallMs <= STALL_TARGET_MS)}` : '—';
};

const batchKeys = [...SIZES.map((size) => `batch ${size}`), ...(options.large > 0 ? [`batch ${options.large}`] : [])];
const headers = [
  'Algorithm',
  'Operation',
  'sync µs',
  'async ÷ sync',
  `${CONCURRENT} concurrent async ÷ sync`,
  ...batchKeys.map((key) => `${key.replace('batch ', '')}-item batch ÷ sync (≥ ${BATCH_TARGET})`),
  'stall, async (ms)',
  `stall, ${CONCURRENT} concurrent`,
  ...batchKeys.map((key) => `stall, ${key.replace('batch ', '')}-item batch`),
  'stall, idle loop',
];
const body = rows.map((row) => [
  row.name,
  row.op,
  micros(row.result.sync.perItem),
  ratioCell(row, 'async'),
  ratioCell(row, 'concurrent'),
  ...batchKeys.map((key) => ratioCell(row, key, BATCH_TARGET)),
  stallCell(row, 'async'),
  stallCell(row, 'concurrent'),
  ...batchKeys.map((key) => stallCell(row, key)),
  row.result.idle.stallMs.toFixed(1),
]);

function table(head, lines) {
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((line) => line[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...lines.map(line)].join('\n');
}

/**
 * The longest gap of a stall the call's own part does not explain: the calling thread waiting for
 * a core (both were running other threads: the pool's, V8's compiler and collector threads, other
 * processes) and garbage collection.
 */
function gapCauses(s, idle) {
  const parts = [];
  if (s.waitedMs !== undefined) parts.push(`${s.waitedMs.toFixed(1)} ms of it waiting for a core`);
  parts.push(`the longest garbage collection ${s.gcMs.toFixed(1)} ms`);
  return `the call returned in ${s.callMs.toFixed(1)} ms; its longest gap ${s.gapMs.toFixed(1)} ms: ${parts.join(', ')}; idle loop ${idle.toFixed(1)} ms`;
}

function verdict() {
  const lines = [];
  const cells = rows.flatMap((row) => batchKeys.filter((key) => row.result[key]).map((key) => ({ row, key, ratio: row.result.sync.perItem / row.result[key].perItem })));
  const slow = cells.filter((c) => c.ratio < BATCH_TARGET);
  // On `threads` cores a batch can go at most threads × sync ÷ (sync + the calling thread's CPU per item).
  const ceiling = (c) => {
    const cpu = c.row.result[c.key].cpuPerItem;
    return cpu === undefined ? '' : `; the calling thread spent ${micros(cpu)} µs of CPU per item, which caps ${threads} cores at ${((threads * c.row.result.sync.perItem) / (c.row.result.sync.perItem + cpu)).toFixed(2)}×`;
  };
  lines.push(`- batch rate ≥ ${BATCH_TARGET}× sync: ${cells.length - slow.length} of ${cells.length} cells`);
  for (const c of slow) lines.push(`  - missed: ${c.row.name} ${c.row.op}, ${c.key.replace('batch ', '')} items: ${c.ratio.toFixed(2)}×${ceiling(c)}`);
  const stalls = rows.flatMap((row) => ['async', 'concurrent', ...batchKeys].filter((key) => row.result[key]).map((key) => ({ row, key, ...row.result[key] })));
  const long = stalls.filter((s) => s.stallMs > STALL_TARGET_MS);
  lines.push(`- longest stall ≤ ${STALL_TARGET_MS} ms: ${stalls.length - long.length} of ${stalls.length} cells`);
  for (const s of long) {
    // A stall no longer than the idle loop's is the machine's; one as long as the call's own return is the argument checks and set-up before the pool.
    const idle = s.row.result.idle.stallMs;
    const why =
      s.stallMs <= idle + RESOLUTION_MS
        ? `no longer than the idle loop's ${idle.toFixed(1)} ms: the machine's`
        : s.callMs >= s.stallMs - idle - RESOLUTION_MS
          ? `the call took ${s.callMs.toFixed(1)} ms to return: ${s.key === 'concurrent' ? `making ${CONCURRENT} calls in one turn of the loop` : 'its own synchronous part: the argument checks in Kem/Sig and the set-up before any thread is reached'}`
          : gapCauses(s, idle);
    lines.push(`  - missed: ${s.row.name} ${s.row.op}, ${s.key}: ${s.stallMs.toFixed(1)} ms (${why})`);
  }
  const idle = median(rows.map((row) => row.result.idle.stallMs));
  if (idle > 1) lines.push(`- ⚠ the machine was busy: an idle loop itself stalled for ${idle.toFixed(1)} ms (median over the rows), which every stall above includes`);
  const cores = os.availableParallelism();
  if (loadBefore > 2 * cores) {
    lines.push(`- ⚠ load average ${loadBefore.toFixed(1)} on ${cores} cores: the worker threads and the calling thread shared the cores with other work, so the ratios and stalls measure the machine rather than the package; run again on a quiet one`);
  }
  return lines;
}

// The pool's size, as the package computes it.
const { parallelThreads: threads } = await dist('parallel-threads.js');
// info().wasm names the WebAssembly package only where it is the default backend.
const { wasmPackageVersion } = await dist('wasm/wasm-backend.js');
const machine = [
  `- ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores available to Node; worker threads: ${threads} (UV_THREADPOOL_SIZE${process.env.UV_THREADPOOL_SIZE ? `=${process.env.UV_THREADPOOL_SIZE}` : ' unset, default 4'}, at most the cores)`,
  `- Node ${process.version}; @oqs/liboqs-js ${wasmPackageVersion()}; ${rounds} rounds; load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after; ${elapsed.toFixed(0)} s in all`,
  `- ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}: \`npm run bench:wasm${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\``,
];

const tableText = table(headers, body);
console.log([tableText, '', ...verdict(), ...machine].join('\n'));

if (options.write) {
  writeSection(
    WASM_SECTION,
    `${WASM_SECTION}

Generated by \`npm run bench:wasm -- --write\` (scripts/bench-wasm.mjs, also run by \`npm run bench\`).

The WebAssembly backend's sync calls run on the calling thread; its \`…Async\` and \`…Many\` calls
on its worker threads (one liboqs-js instance per thread and algorithm). "sync µs" is the time
per call of a loop of sync calls; each ratio is a rate ÷ the sync rate: the \`…Async\` call awaited
one at a time, ${CONCURRENT} \`…Async\` calls made at once and awaited together, and the \`…Many\` call
with each batch size. A stall is the longest time the event loop did not turn while the calls
ran (\`perf_hooks.monitorEventLoopDelay\`, ${RESOLUTION_MS} ms resolution, the interval beyond it), median of
the rounds; "idle loop" is the same for a loop with nothing to do, measured in the same rounds.
Targets on 2 cores: batch rate ≥ ${BATCH_TARGET}× sync, longest stall ≤ ${STALL_TARGET_MS} ms. The
${options.large}-item batches are run for ML-KEM encapsulation and decapsulation only (seconds each; key
generation and ML-DSA would take minutes and hundreds of MB).

${tableText}

${verdict().join('\n')}

${machine.join('\n')}
`,
  );
  progress('bench-wasm: wrote the WebAssembly section of BENCHMARKS.md');
}
