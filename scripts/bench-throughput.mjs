#!/usr/bin/env node
// node scripts/bench-throughput.mjs [--quick] [--write] [--only TEXT] [--sizes 256,4096,…] [--nice N]
// (npm run bench:throughput)
//
// The batch and async paths of the native backend as a high-throughput service sees them: for
// every ML-KEM and ML-DSA operation, `…Many` batches of 256, 4,096, 65,536 and 10^6 items and
// 10,000 concurrent single `…Async` calls (gathered into shared runs, lib/coalesced-calls.ts),
// each beside the sync call in the same process: time per item, rate ÷ sync rate and ÷ the rate
// of a sync loop that keeps its results (as a batch must: its memory is new, where the plain loop
// reuses the memory of the results it drops), the calling thread's CPU time per item and the rate
// that leaves the pool, the longest event-loop stall while the call ran
// (perf_hooks.monitorEventLoopDelay, 1 ms resolution: the largest gap between turns of the loop,
// which includes the 1 ms timer interval itself), the longest garbage collection in that time
// beside that of the sync loop keeping its results, and the peak extra memory (resident set
// sampled every millisecond, less that before the call) ÷ the bytes of the batch's own inputs
// and outputs. The machine's cost of new memory (µs per 4 KiB
// page) is measured first and printed with the causes of the misses.
//
// Each measurement runs in a child process of this script, so that each starts from a fresh heap
// and pool. The inputs cycle through 1,024 distinct values (keys, ciphertexts, messages and their
// signatures). A batch whose outputs alone would exceed MAX_OUTPUT_BYTES is not run (named in the
// report). Markdown goes to stdout, progress to stderr; --write puts the tables in the
// "## Batches and the event loop" section of BENCHMARKS.md and leaves the other sections alone.
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { answerParent, collectionLog, dist, failer, forkJob, gapWatch, longestCollection, oneLine, progress, requireNative, threadCpuNs } from './bench-support.mjs';
import { THROUGHPUT_SECTION, writeSection } from './benchmarks-file.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The bench scripts' statistics are the package's (lib/bench/timing.ts), built into dist/.
const { median } = await dist('bench/timing.js');
const SCRIPT = fileURLToPath(import.meta.url);
const JOB_ENV = 'X0TTA6BL4_BENCH_THROUGHPUT_JOB';

const TARGETS = { stallMs: 5, batchRate: 1.8, coalescedRate: 1.5, memory: 2 };
const SIZES = [256, 4096, 65536, 1_000_000];
const CONCURRENT = 10_000;
const DISTINCT = 1024;
const MAX_OUTPUT_BYTES = 1.5 * 2 ** 30;
const MESSAGE_LENGTH = 64;
const KEPT_LIMIT = 65536;
const WARM_UP_MS = 100;
const ROUNDS_MS = 300;
const PAGE = 4096;

const KEMS = ['ML-KEM-512', 'ML-KEM-768', 'ML-KEM-1024'];
const SIGS = ['ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87'];
const KEM_OPS = ['keygen', 'encaps', 'decaps'];
const SIG_OPS = ['keypair', 'sign', 'verify'];

const USAGE = `usage: node scripts/bench-throughput.mjs [options]   (npm run bench:throughput -- [options])
  --quick        batches of 256 and 4,096 only, 1,000 concurrent calls, fewer rounds
  --write        also write the "${THROUGHPUT_SECTION}" section of BENCHMARKS.md (only that section)
  --only TEXT    only the algorithms whose name contains TEXT (or one of TEXT,TEXT,…)
  --sizes LIST   batch sizes, comma-separated (default ${SIZES.join(',')})
  --nice N       run at this scheduling priority (children too); negative needs root
Load liboqs as the package does, e.g. LD_LIBRARY_PATH=/opt/liboqs/0.16.0/lib.`;

const fail = failer('bench-throughput');

function parseArgs(argv) {
  const options = { quick: false, write: false, only: '', sizes: undefined, nice: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--quick') options.quick = true;
    else if (flag === '--write') options.write = true;
    else if (flag === '--only') options.only = value() ?? '';
    else if (flag === '--sizes') {
      const text = value() ?? '';
      options.sizes = text.split(',').map(Number);
      if (!options.sizes.every((n) => Number.isInteger(n) && n >= 1 && n <= 2 ** 20)) fail(`--sizes takes integers from 1 to 2^20, got ${text}`);
    } else if (flag === '--nice') {
      options.nice = Number(value());
      if (!Number.isInteger(options.nice) || options.nice < -20 || options.nice > 19) fail('--nice needs an integer from -20 to 19');
    } else if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown option ${argv[i]}\n${USAGE}`);
  }
  return options;
}

async function loadPackage() {
  try {
    return await dist('index.js');
  } catch (error) {
    throw new Error(`cannot load dist/index.js (${error.message.split('\n')[0]}); build first: npm run build`);
  }
}

// ---------------------------------------------------------------------------------------------
// In the child: one measurement.

const now = () => process.hrtime.bigint();
const message = (i) => Uint8Array.from({ length: MESSAGE_LENGTH }, (_, k) => (k * 7 + i) & 0xff);

/**
 * The op's sync call on item i, its `…Many` call on n items (inputs made beforehand), its single
 * `…Async` call on item i, and its bytes per item.
 */
function operation(pqc, { name, op }) {
  if (KEMS.includes(name)) {
    const kem = new pqc.Kem(name, { backend: 'native' });
    const pairs = Array.from({ length: DISTINCT }, () => kem.generateKeyPair());
    const cts = pairs.map((pair) => kem.encapsulate(pair.publicKey).ciphertext);
    const pk = (i) => pairs[i % DISTINCT].publicKey;
    const sk = (i) => pairs[i % DISTINCT].secretKey;
    const ct = (i) => cts[i % DISTINCT];
    const { publicKeyLength: P, secretKeyLength: S, ciphertextLength: C, sharedSecretLength: K } = kem;
    return {
      keygen: { sync: () => kem.generateKeyPair(), many: (n) => () => kem.generateKeyPairMany(n), single: () => kem.generateKeyPairAsync(), inBytes: 0, outBytes: P + S },
      encaps: {
        sync: (i) => kem.encapsulate(pk(i)),
        many: (n) => {
          const pks = Array.from({ length: n }, (_, i) => pk(i));
          return () => kem.encapsulateMany(pks);
        },
        single: (i) => kem.encapsulateAsync(pk(i)),
        inBytes: P,
        outBytes: C + K,
      },
      decaps: {
        sync: (i) => kem.decapsulate(ct(i), sk(0)),
        many: (n) => {
          const items = Array.from({ length: n }, (_, i) => ct(i));
          return () => kem.decapsulateMany(items, sk(0));
        },
        single: (i) => kem.decapsulateAsync(ct(i), sk(0)),
        inBytes: C,
        outBytes: K,
      },
    }[op];
  }
  const sig = new pqc.Sig(name, { backend: 'native' });
  const { publicKey, secretKey } = sig.generateKeyPair();
  const messages = Array.from({ length: DISTINCT }, (_, i) => message(i));
  const signatures = messages.map((m) => sig.sign(m, secretKey));
  const msg = (i) => messages[i % DISTINCT];
  const signature = (i) => signatures[i % DISTINCT];
  const { publicKeyLength: P, secretKeyLength: S, signatureLength: G } = sig;
  return {
    keypair: { sync: () => sig.generateKeyPair(), many: (n) => () => sig.generateKeyPairMany(n), single: () => sig.generateKeyPairAsync(), inBytes: 0, outBytes: P + S },
    sign: {
      sync: (i) => sig.sign(msg(i), secretKey),
      many: (n) => {
        const items = Array.from({ length: n }, (_, i) => msg(i));
        return () => sig.signMany(items, secretKey);
      },
      single: (i) => sig.signAsync(msg(i), secretKey),
      inBytes: MESSAGE_LENGTH,
      outBytes: G,
    },
    verify: {
      sync: (i) => sig.verify(msg(i), signature(i), publicKey),
      many: (n) => {
        const items = Array.from({ length: n }, (_, i) => msg(i));
        const sigs = Array.from({ length: n }, (_, i) => signature(i));
        return () => sig.verifyMany(items, sigs, publicKey);
      },
      single: (i) => sig.verifyAsync(msg(i), signature(i), publicKey),
      inBytes: MESSAGE_LENGTH + G,
      outBytes: 1,
    },
  }[op];
}

/** ns per sync call: the best of 5 runs of ~60 ms each. */
function syncTime(run) {
  let calls = 1;
  for (let spent = 0; spent < 30e6; calls *= 2) {
    const start = now();
    for (let i = 0; i < calls; i++) run(i);
    spent = Number(now() - start);
  }
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = now();
    for (let i = 0; i < calls; i++) run(i);
    best = Math.min(best, Number(now() - start) / calls);
  }
  return best;
}

/**
 * ns per sync call of a loop that keeps every result, as a batch must: each result then needs
 * memory not used before, which the plain loop (its results dropped and their memory reused)
 * never pays for. Up to KEPT_LIMIT calls, in a loop run once.
 */
async function syncKeptTime(run, size) {
  const calls = Math.min(size, KEPT_LIMIT);
  const kept = new Array(calls);
  global.gc();
  const gc = longestCollection();
  const start = now();
  for (let i = 0; i < calls; i++) kept[i] = run(i);
  const ns = Number(now() - start) / calls;
  return { ns, gcMs: await gc.end() };
}


/**
 * Wall time, the calling thread's CPU time (undefined off Linux), longest stall, the call's span
 * and the longest gap between the sampler's ticks (gapWatch: its span, and the time waited for a
 * core in it), both for the collections log, and peak extra resident memory of `call()`, after a
 * full collection when `collectFirst`.
 */
async function observe(call, collectFirst) {
  if (collectFirst) global.gc();
  const startMs = performance.now();
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const before = process.memoryUsage.rss();
  let peak = before;
  const gap = gapWatch();
  const sample = () => {
    gap.tick();
    peak = Math.max(peak, process.memoryUsage.rss());
  };
  // On a timer, as the delay monitor is: sampling on every turn would keep the calling thread
  // busy, which no service's idle loop is, and have it compete with the pool for the cores.
  const sampler = setInterval(sample, 1);
  histogram.enable();
  const cpu = threadCpuNs();
  const start = now();
  // The caller's own loop making concurrent calls is timed, but its stall is the caller's: the
  // monitor starts again once the loop is over (reset() also forgets the timer's last tick, so the
  // interval that spans the loop is not recorded).
  let issueNs;
  const issued = () => {
    issueNs = Number(now() - start);
    setImmediate(() => {
      histogram.reset();
      gap.reset();
    });
  };
  const result = await call(issued);
  const ns = Number(now() - start);
  const cpuNs = cpu === undefined ? undefined : threadCpuNs() - cpu;
  clearInterval(sampler);
  histogram.disable();
  const endMs = performance.now();
  sample();
  // A call shorter than the timer interval has no sample: its whole watched duration was the stall.
  const watchedMs = (ns - (issueNs ?? 0)) / 1e6;
  const stallMs = histogram.count > 0 ? Math.max(histogram.max / 1e6, watchedMs / (histogram.count + 1)) : watchedMs;
  return { ns, cpuNs, issueNs, stallMs, startMs, endMs, gap: gap.longest(), extraBytes: peak - before, result };
}

async function measureJob(job) {
  const pqc = await loadPackage();
  const op = operation(pqc, job);
  const syncNs = syncTime(op.sync);
  const { size, mode } = job;
  // Small batches and the concurrent calls repeat to smooth the machine's noise: the best time,
  // the median stall. The rounds after the first are a service's warm state (compiled code, a
  // grown heap); a single round of 10,000 calls measured mostly the first. A batch of 256 takes
  // 2–3 ms, within one of the machine's hiccups: the rounds go on for at least ROUNDS_MS, so
  // that the best time is not that of a handful of them.
  const repeated = size <= 4096 || mode === 'single';
  const minRounds = repeated ? (job.quick ? 3 : 7) : 1;
  const roundsMs = repeated && !job.quick ? ROUNDS_MS : 0;
  // Making the concurrent calls is part of what is timed: a service makes them one by one.
  const call =
    mode === 'many'
      ? op.many(size)
      : (issued = () => {}) => {
          const calls = Array.from({ length: size }, (_, i) => op.single(i));
          issued();
          return Promise.all(calls);
        };
  // Warmed up as the sync call is (syncTime runs it for well over 100 ms): the calls that repeat
  // run themselves for WARM_UP_MS first, so that their code is compiled as a service's would be;
  // the large batches, measured once, are warmed by a batch of 256.
  if (repeated) {
    for (const start = now(); Number(now() - start) < WARM_UP_MS * 1e6; ) await call();
  } else {
    await op.many(256)();
  }
  const samples = [];
  const collections = collectionLog();
  for (const start = now(); samples.length < minRounds || Number(now() - start) < roundsMs * 1e6; ) {
    // A forced full collection releases memory that the next call then faults in again (at this
    // machine's page cost: it doubled the time of a batch of 256): the repeated calls run warm,
    // as a service's do; a large batch, measured once, starts from a collected heap.
    const { result, ...sample } = await observe(call, !repeated);
    if (result.length !== size) throw new Error(`${job.name} ${job.op}: ${result.length} results for ${size} items`);
    samples.push(sample);
  }
  await collections.settled();
  collections.stop();
  for (const sample of samples) {
    sample.gcMs = collections.longestBetween(sample.startMs, sample.endMs);
    sample.gapGcMs = collections.pausedBetween(sample.gap.startMs, sample.gap.endMs);
  }
  // The round whose stall is the median (the lower of two), and what its longest gap was made of.
  const typical = [...samples].sort((a, b) => a.stallMs - b.stallMs)[(samples.length - 1) >> 1];
  const fastest = samples.reduce((best, s) => (s.ns < best.ns ? s : best));
  const kept = await syncKeptTime(op.sync, size);
  return {
    syncNs,
    syncKeptNs: kept.ns,
    syncKeptGcMs: kept.gcMs,
    gcMs: median(samples.map((s) => s.gcMs)),
    issueMs: mode === 'single' ? median(samples.map((s) => s.issueNs)) / 1e6 : undefined,
    perItemNs: fastest.ns / size,
    cpuPerItemNs: fastest.cpuNs === undefined ? undefined : fastest.cpuNs / size,
    stallMs: typical.stallMs,
    gap: { ms: typical.gap.ms, gcMs: typical.gapGcMs, waitedMs: typical.gap.waitedMs },
    extraBytes: Math.max(...samples.map((s) => s.extraBytes)),
    ownBytes: size * op.outBytes + Math.min(size, DISTINCT) * op.inBytes,
  };
}

// ---------------------------------------------------------------------------------------------
// In the parent.

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options.nice !== undefined) os.setPriority(options.nice);
  const pqc = await loadPackage();
  const status = pqc.info();
  requireNative(status, false, fail);
  const sizes = options.sizes ?? (options.quick ? [256, 4096] : SIZES);
  const concurrent = options.quick ? 1000 : CONCURRENT;
  const rows = [
    ...KEMS.flatMap((name) => KEM_OPS.map((op) => ({ name, op }))),
    ...SIGS.flatMap((name) => SIG_OPS.map((op) => ({ name, op }))),
  ].filter((row) => options.only.split(',').some((text) => row.name.includes(text)));
  if (rows.length === 0) fail(`no algorithm matches --only ${options.only}`);

  const loadBefore = os.loadavg()[0];
  const pageFaultUs = firstTouchCost();
  const started = Date.now();
  const skipped = [];
  const results = [];
  for (const row of rows) {
    const outBytes = outputBytes(pqc, row);
    for (const job of [...sizes.map((size) => ({ mode: 'many', size })), { mode: 'single', size: concurrent }]) {
      const label = job.mode === 'many' ? `${row.name} ${row.op} batch of ${job.size}` : `${row.name} ${row.op} ${job.size} concurrent`;
      if (job.size * outBytes > MAX_OUTPUT_BYTES) {
        skipped.push(`${label}: its outputs alone would take ${(job.size * outBytes / 2 ** 30).toFixed(1)} GiB`);
        continue;
      }
      const t0 = Date.now();
      try {
        const result = await forkJob(SCRIPT, JOB_ENV, { ...row, ...job, backend: status.backend, quick: options.quick });
        results.push({ ...row, ...job, ...result });
      } catch (error) {
        fail(`${label}: ${oneLine(error.message)}`);
      }
      progress(`  ${label}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
  const elapsed = (Date.now() - started) / 1000;
  const report = render(results, skipped, {
    status,
    loadBefore,
    loadAfter: os.loadavg()[0],
    elapsed,
    command: process.argv.slice(2).join(' '),
    concurrent,
    nice: options.nice,
    pageFaultUs,
  });
  console.log(report);
  if (options.write) {
    writeSection(THROUGHPUT_SECTION, `${THROUGHPUT_SECTION}\n\n${report}\n`);
    progress('bench-throughput: wrote BENCHMARKS.md');
  }
}

/**
 * µs per 4 KiB page of memory used for the first time (a fresh 64 MiB ArrayBuffer, one byte
 * written per page, best of 3): what every byte of a batch's outputs costs once on top of the
 * operation, and what the sync loop, reusing the memory of the results it drops, does not pay.
 */
function firstTouchCost() {
  const bytes = 64 * 2 ** 20;
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const view = new Uint8Array(new ArrayBuffer(bytes));
    const start = now();
    for (let at = 0; at < bytes; at += PAGE) view[at] = 1;
    best = Math.min(best, Number(now() - start) / 1000 / (bytes / PAGE));
  }
  return best;
}

function outputBytes(pqc, { name, op }) {
  if (KEMS.includes(name)) {
    const kem = new pqc.Kem(name, { backend: 'native' });
    return { keygen: kem.publicKeyLength + kem.secretKeyLength, encaps: kem.ciphertextLength + kem.sharedSecretLength, decaps: kem.sharedSecretLength }[op];
  }
  const sig = new pqc.Sig(name, { backend: 'native' });
  return { keypair: sig.publicKeyLength + sig.secretKeyLength, sign: sig.signatureLength, verify: 1 }[op];
}

/** What makes a row miss, for the misses a run shows (each found while building this bench). */
const MISS_CAUSES = [
  [
    'rate',
    (run) =>
      'rate misses: a batch keeps all its results, so its outputs are memory used for the first time, which ' +
      `the kernel faults in at ${run.pageFaultUs.toFixed(1)} µs per 4 KiB page on this machine (a loop of ` +
      'sync calls drops its results and reuses their memory); "sync, results kept" is a sync loop that ' +
      'keeps them too, the like-for-like baseline. Beyond that the calling thread\'s share (the input ' +
      'checks and copies, one ArrayBuffer per secret, the result objects, and for concurrent calls a ' +
      'promise per call, with the garbage collection of them all) takes CPU the ' +
      `pool's threads would otherwise have: on ${os.availableParallelism()} cores the rate is at most ` +
      `${os.availableParallelism()} × sync ÷ (sync + the calling thread's CPU per item), the cap in the table; and ` +
      'a batch of 256 pays the pool\'s wake-up for every run (the like-for-like C ceiling, liboqs C in ' +
      '256-op runs on the pool\'s threads, is 1.69–1.94× in the section above)',
  ],
  [
    'stall',
    (run) =>
      'stall misses: each row\'s longest gap is broken down into the garbage collection in it and the ' +
      'time the calling thread waited for a core; the rest is the calling thread\'s own work, or time ' +
      'the virtual machine\'s host took its core away, which the guest cannot see (a batch of 65,536 or ' +
      'more is measured once, and can catch it). The ' +
      'collections are of the results already handed out (and, for concurrent calls, of ' +
      'the promises of the calls still pending). Every result survives, and V8 ' +
      'copies surviving young objects in one pause (a scavenge) whose length is set by its young ' +
      'generation (`--max-semi-space-size`), not by the batch: the sync loop that keeps as many results ' +
      'has pauses as long ("longest GC pause", in brackets). The calling thread\'s own share is handed out ' +
      'one part per turn of the event loop, and the pool\'s workers give way to it every 250 µs (with ' +
      'every core running a worker, it waited up to a whole time slice, ~12 ms, for one); on a machine ' +
      'whose cores are busy with other work it still waits for a core between its turns. At a million ' +
      'items each array of a million entries (the checked copy of an input array, each output\'s ' +
      'items, the results) is 8 MB that V8 makes in one piece, and the kernel faults it in: 2,048 ' +
      `pages at ${run.pageFaultUs.toFixed(1)} µs, ${((2048 * run.pageFaultUs) / 1000).toFixed(0)} ms in one turn on this machine, ` +
      'any code\'s array of a million included (found in a CPU profile of a million ML-DSA-44 ' +
      'verifications, whose gaps hold no collection)',
  ],
  [
    'memory',
    () =>
      'memory misses: each secret item lives in an ArrayBuffer of its own (the secret-memory rule), and ' +
      'each item has a view and a result object: about 300 bytes of V8 objects an item beside a ' +
      '32-byte shared secret, which outweighs its own bytes when the outputs are small (decapsulation)',
  ],
];

function render(results, skipped, run) {
  const mark = (ok) => (ok ? '✓' : '✗');
  const us = (ns) => (ns / 1000 < 10 ? (ns / 1000).toFixed(2) : (ns / 1000).toFixed(1));
  const lines = results.map((r) => {
    const rate = r.syncNs / r.perItemNs;
    const rateTarget = r.mode === 'many' ? TARGETS.batchRate : TARGETS.coalescedRate;
    const memory = r.extraBytes / r.ownBytes;
    r.misses = [rate < rateTarget && 'rate', r.stallMs > TARGETS.stallMs && 'stall', r.mode === 'many' && memory > TARGETS.memory && 'memory'].filter(Boolean);
    const cores = os.availableParallelism();
    const calling = r.cpuPerItemNs === undefined ? '—' : `${us(r.cpuPerItemNs)} (${((cores * r.syncNs) / (r.syncNs + r.cpuPerItemNs)).toFixed(2)}×)`;
    const waited = r.gap.waitedMs === undefined ? '—' : r.gap.waitedMs.toFixed(1);
    const gap = `${r.gap.ms.toFixed(1)} (${r.gap.gcMs.toFixed(1)}, ${waited})`;
    return `| ${r.name} | ${r.op} | ${r.mode === 'many' ? `batch of ${r.size.toLocaleString('en-US')}` : `${r.size.toLocaleString('en-US')} concurrent …Async, made in ${r.issueMs.toFixed(1)} ms`} | ${us(r.syncNs)} | ${us(r.syncKeptNs)} | ${us(r.perItemNs)} | ${rate.toFixed(2)} ${mark(rate >= rateTarget)} | ${(r.syncKeptNs / r.perItemNs).toFixed(2)} | ${calling} | ${r.stallMs.toFixed(1)} ${mark(r.stallMs <= TARGETS.stallMs)} | ${gap} | ${r.gcMs.toFixed(1)} (${r.syncKeptGcMs.toFixed(1)}) | ${r.mode === 'many' ? `${(r.extraBytes / 2 ** 20).toFixed(0)} MiB, ${memory.toFixed(2)} ${mark(memory <= TARGETS.memory)}` : '—'} |`;
  });
  const count = (what) => results.filter((r) => !r.misses.includes(what)).length;
  const batches = results.filter((r) => r.mode === 'many');
  return [
    `Targets: longest stall ≤ ${TARGETS.stallMs} ms; batch rate ≥ ${TARGETS.batchRate}× and ${run.concurrent.toLocaleString('en-US')} concurrent \`…Async\` calls ≥ ${TARGETS.coalescedRate}× the sync rate; a batch's peak extra memory ≤ ${TARGETS.memory}× its own inputs and outputs.`,
    '',
    `| Algorithm | Operation | Call | sync, µs | sync, results kept, µs | per item, µs | rate ÷ sync | rate ÷ sync with results kept | calling thread's CPU per item, µs (rate cap on ${os.availableParallelism()} cores) | longest stall, ms | that round's longest gap, ms (of it: GC, waiting for a core) | longest GC pause, ms (sync loop keeping results) | peak extra memory, ÷ own bytes |`,
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...lines,
    '',
    ...(run.loadBefore > 2 * os.availableParallelism()
      ? [`- ⚠ the machine was busy (load average ${run.loadBefore.toFixed(1)} on ${os.availableParallelism()} cores): the sync times, ratios and stalls here are the machine's, not the package's; rerun on an idle machine to judge the targets`]
      : []),
    `- stall ≤ ${TARGETS.stallMs} ms: ${count('stall')} of ${results.length} rows; rate target: ${count('rate')} of ${results.length}; memory ≤ ${TARGETS.memory}×: ${batches.filter((r) => !r.misses.includes('memory')).length} of ${batches.length} batches`,
    ...skipped.map((line) => `- not run: ${line} (over ${MAX_OUTPUT_BYTES / 2 ** 30} GiB)`),
    ...MISS_CAUSES.filter(([what]) => results.some((r) => r.misses.includes(what))).map(([, why]) => `- ${why(run)}`),
    `- liboqs ${run.status.liboqs.version} (${run.status.liboqs.path}); ${os.availableParallelism()} cores, libuv pool of ${Number(process.env.UV_THREADPOOL_SIZE) || 4} threads; Node ${process.version}`,
    '- longest stall: the largest gap between turns of the event loop while the call ran (wall time, the 1 ms timer interval included), of the round with the median stall; on a machine whose cores are busy with other work it includes the time the calling thread waited for one. For the concurrent calls, from the end of the loop that makes them (the caller\'s own stretch, "made in", median of the rounds; it includes each call\'s input checks) to the last result',
    "- that round's longest gap: the longest gap between ticks of the 1 ms memory sampler (close to the stall, measured apart from it), the garbage-collection pauses within it (a PerformanceObserver's entries) and the time the calling thread spent waiting for a core in it (Linux's schedstat)",
    "- calling thread's CPU per item: the calling thread's CPU time during the call (Linux's schedstat), of the fastest round, ÷ items",
    `- sync, results kept: one loop of as many sync calls as the batch has items (at most ${KEPT_LIMIT.toLocaleString('en-US')}), each result kept until the loop ends, and the longest garbage collection during it; fresh memory: ${run.pageFaultUs.toFixed(1)} µs per 4 KiB page (first write to each page of a new 64 MiB ArrayBuffer)`,
    `- inputs cycle through ${DISTINCT} distinct values; batches of up to 4,096 items and the concurrent calls: warmed up for ${WARM_UP_MS} ms, then best time and median stall of at least 7 rounds and ${ROUNDS_MS} ms of them, with no forced collection between them; larger batches one round, after a full collection; each measurement in a fresh child process`,
    `- load average ${run.loadBefore.toFixed(2)} before, ${run.loadAfter.toFixed(2)} after; ${run.elapsed.toFixed(0)} s in all${run.nice !== undefined ? `; priority ${run.nice}` : ''}; ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}: \`npm run bench:throughput${run.command ? ` -- ${run.command}` : ''}\``,
  ].join('\n');
}

// Last, once every constant above is initialised.
if (process.env[JOB_ENV]) {
  const job = JSON.parse(process.env[JOB_ENV]);
  await answerParent(job, loadPackage, { many: measureJob, single: measureJob });
} else {
  await main();
}
