#!/usr/bin/env node
// npm run bench [-- --quick] [-- --write] [-- --rounds N] [-- --only ML-KEM-768] [-- --threads N]
//
// Time per operation of the package's native backend called three ways (sync, async one at a
// time, batch across the libuv pool), beside liboqs's own C speed measured in the same run by
// scripts/bench-harness.c on the very liboqs file the package loaded, and beside the
// WebAssembly backend and, for ML-KEM-768, @noble/post-quantum. The ratios are the point:
// absolute times depend on the machine and on whatever else it is running.
//
// The rows, the package's columns and the timing are the package's own (dist/bench/, also run
// by `x0tta6bl4-pqc bench`); this script adds what needs the repository: the C harness columns,
// the noble column, and BENCHMARKS.md.
//
// Each measurement is warmed up and then repeated in alternating rounds (C, sync, …Into, async,
// batch, C on N threads, C in batch-shaped runs, wasm, noble; again …); the table shows the
// best (or median) round.
// The markdown table goes to stdout, progress to stderr; --write also rewrites BENCHMARKS.md.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dist, failer, oneLine, progress } from './bench-support.mjs';
import { BENCHMARKS_FILE, writeHead } from './benchmarks-file.mjs';
import { compileC } from './compile-c.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const SYNC_TARGET = 1.1; // native sync time ÷ C time, at most
const BATCH_TARGET = 1.8; // batch rate ÷ sync rate, at least

const USAGE = `usage: npm run bench [-- options]
  --quick        fewer, shorter rounds (about 20 s instead of a few minutes)
  --write        also rewrite BENCHMARKS.md with the table and the machine
  --rounds N     alternating rounds per measurement (default 11, quick 3)
  --batch N      items per batch call (default 256)
  --stat min|median  how rounds are summarised (default min: the machine is shared, and
                 interference only ever adds time)
  --verbose      print every round's time to stderr
  --only TEXT    only the algorithms whose name contains TEXT (e.g. ML-KEM-768)
  --threads N    set UV_THREADPOOL_SIZE to N for this run (default: the environment's, else 4)
  --nice N       run at this scheduling priority (the C harness too); a negative N, which
                 needs root, keeps other work on a shared machine from skewing the ratios
Load liboqs as the package does, e.g. LD_LIBRARY_PATH=/opt/liboqs/0.16.0/lib npm run bench.`;

function parseArgs(argv) {
  const options = {
    quick: false,
    write: false,
    verbose: false,
    rounds: undefined,
    stat: 'min',
    batch: undefined,
    only: '',
    threads: undefined,
    nice: undefined,
  };
  const number = (flag, value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) fail(`${flag} needs a positive integer, got ${value ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--quick':
        options.quick = true;
        break;
      case '--write':
        options.write = true;
        break;
      case '--verbose':
        options.verbose = true;
        break;
      case '--stat':
        options.stat = value();
        if (options.stat !== 'min' && options.stat !== 'median') fail(`--stat takes min or median, got ${options.stat}`);
        break;
      case '--rounds':
        options.rounds = number(flag, value());
        break;
      case '--batch':
        options.batch = number(flag, value());
        break;
      case '--only':
        options.only = value() ?? '';
        break;
      case '--threads':
        options.threads = number(flag, value());
        break;
      case '--nice': {
        const text = value();
        options.nice = Number(text);
        if (!Number.isInteger(options.nice) || options.nice < -20 || options.nice > 19) {
          fail(`--nice needs an integer from -20 to 19, got ${text ?? 'nothing'}`);
        }
        break;
      }
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        fail(`unknown option ${argv[i]}\n${USAGE}`);
    }
  }
  return options;
}

const fail = failer('bench');

const options = parseArgs(process.argv.slice(2));
// The pool size must be set before the package (which reads it) and the pool start; the priority
// before the pool's threads exist, since Linux gives each thread its own and new ones inherit it.
if (options.threads !== undefined) process.env.UV_THREADPOOL_SIZE = String(options.threads);
if (options.nice !== undefined) {
  try {
    os.setPriority(options.nice);
  } catch (error) {
    fail(`cannot set priority ${options.nice}: ${error.message}`);
  }
}
let pqc;
try {
  pqc = Object.assign({}, ...(await Promise.all(['index.js', 'bench/timing.js', 'bench/primitive-rows.js', 'bench/table.js'].map(dist))));
} catch (error) {
  fail(`cannot load dist/ (${error.message.split('\n')[0]}); build first: npm run build`);
}
const { Kem, info, MESSAGE_LENGTH, PRIMITIVE_ROWS, PRIMITIVE_SETTINGS, packageTimers, wasmTimer } = pqc;
const { markdownTable, measureAlternating, median, micros, ratioFigure, spread, summariseAll, syncTimer } = pqc;

const defaults = PRIMITIVE_SETTINGS[options.quick ? 'quick' : 'full'];
const settings = { ...defaults, rounds: options.rounds ?? defaults.rounds, batch: options.batch ?? defaults.batch };

// ---------------------------------------------------------------------------------------------
// What is available in this run, and why not when it is not.

const status = info();
const poolSize = Math.max(1, Number(process.env.UV_THREADPOOL_SIZE) || 4);
const cores = os.availableParallelism();
// Threads that batch work actually runs on at once.
const batchThreads = Math.min(poolSize, cores);

const skipped = []; // [what, why]
let nativeReason;
if (status.backend !== 'native') {
  nativeReason = status.nativeUnavailable
    ? `${status.nativeUnavailable.code}: ${oneLine(status.nativeUnavailable.message)}`
    : `X0TTA6BL4_PQC_BACKEND=${process.env.X0TTA6BL4_PQC_BACKEND} selects the ${status.backend} backend`;
  skipped.push(['the liboqs C, native sync, native async and native batch columns of every row', nativeReason]);
}

let harness;
if (!nativeReason) {
  try {
    harness = await startHarness(compileC('bench-harness', ['-lpthread']));
  } catch (error) {
    skipped.push(['the liboqs C columns of every row', oneLine(error.message)]);
  }
}


/**
 * The harness runs as one child for the whole bench, taking one run per line on stdin: every
 * spawn forks this process, and the copy-on-write faults that follow a fork (about one per
 * key pair allocated, ~10 µs each on a VM) would land on the next measurement of the package.
 */
async function startHarness(binary) {
  const child = spawn(binary, [status.liboqs.path, '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  process.on('exit', () => child.kill());
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text) => (stderr += text));
  const waiting = [];
  let exited;
  const lines = readline.createInterface({ input: child.stdout });
  lines.on('line', (line) => waiting.shift()?.resolve(line));
  child.on('error', (error) => (exited = error));
  child.on('close', (code) => {
    exited ??= new Error(`bench-harness exited (${code}): ${oneLine(stderr)}`);
    for (const request of waiting.splice(0)) request.reject(exited);
  });

  /** ns per op: `iterations` calls to liboqs on `threads` threads, after `warmupMs` of warm-up. */
  const run = (algorithm, op, iterations, threads = 1, warmupMs = settings.warmupMs) =>
    new Promise((resolve, reject) => {
      if (exited) return reject(exited);
      const command = `${algorithm} ${op} ${iterations} ${threads} ${warmupMs}`;
      waiting.push({
        resolve: (line) => {
          try {
            resolve(parse(command, line));
          } catch (error) {
            reject(error);
          }
        },
        reject,
      });
      child.stdin.write(`${command}\n`);
    });

  function parse(command, line) {
    const match = /ns_per_op=([\d.]+) .*version=(\S+)/.exec(line);
    if (!match) throw new Error(`bench-harness "${command}": ${line.replace(/^error=/, '')}`);
    if (match[2] !== status.liboqs.version) {
      throw new Error(`bench-harness loaded liboqs ${match[2]}, the package ${status.liboqs.version}`);
    }
    return Number(match[1]);
  }

  await run('ML-KEM-512', 'encaps', 1); // fails here, not mid-run, if the harness cannot work
  // End of input ends the harness.
  return { run, close: () => child.stdin.end() };
}

let wasmReason;
try {
  const probe = new Kem('ML-KEM-512', { backend: 'wasm' });
  await probe.ready();
} catch (error) {
  wasmReason = `${error.code ?? 'error'}: ${oneLine(error.message)}`;
  skipped.push(['the wasm column of every row', wasmReason]);
}

let noble;
try {
  noble = (await import('@noble/post-quantum/ml-kem.js')).ml_kem768;
} catch (error) {
  skipped.push(['the noble column (ML-KEM-768)', `@noble/post-quantum is not installed: ${oneLine(error.message)}`]);
}

// ---------------------------------------------------------------------------------------------
// The columns that need the repository: liboqs C (the harness) and @noble/post-quantum. The
// package's own columns are dist/bench/primitive-rows.js's.

function harnessTimer(algorithm, op, threads) {
  return {
    items: 1,
    async measure(calls) {
      return harness.run(algorithm, op, calls, threads);
    },
    // One short run (it warms up itself) instead of the doubling of calibrate().
    async calibrate() {
      return harness.run(algorithm, op, 16 * threads, threads);
    },
  };
}

/**
 * liboqs C in the shape of a batch: each call is one run of `items` operations on `threads`
 * threads that the harness keeps between runs and wakes for each, as libuv's pool is woken for
 * a batch; they take the operations one at a time, as a batch's workers take its items, and the
 * run is timed from the wake-up to the last operation. Where an idle core takes a millisecond or
 * more to come back (a shared VM), such short runs scale worse than one long run: this is the
 * like-for-like ceiling of the batch.
 */
function harnessBurstTimer(algorithm, op, threads, items) {
  return {
    items,
    async measure(calls) {
      let total = 0;
      for (let i = 0; i < calls; i++) total += await harness.run(algorithm, op, items, threads, 0);
      return total / calls;
    },
  };
}

function nobleTimer(op) {
  const { publicKey, secretKey } = noble.keygen();
  const { cipherText } = noble.encapsulate(publicKey);
  return syncTimer(
    {
      keygen: () => noble.keygen(),
      encaps: () => noble.encapsulate(publicKey),
      decaps: () => noble.decapsulate(cipherText, secretKey),
    }[op],
  );
}

/** Columns in the order they run: C, the package's (sync, …Into, async, batch), C on N threads, C in batch-shaped runs, wasm, noble. */
async function rowTimers(row) {
  const timers = [];
  if (!nativeReason) {
    if (harness) timers.push(['c', harnessTimer(row.algorithm, row.operation, 1)]);
    timers.push(...(await packageTimers(row, 'native', settings.batch)));
    if (harness) {
      timers.push(
        ['c-threads', harnessTimer(row.algorithm, row.operation, batchThreads)],
        ['c-bursts', harnessBurstTimer(row.algorithm, row.operation, batchThreads, settings.batch)],
      );
    }
  }
  if (!wasmReason) timers.push(['wasm', wasmTimer(row)]);
  if (noble && row.algorithm === 'ML-KEM-768') timers.push(['noble', nobleTimer(row.operation)]);
  return timers;
}

// ---------------------------------------------------------------------------------------------
// Run.

const rows = PRIMITIVE_ROWS.filter((row) => row.algorithm.includes(options.only)).map((row) => ({ ...row, name: row.algorithm, op: row.operation }));
if (rows.length === 0) fail(`no algorithm matches --only ${options.only}`);

const loadBefore = os.loadavg()[0];
const started = Date.now();
progress(
  `bench: ${rows.length} rows, ${settings.rounds} rounds, ~${settings.targetMs} ms per measurement; ` +
    (status.liboqs ? `liboqs ${status.liboqs.version} at ${status.liboqs.path}` : 'no native backend'),
);
for (const row of rows) {
  const t0 = Date.now();
  try {
    row.samples = await measureAlternating(await rowTimers(row), settings, { weight: row.weight });
  } catch (error) {
    fail(`${row.name} ${row.op}: ${error.message}`);
  }
  row.time = summariseAll(row.samples, options.stat);
  row.spread = Math.max(...['c', 'sync'].filter((k) => row.samples.has(k)).map((k) => spread(row.samples.get(k))), 0);
  progress(`  ${row.name} ${row.op}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (options.verbose) {
    for (const [key, values] of row.samples) progress(`    ${key.padEnd(9)} ${values.map(micros).join(' ')} µs`);
  }
}
harness?.close();
const elapsed = (Date.now() - started) / 1000;
const loadAfter = os.loadavg()[0];

// ---------------------------------------------------------------------------------------------
// Report.

function ratio(a, b, target) {
  if (a === undefined || b === undefined) return '—';
  const value = a / b;
  let text = ratioFigure(value);
  if (!target) return text;
  const meets = (v) => (target.max !== undefined ? v <= target.max : v >= target.min);
  const ok = meets(value);
  // A miss that rounds onto the target (1.104 shown as 1.10) gets the digits that show it.
  for (let digits = 3; ok !== meets(Number(text)) && digits <= 6; digits++) text = value.toFixed(digits);
  return `${text} ${ok ? '✓' : '✗'}`;
}

const nativeCell = (row, key) => (nativeReason ? 'skipped' : micros(row.time[key]));

const timesTable = markdownTable(
  ['Algorithm', 'Operation', 'liboqs C', `liboqs C, ${batchThreads} threads`, `liboqs C, ${batchThreads} threads, ${settings.batch}-op runs`, 'native sync', 'native sync, …Into', 'native async', 'native batch', 'wasm', 'noble'],
  rows.map((r) => [
    r.name,
    r.op,
    nativeReason ? 'skipped' : micros(r.time.c),
    nativeReason ? 'skipped' : micros(r.time['c-threads']),
    nativeReason ? 'skipped' : micros(r.time['c-bursts']),
    nativeCell(r, 'sync'),
    r.time.into === undefined ? '—' : nativeCell(r, 'into'),
    nativeCell(r, 'async'),
    nativeCell(r, 'batch'),
    micros(r.time.wasm),
    micros(r.time.noble),
  ]),
);

const ratiosTable = markdownTable(
  [
    'Algorithm',
    'Operation',
    `sync ÷ C (≤ ${SYNC_TARGET.toFixed(2)})`,
    '…Into ÷ C',
    'async ÷ C',
    `batch rate ÷ sync rate (≥ ${BATCH_TARGET.toFixed(2)})`,
    `C ${batchThreads} threads ÷ C 1 thread`,
    `C ${batchThreads} threads in ${settings.batch}-op runs ÷ C 1 thread`,
    `batch ÷ C ${batchThreads} threads in ${settings.batch}-op runs`,
    'wasm ÷ C',
    'noble ÷ C',
    'round spread',
  ],
  rows.map((r) => [
    r.name,
    r.op,
    ratio(r.time.sync, r.time.c, { max: SYNC_TARGET }),
    ratio(r.time.into, r.time.c),
    ratio(r.time.async, r.time.c),
    ratio(r.time.sync, r.time.batch, { min: BATCH_TARGET }),
    ratio(r.time.c, r.time['c-threads']),
    ratio(r.time.c, r.time['c-bursts']),
    ratio(r.time.batch, r.time['c-bursts']),
    ratio(r.time.wasm, r.time.c),
    ratio(r.time.noble, r.time.c),
    r.samples.has('sync') ? `${(r.spread * 100).toFixed(0)}%` : '—',
  ]),
);

function verdict() {
  if (nativeReason) return [];
  const lines = [];
  const sync = rows.filter((r) => r.time.c !== undefined);
  if (sync.length) {
    const met = sync.filter((r) => r.time.sync / r.time.c <= SYNC_TARGET).length;
    lines.push(`- native sync ≤ ${SYNC_TARGET.toFixed(2)}× liboqs C: ${met} of ${sync.length} rows`);
  }
  const met = rows.filter((r) => r.time.sync / r.time.batch >= BATCH_TARGET).length;
  lines.push(`- batch rate ≥ ${BATCH_TARGET.toFixed(2)}× sync rate on ${batchThreads} threads: ${met} of ${rows.length} rows`);
  const scaling = rows.filter((r) => r.time['c-threads'] !== undefined).map((r) => r.time.c / r.time['c-threads']);
  if (batchThreads > 1 && scaling.length && median(scaling) < 0.8 * batchThreads) {
    lines.push(
      `- ⚠ the machine was busy: liboqs C itself ran only ${median(scaling).toFixed(2)}× faster on ${batchThreads} threads ` +
        `(median over the rows; ${batchThreads}× when the cores are free), so the batch ratios understate the package`,
    );
  }
  return lines;
}

function cpuModel() {
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1];
    const flags = /^flags\s*:\s*(.+)$/m.exec(text)?.[1].split(' ') ?? [];
    const simd = ['avx2', 'avx512f'].filter((f) => flags.includes(f)).join(', ');
    if (model) return simd ? `${model} (${simd})` : model;
  } catch {}
  return os.cpus()[0]?.model ?? 'unknown';
}

const machine = [
  `- CPU: ${cpuModel()}, ${cores} cores available to Node (os.availableParallelism())`,
  `- libuv pool: ${poolSize} threads (UV_THREADPOOL_SIZE${process.env.UV_THREADPOOL_SIZE ? `=${process.env.UV_THREADPOOL_SIZE}` : ' unset, default 4'}); ` +
    `batches run on ${batchThreads} threads at once`,
  `- Node ${process.version} on ${os.type()} ${os.release()} ${os.arch()}`,
  `- liboqs: ${status.liboqs ? `${status.liboqs.version}, ${status.liboqs.path}` : 'not loaded (see above)'}`,
  `- wasm: ${wasmReason ? `unavailable (${wasmReason})` : `@oqs/liboqs-js ${wasmVersion()}`}; noble: ${noble ? `@noble/post-quantum ${nobleVersion()}` : 'not installed'}`,
  `- ${settings.rounds} rounds of ~${settings.targetMs} ms per measurement (×3 for sign), batch ${settings.batch} items; ` +
    `load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after; ${elapsed.toFixed(0)} s in all` +
    (options.nice !== undefined ? `; priority ${options.nice}` : ''),
  `- ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}: ` +
    `\`${process.env.LD_LIBRARY_PATH ? `LD_LIBRARY_PATH=${process.env.LD_LIBRARY_PATH} ` : ''}` +
    `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\``,
];

function wasmVersion() {
  return packageVersion('@oqs/liboqs-js');
}

function nobleVersion() {
  return packageVersion('@noble/post-quantum');
}

function packageVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

function statName() {
  return options.stat === 'min' ? 'best' : 'median';
}

const skippedLines = skipped.map(([what, why]) => `- skipped ${what}: ${why}`);

// Every ratio needs liboqs C or the native backend.
const ratios = nativeReason ? [] : ['Ratios (same run):', '', ratiosTable, ''];

const report = [
  `Time per operation, µs (${statName()} of ${settings.rounds} rounds):`,
  '',
  timesTable,
  '',
  ...ratios,
  ...verdict(),
  ...skippedLines,
  ...machine,
].join('\n');

console.log(report);

if (options.write) {
  writeHead(benchmarksMarkdown());
  progress(`bench: wrote ${path.relative(process.cwd(), BENCHMARKS_FILE) || BENCHMARKS_FILE}`);
}

// `npm run bench` is this script: the hybrids follow, with the options that apply to them, then
// the WebAssembly backend's worker threads.
if (!options.only) {
  const shared = [
    ...(options.quick ? ['--quick'] : []),
    ...(options.write ? ['--write'] : []),
  ];
  const rounds = options.rounds !== undefined ? ['--rounds', String(options.rounds)] : [];
  for (const [script, args] of [
    ['bench-hybrid.mjs', [...shared, ...rounds, '--stat', options.stat]],
    ['bench-wasm.mjs', shared],
  ]) {
    const child = spawnSync(process.execPath, [path.join(root, 'scripts', script), ...args], { stdio: 'inherit' });
    if (child.status !== 0) process.exitCode = child.status ?? 1;
  }
}

function benchmarksMarkdown() {
  return `# Benchmarks

Generated by \`npm run bench -- --write\` (scripts/bench.mjs); do not edit by hand.

## What is measured

Time per operation of the native backend (the system liboqs through the N-API addon), called
three ways, beside liboqs's own C speed measured in the same run:

- **liboqs C**: scripts/bench-harness.c, compiled with \`cc -O2\` at run time, \`dlopen\`s the
  very liboqs file the package loaded (\`info().liboqs.path\`) and calls \`OQS_KEM_keypair\` /
  \`OQS_KEM_encaps\` / \`OQS_KEM_decaps\` / \`OQS_SIG_keypair\` / \`OQS_SIG_sign\` /
  \`OQS_SIG_verify\` in a loop on reused buffers, on one thread, and again on ${batchThreads} threads. It
  runs as one child process for the whole bench, taking its runs on stdin: each spawn would
  fork the Node process, and the copy-on-write page faults after a fork would be charged to
  the package's next measurement.
- **native sync**: \`kem.generateKeyPair()\`, \`kem.encapsulate(pk)\`, \`kem.decapsulate(ct, sk)\`,
  \`sig.generateKeyPair()\`, \`sig.sign(msg, sk)\`, \`sig.verify(msg, sig, pk)\`.
- **native sync, …Into**: \`kem.generateKeyPairInto(pair)\`, \`kem.encapsulateInto(pk, out)\`,
  \`kem.decapsulateInto(ct, sk, ss)\`: the same calls writing into reused buffers, as the C
  harness does (KEMs only).
- **native async**: the \`…Async\` methods, awaited one at a time.
- **native batch**: \`generateKeyPairMany(${settings.batch})\`, \`encapsulateMany(pks)\`,
  \`decapsulateMany(cts, sk)\`, \`signMany(msgs, sk)\`, \`verifyMany(msgs, sigs, pk)\` with
  ${settings.batch} items, wall time ÷ items.
- **wasm**: the package's WebAssembly backend (\`{ backend: 'wasm' }\`), sync calls after \`ready()\`.
- **noble**: \`ml_kem768\` from @noble/post-quantum (pure JavaScript), ML-KEM-768 only.

Messages are ${MESSAGE_LENGTH} bytes. Each measurement is warmed up, then the implementations
run in alternating rounds (C, sync, …Into, async, batch, C on ${batchThreads} threads, C in batch-shaped runs,
wasm, noble, and again)
and the table shows the ${statName()} of ${settings.rounds} rounds. Targets: native sync ≤ ${SYNC_TARGET.toFixed(2)}× the C time;
batch rate ≥ ${BATCH_TARGET.toFixed(2)}× the sync rate. "C ${batchThreads} threads ÷ C 1 thread" is
the same harness on ${batchThreads} threads in one long run: how far ${batchThreads} threads can speed liboqs
itself up on this machine at that moment. "C ${batchThreads} threads in ${settings.batch}-op runs" is the
harness in the shape of a batch: runs of ${settings.batch} operations on ${batchThreads} threads kept between runs
and woken for each (as libuv's pool is), which take the operations one at a time; timed from
the wake-up to the last operation — the like-for-like ceiling of the batch ratio. "batch ÷ C …
runs" compares the two directly, time per item. "Round spread" is the larger
(max − min) ÷ median of the C and sync rounds: a large one means the machine was busy.
Signing with ML-DSA repeats a random number of times per signature, so sign times vary more.
Key generation, encapsulation and signing draw randomness through liboqs's RNG (OpenSSL's
\`RAND_bytes\` in most builds), which scales less well across threads than the rest of
liboqs: the C column on ${batchThreads} threads shows how far those operations can go in a batch.

## Results

Time per operation, µs:

${timesTable}

${nativeReason ? 'No ratios: every one needs liboqs C or the native backend.' : `Ratios:\n\n${ratiosTable}`}

${[...verdict(), ...skippedLines].join('\n')}

## Machine

${machine.join('\n')}

## Running it

\`\`\`sh
npm run build                                           # addon and dist/
LD_LIBRARY_PATH=/opt/liboqs/0.16.0/lib npm run bench    # a few minutes; add -- --quick for ~20 s
npm run bench -- --write                                # also rewrite this file
npm run bench -- --only ML-KEM-768 --threads 2          # one algorithm, a 2-thread pool, no hybrids
npm run bench -- --nice -10                             # as root: less skew on a shared machine
npm run bench:hybrid                                    # the hybrids alone
npm run bench:wasm                                      # the WebAssembly backend's worker threads alone
npm run bench:instructions -- --write                   # instructions per operation (valgrind), their section below
npx x0tta6bl4-pqc bench --quick                         # the package's own columns and ratios, from the installed package
\`\`\`

\`npm run bench\` measures the hybrids too (scripts/bench-hybrid.mjs, after this table, with
\`--quick\`, \`--rounds\`, \`--stat\` and \`--write\` passed on; not with \`--only\`), and the
WebAssembly backend's async and batch calls (scripts/bench-wasm.mjs, \`--quick\` and \`--write\`
passed on); \`--write\` puts them in the sections below.

The rows, the package's columns and the timing are \`lib/bench/\` (shipped in the package as
\`dist/bench/\`): \`x0tta6bl4-pqc bench\` runs the same code without the liboqs C and noble columns.

Needs a C compiler (\`cc\`, or \`CC=…\`) for the liboqs C column. Without a loadable liboqs the
native and C columns are skipped (the reason is printed) and the wasm and noble rows still run.
`;
}
