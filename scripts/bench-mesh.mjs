#!/usr/bin/env node
// node scripts/bench-mesh.mjs [--quick] [--rounds N] [--write] [--allow-wasm]   (npm run bench:mesh)
//
// The mesh layer (lib/mesh) measured against its own parts, in one run; the ratios are the point,
// absolute times depend on the machine and on whatever else it is running:
//
// 1. Handshake: complete mutual handshakes, both sides in this process, driven through the state
//    machine (InitiatorHandshake, Responder) without TCP, beside the sum of the package's primitive
//    operations one handshake performs, through the same async calls it uses (X-Wing or
//    X25519MLKEM768 keygen, encapsulate, decapsulate; 2× ML-DSA-65 sign and verify over messages
//    shaped like the handshake's signed data), in alternating blocks. Targets: mean handshake ÷ sum
//    of primitives ≤ 1.25, p95 < 1 ms.
// 2. Handshake rate over loopback TCP: two PQMeshSecurity nodes, 64 dials in flight, each channel
//    closed once open; once with UV_THREADPOOL_SIZE=1 and once with the default pool, each in a
//    child process of its own (the pool size must be set before Node starts). Target: default ÷ 1
//    thread ≥ 1.6.
// 3. Channel throughput: encryptForPeer on one node, decryptFromPeer on the other (no socket in
//    the loop), beside bare node:crypto AES-256-GCM on the same record sizes. Target: ≥ 0.8 of
//    bare AES-GCM for 64 KiB records.
// 4. Growth: full meshes of N nodes over loopback TCP (every pair connected); time and memory per
//    channel. Small meshes are built several times over so that every size sets up about the same
//    number of channels (6 channels are too few to weigh), and idle nodes make every size's process
//    hold as many nodes. Target: largest N ÷ smallest N ≤ 1.2.
//
// The handshake and channel measurements are the package's own (dist/bench/handshake.js and
// channel.js, also run by `x0tta6bl4-pqc bench`); the TCP and growth runs are this script's.
// Every measurement runs in a child process of this script (started with --expose-gc, the mode in
// an environment variable), so that each starts from a fresh heap and pool. Markdown goes to
// stdout, progress to stderr; --write puts the tables in the "## Mesh" section of BENCHMARKS.md and
// leaves the other sections alone. Exits 1 when it cannot measure, not when a target is missed.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { answerParent, dist, failer, forkJob, progress, requireNative } from './bench-support.mjs';
import * as benchmarksFile from './benchmarks-file.mjs';
const { MESH_SECTION } = benchmarksFile;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = fileURLToPath(import.meta.url);
const JOB_ENV = 'X0TTA6BL4_BENCH_MESH_JOB';

const TARGETS = {
  handshakeOverPrimitives: 1.25, // mean handshake ÷ sum of its primitives, at most
  handshakeP95Ms: 1, // p95 of one handshake, below
  poolScaling: 1.6, // TCP handshakes/s with the default pool ÷ with one thread, at least
  channelVsAesGcm: 0.8, // channel MB/s ÷ bare AES-256-GCM MB/s for 64 KiB records, at least
  growth: 1.2, // per-channel time and memory, largest mesh ÷ smallest, at most
};

const USAGE = `usage: node scripts/bench-mesh.mjs [options]   (npm run bench:mesh -- [options])
  --quick            fewer, shorter runs (under a minute): 300 handshakes, TCP runs of 256,
                     meshes of 4, 8 and 16 nodes
  --write            also write the "${MESH_SECTION}" section of BENCHMARKS.md (only that section)
  --rounds N         alternating rounds: handshake blocks and channel rounds (default 10 and 11,
                     quick 4 and 3) and TCP runs per pool size (default 5, quick 1)
  --handshakes N     in-process handshakes, and primitive sets (default 2000, quick 300)
  --tcp-total N      handshakes per TCP run (default 1024, quick 256)
  --concurrency N    TCP dials in flight (default 64)
  --sizes A,B,C      mesh sizes (default 4,16,64; quick 4,8,16)
  --allow-wasm       measure the WebAssembly backend when the native one is not in use
                     (the results are labelled wasm)
Load liboqs as the package does, e.g. X0TTA6BL4_LIBOQS_PATH=/opt/liboqs/0.16.0/lib/liboqs.so.`;

const fail = failer('bench-mesh');

function parseArgs(argv) {
  const options = {
    quick: false,
    write: false,
    allowWasm: false,
    rounds: undefined,
    handshakes: undefined,
    tcpTotal: undefined,
    concurrency: 64,
    sizes: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i];
    const number = () => {
      const text = value();
      const n = Number(text);
      if (!Number.isInteger(n) || n < 1) fail(`${flag} needs a positive integer, got ${text ?? 'nothing'}`);
      return n;
    };
    if (flag === '--quick') options.quick = true;
    else if (flag === '--write') options.write = true;
    else if (flag === '--allow-wasm') options.allowWasm = true;
    else if (flag === '--rounds') options.rounds = number();
    else if (flag === '--handshakes') options.handshakes = number();
    else if (flag === '--tcp-total') options.tcpTotal = number();
    else if (flag === '--concurrency') options.concurrency = number();
    else if (flag === '--sizes') {
      const text = value() ?? '';
      options.sizes = text.split(',').map(Number);
      if (options.sizes.length < 2 || options.sizes.some((n) => !Number.isInteger(n) || n < 2)) {
        fail(`--sizes needs two or more mesh sizes of at least 2 nodes, e.g. 4,16,64; got ${text}`);
      }
      options.sizes.sort((a, b) => a - b);
    } else if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown option ${argv[i]}\n${USAGE}`);
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// Shared by the parent and the children.

async function loadPackage() {
  try {
    const modules = await Promise.all(['index.js', 'bench/bench-nodes.js', 'bench/handshake.js', 'bench/channel.js', 'bench/timing.js'].map(dist));
    return Object.assign({}, ...modules);
  } catch (error) {
    return fail(`cannot load dist/ (${error.message.split('\n')[0]}); build first: npm run build:ts`);
  }
}

const now = () => performance.now();
const gc = typeof globalThis.gc === 'function' ? () => globalThis.gc() : () => undefined;
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

async function failureCounts(metrics) {
  const counted = await metrics.handshakeFailure.get();
  const out = {};
  for (const value of counted.values) if (value.value > 0) out[value.labels.reason ?? '?'] = (out[value.labels.reason ?? '?'] ?? 0) + value.value;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Child 1: the handshake through the state machine, and its primitives (the package's).

async function handshakeJob(job) {
  const pkg = await loadPackage();
  return pkg.measureHandshake(job, (suite) =>
    progress(`  handshake: ${suite}, ${job.handshakes} handshakes and primitive sets in ${job.rounds} alternating blocks`),
  );
}

// ---------------------------------------------------------------------------------------------
// Child 2: handshakes per second over loopback TCP.

async function tcpJob(job) {
  const { suite, a: dialler, b: listener, port } = await (await loadPackage()).nodePair('dialler', 'listener');
  const errors = {};

  async function run(total) {
    let started = 0;
    let done = 0;
    const worker = async () => {
      while (started < total) {
        started++;
        try {
          const channel = await dialler.establishSecureChannel('listener', { host: '127.0.0.1', port });
          channel.close();
          done++;
        } catch (error) {
          const key = error.reason ?? error.code ?? 'error';
          errors[key] = (errors[key] ?? 0) + 1;
        }
      }
    };
    const start = now();
    await Promise.all(Array.from({ length: Math.min(job.concurrency, total) }, worker));
    return { ms: now() - start, done };
  }

  await run(job.warmup);
  gc();
  await settle();
  // How busy the main thread (event-loop utilisation) and the process (CPU time ÷ wall time) were.
  const loopBefore = performance.eventLoopUtilization();
  const cpuBefore = process.cpuUsage();
  const { ms, done } = await run(job.total);
  const loop = performance.eventLoopUtilization(loopBefore).utilization;
  const cpu = process.cpuUsage(cpuBefore);
  const failures = await failureCounts(dialler.metrics);
  await dialler.close();
  await listener.close();
  return {
    suite: suite.name,
    pool: process.env.UV_THREADPOOL_SIZE ?? null,
    total: job.total,
    done,
    ms,
    rate: (done / ms) * 1000,
    loop,
    cores: (cpu.user + cpu.system) / 1000 / ms,
    errors,
    failures,
  };
}

// ---------------------------------------------------------------------------------------------
// Child 3: channel records against bare AES-256-GCM (the package's).

async function channelJob(job) {
  const pkg = await loadPackage();
  return pkg.measureChannel(job, (size) => progress(`  channel: ${size}-byte records, ${job.rounds} rounds`));
}

// ---------------------------------------------------------------------------------------------
// Child 4: full meshes of N nodes.

async function growthJob(job) {
  const pkg = await loadPackage();
  const { Registry } = await import('prom-client');
  const suite = await pkg.defaultSuite();
  const registry = new Registry();

  /** `meshes` independent full meshes of `n` nodes (whose nodes trust each other), each listening. */
  async function build(n, meshes, tag) {
    const groups = [];
    for (let m = 0; m < meshes; m++) {
      const nodes = [];
      for (let i = 0; i < n; i++) nodes.push(await pkg.meshNode(registry, suite, `${tag}-${m}-${i}`));
      if (n > 1) for (const node of nodes) for (const peer of nodes) if (peer !== node) node.trustPeer(peer.getPublicKeys());
      const ports = [];
      for (const node of nodes) ports.push((await node.listen({ host: '127.0.0.1' })).port);
      groups.push({ nodes, ports });
    }
    return groups;
  }

  /** Every pair of every mesh connected, `concurrency` dials at a time; ms. */
  async function connect(groups) {
    const pairs = [];
    for (const { nodes, ports } of groups) {
      for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) pairs.push([nodes[i], nodes[j], ports[j]]);
    }
    let next = 0;
    const errors = {};
    const worker = async () => {
      while (next < pairs.length) {
        const [from, to, port] = pairs[next++];
        try {
          await from.establishSecureChannel(to.nodeId, { host: '127.0.0.1', port });
        } catch (error) {
          const key = error.reason ?? error.code ?? 'error';
          errors[key] = (errors[key] ?? 0) + 1;
        }
      }
    };
    const start = now();
    await Promise.all(Array.from({ length: Math.min(job.concurrency, pairs.length) }, worker));
    return { ms: now() - start, pairs: pairs.length, errors };
  }

  const closeAll = (groups) => Promise.all(groups.flatMap(({ nodes }) => nodes.map((node) => node.close())));
  const memory = async () => {
    await settle();
    for (let i = 0; i < 3; i++) gc();
    await settle();
    gc();
    const { rss, heapUsed, external } = process.memoryUsage();
    return { rss, heapUsed, external };
  };

  // Smaller meshes first, connected and closed, so that neither the JIT nor lazily made state nor
  // the allocator's first growth lands on the measurement, whatever its N.
  const warm = await build(8, 4, 'warm');
  await connect(warm);
  await closeAll(warm);
  await settle();

  const groups = await build(job.n, job.meshes, 'mesh');
  // Idle nodes (listening, trusting nobody), so that every size's process holds as many nodes as
  // the most replicated size's: the memory the nodes' set-up freed, which the channels then reuse,
  // is then the same for every size.
  const idle = await build(1, job.idle, 'idle');
  const failedBefore = await failureCounts(groups[0].nodes[0].metrics);
  const before = await memory();
  const { ms, pairs, errors } = await connect(groups);
  const after = await memory();
  const failedAfter = await failureCounts(groups[0].nodes[0].metrics);
  for (const [reason, count] of Object.entries(failedAfter)) {
    const added = count - (failedBefore[reason] ?? 0);
    if (added > 0) errors[`counted ${reason}`] = added;
  }
  const open = groups.reduce((sum, { nodes }) => sum + nodes.reduce((s, node) => s + nodes.filter((p) => p !== node).reduce((c, p) => c + node.channels(p.nodeId).length, 0), 0), 0);
  const channels = open / 2;
  await closeAll([...groups, ...idle]);
  progress(`  growth: N=${job.n} × ${job.meshes} meshes (and ${job.idle} idle nodes), ${channels} channels in ${(ms / 1000).toFixed(2)} s`);
  return {
    suite: suite.name,
    n: job.n,
    meshes: job.meshes,
    idle: job.idle,
    pairs,
    channels,
    errors,
    ms,
    msPerChannel: ms / pairs,
    rssPerChannel: (after.rss - before.rss) / pairs,
    heapPerChannel: (after.heapUsed - before.heapUsed) / pairs,
    externalPerChannel: (after.external - before.external) / pairs,
  };
}

// ---------------------------------------------------------------------------------------------
// Children: run the job named in the environment, send its result, exit.

const JOBS = { handshake: handshakeJob, tcp: tcpJob, channel: channelJob, growth: growthJob };

if (process.env[JOB_ENV]) {
  await answerParent(JSON.parse(process.env[JOB_ENV]), loadPackage, JOBS);
} else {
  await main().catch((error) => fail(error?.message ?? String(error)));
}

/** Runs `job` in a child process of this script; `env` is added to (or, as undefined, removed from) ours. */
function runChild(job, env = {}) {
  return forkJob(SCRIPT, JOB_ENV, job, env);
}

// ---------------------------------------------------------------------------------------------
// The parent: run everything, print the tables, write the section.

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const pkg = await loadPackage();
  const status = pkg.info();
  requireNative(status, options.allowWasm, fail);
  const backend = status.backend;
  const backendLabel = backend === 'native' ? `native, liboqs ${status.liboqs?.version}` : `${backend.toUpperCase()} BACKEND (not native)`;
  const quick = options.quick;
  const handshakeDefaults = pkg.HANDSHAKE_SETTINGS[quick ? 'quick' : 'full'];
  const channelDefaults = pkg.CHANNEL_SETTINGS[quick ? 'quick' : 'full'];
  const settings = {
    handshakes: options.handshakes ?? handshakeDefaults.handshakes,
    handshakeRounds: options.rounds ?? handshakeDefaults.rounds,
    handshakeWarmup: handshakeDefaults.warmup,
    tcpTotal: options.tcpTotal ?? (quick ? 256 : 1024),
    tcpRounds: options.rounds ?? (quick ? 1 : 5),
    tcpWarmup: quick ? 64 : 128,
    concurrency: options.concurrency,
    channelSizes: channelDefaults.sizes,
    channelRounds: options.rounds ?? channelDefaults.rounds,
    channelTargetMs: channelDefaults.targetMs,
    sizes: options.sizes ?? (quick ? [4, 8, 16] : [4, 16, 64]),
    meshConcurrency: 16,
  };
  const cores = os.availableParallelism();
  const model = os.cpus()[0]?.model ?? os.arch();
  progress(
    `bench-mesh: ${backendLabel}; ${cores} cores (${model}); Node ${process.versions.node}; ` +
      `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 'unset (4)'}${quick ? '; quick' : ''}`,
  );
  const base = { backend };
  const loadBefore = os.loadavg()[0];

  const handshake = await runChild({ ...base, mode: 'handshake', handshakes: settings.handshakes, rounds: settings.handshakeRounds, warmup: settings.handshakeWarmup });

  const pools = [
    { label: 'UV_THREADPOOL_SIZE=1', env: { UV_THREADPOOL_SIZE: '1' }, runs: [] },
    { label: `default pool (UV_THREADPOOL_SIZE unset: 4 threads, ${cores} cores)`, env: { UV_THREADPOOL_SIZE: undefined }, runs: [] },
  ];
  for (let round = 0; round < settings.tcpRounds; round++) {
    for (const pool of round % 2 ? [...pools].reverse() : pools) {
      progress(`  tcp: ${pool.label}, ${settings.tcpTotal} handshakes, ${settings.concurrency} in flight (run ${round + 1} of ${settings.tcpRounds})`);
      pool.runs.push(
        await runChild({ ...base, mode: 'tcp', total: settings.tcpTotal, concurrency: settings.concurrency, warmup: settings.tcpWarmup }, pool.env),
      );
    }
  }

  const channel = await runChild({ ...base, mode: 'channel', sizes: settings.channelSizes, rounds: settings.channelRounds, targetMs: settings.channelTargetMs });

  const largest = Math.max(...settings.sizes);
  const wantedChannels = (largest * (largest - 1)) / 2;
  const meshesFor = (n) => Math.max(1, Math.round(wantedChannels / ((n * (n - 1)) / 2)));
  const totalNodes = Math.max(...settings.sizes.map((n) => n * meshesFor(n)));
  const growth = [];
  for (const n of settings.sizes) {
    const meshes = meshesFor(n);
    growth.push(await runChild({ ...base, mode: 'growth', n, meshes, idle: totalNodes - n * meshes, concurrency: settings.meshConcurrency }));
  }
  const seconds = (Date.now() - started) / 1000;
  const loadAfter = os.loadavg()[0];
  const load = `load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after`;

  // -------------------------------------------------------------------------------------------
  // Tables.

  const fixed = (value, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
  const ms = (value) => fixed(value, 3);
  const verdict = (ok) => (ok ? '✓ met' : '✗ MISSED');
  const lines = [];
  const verdicts = [];
  // Why a target is missed, from this run's own diagnostics (the rows and columns named).
  const WHY = {
    overhead:
      'the rest of the handshake is main-thread work outside the primitives — three transcript snapshots (SHA-384), three HKDF calls, ' +
      'AES-GCM over the 3.3 KB signatures, message encoding and parsing, and an await per pool trip; X-Wing\'s X25519 and SHA3-256 combiner ' +
      'also run on the main thread (only ML-KEM goes to the pool): the "handshake − primitives" row',
    p95:
      'one handshake makes seven pool trips (key pair, encapsulation, decapsulation, two signatures, two verifications) in sequence, and each adds its ' +
      'wake-up tail on this shared 2-core VM; the primitives\' own p95 (the row above) is already of the same order',
    scaling:
      'the main thread is busy about 100% with either pool size (the "main thread busy" column): its share of each handshake (framing, HKDF, ' +
      'AES-GCM, X-Wing\'s X25519, JS) and not the pool is the bottleneck, so more pool threads only compete with it for the second core',
    channel:
      'per record the channel adds its header, the nonce (IV XOR counter), the replay-window check and the record\'s own buffer; for 64 KiB ' +
      'records the extra copy and allocation (and the garbage collection they cause) are about the gap',
    growth: 'more nodes per mesh means more connections per node and per event-loop turn',
  };
  const missed = [];
  const target = (what, value, goal, ok, why) => {
    verdicts.push([what, value, goal, ok]);
    if (!ok) missed.push(`- **${what}** (${value}, goal ${goal}): ${WHY[why]}.`);
    return `| ${what} | ${value} | ${goal} | ${verdict(ok)} |`;
  };
  const targetHeader = ['| target | measured | goal | |', '|---|---:|---:|---|'];

  // 1.
  const h = handshake.handshake;
  const p = handshake.primitives;
  const overPrimitives = h.mean / p.mean;
  lines.push(
    `### Handshake, both sides in one process (ms; ${handshake.suite}, ${backendLabel})`,
    '',
    `${h.n} complete handshakes (InitiatorHandshake and Responder, no TCP), one at a time, in ${settings.handshakeRounds} blocks ` +
      `alternating with as many sets of the primitives one handshake calls (the same \`…Async\` calls; messages of ${handshake.signedBytes} bytes, as the handshake signs).`,
    '',
    '| | n | p50 | p95 | p99 | mean |',
    '|---|---:|---:|---:|---:|---:|',
    `| full handshake | ${h.n} | ${ms(h.p50)} | ${ms(h.p95)} | ${ms(h.p99)} | ${ms(h.mean)} |`,
    `| sum of its primitives | ${p.n} | ${ms(p.p50)} | ${ms(p.p95)} | ${ms(p.p99)} | ${ms(p.mean)} |`,
    ...handshake.ops.map((op) => `| – ${op.name} | ${op.n} | ${ms(op.p50)} | ${ms(op.p95)} | ${ms(op.p99)} | ${ms(op.mean)} |`),
    `| handshake − primitives (the rest: transcript hashing, HKDF, AES-GCM, message encoding, promises) | | ${ms(h.p50 - p.p50)} | | | ${ms(h.mean - p.mean)} |`,
    '',
    ...targetHeader,
    target(
      'mean handshake ÷ sum of primitives',
      `${fixed(overPrimitives)}× (p50 ÷ p50: ${fixed(h.p50 / p.p50)}×)`,
      `≤ ${TARGETS.handshakeOverPrimitives}×`,
      overPrimitives <= TARGETS.handshakeOverPrimitives,
      'overhead',
    ),
    target('handshake p95', `${ms(h.p95)} ms`, `< ${TARGETS.handshakeP95Ms} ms`, h.p95 < TARGETS.handshakeP95Ms, 'p95'),
    '',
  );
  if (handshake.timeouts) lines.push(`- ${handshake.timeouts} responder timeouts during the run`, '');

  // 2.
  const bestRun = (pool) => pool.runs.reduce((a, b) => (b.rate > a.rate ? b : a));
  const rateOf = (pool) => bestRun(pool).rate;
  const medianRate = (pool) => pkg.median(pool.runs.map((run) => run.rate));
  const scaling = rateOf(pools[1]) / rateOf(pools[0]);
  const medianScaling = medianRate(pools[1]) / medianRate(pools[0]);
  const problems = (run) => {
    const parts = Object.entries(run.errors).map(([reason, count]) => `${count} ${reason}`);
    const counted = Object.entries(run.failures).map(([reason, count]) => `${count} ${reason}`);
    return (parts.length ? parts.join(', ') : '0') + (counted.length ? ` (handshake failures counted: ${counted.join(', ')})` : '');
  };
  lines.push(
    `### Handshakes per second over loopback TCP (${handshake.suite}, ${backendLabel})`,
    '',
    `A listening PQMeshSecurity node and a dialling one in one process, ${settings.concurrency} \`establishSecureChannel\` calls in flight, ` +
      `each channel closed once open; ${settings.tcpTotal} handshakes per run after ${settings.tcpWarmup} of warm-up; ` +
      `${settings.tcpRounds} run${settings.tcpRounds > 1 ? 's' : ''} per pool size, each a process of its own, alternating. Best run (median in brackets).`,
    '',
    '| libuv pool | handshakes/s | main thread busy | CPU time ÷ wall time | runs | failed dials |',
    '|---|---:|---:|---:|---:|---|',
    ...pools.map((pool) => {
      const best = bestRun(pool);
      return `| ${pool.label} | ${fixed(best.rate, 0)} (${fixed(medianRate(pool), 0)}) | ${fixed(best.loop * 100, 0)}% | ${fixed(best.cores)} | ` +
        `${pool.runs.length} | ${pool.runs.map(problems).join('; ')} |`;
    }),
    '',
    ...targetHeader,
    target(`default pool ÷ 1 thread (${cores} cores ÷ 1)`, `${fixed(scaling)}× (median ${fixed(medianScaling)}×)`, `≥ ${TARGETS.poolScaling}×`, scaling >= TARGETS.poolScaling, 'scaling'),
    '',
  );

  // 3.
  const mbps = (size, ns) => size / ns * 1e3; // bytes per ns × 1e3 = MB/s (10^6 bytes)
  const kib = (size) => (size >= 1024 ? `${size / 1024} KiB` : `${size} B`);
  lines.push(
    `### Channel records (MB/s of plaintext, 1 MB = 10^6 bytes; ${channel.suite}, ${backendLabel})`,
    '',
    '`encryptForPeer` on one node, `decryptFromPeer` on the other (a channel over loopback TCP, no socket in the timed loop), ' +
      'beside bare node:crypto AES-256-GCM (createCipheriv, update, final, getAuthTag; createDecipheriv, setAuthTag, update, final) ' +
      `on the same records; best of ${settings.channelRounds} alternating rounds of ~${settings.channelTargetMs} ms.`,
    '',
    '| record | channel encrypt | channel decrypt | channel both | AES-GCM encrypt | AES-GCM decrypt | AES-GCM both | channel ÷ AES-GCM (both) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...channel.rows.map((row) =>
      `| ${kib(row.size)} | ${fixed(mbps(row.size, row.channel.encrypt), 0)} | ${fixed(mbps(row.size, row.channel.decrypt), 0)} | ` +
      `${fixed(mbps(row.size, row.channel.roundTrip), 0)} | ${fixed(mbps(row.size, row.aes.encrypt), 0)} | ${fixed(mbps(row.size, row.aes.decrypt), 0)} | ` +
      `${fixed(mbps(row.size, row.aes.roundTrip), 0)} | ${fixed(row.aes.roundTrip / row.channel.roundTrip)}× |`),
    '',
    ...targetHeader,
  );
  for (const row of channel.rows.filter((r) => r.size === 65536)) {
    const r = row.aes.roundTrip / row.channel.roundTrip;
    lines.push(target(`channel ÷ AES-GCM, ${kib(row.size)} records`, `${fixed(r)}×`, `≥ ${TARGETS.channelVsAesGcm}×`, r >= TARGETS.channelVsAesGcm, 'channel'));
  }
  lines.push('');
  if (channel.epochs.some((epoch) => epoch !== 0)) lines.push(`- the channel rotated its keys during the run (epochs ${channel.epochs.join(', ')}): the figures include rotations`, '');

  // 4.
  const small = growth[0];
  const big = growth[growth.length - 1];
  const k = (bytes) => fixed(bytes / 1024, 1);
  const growthRatio = (key) => big[key] / small[key];
  lines.push(
    `### Growth: full meshes over loopback TCP (${growth[0].suite}, ${backendLabel})`,
    '',
    `Every pair of N nodes connected (N(N−1)/2 channels, ${settings.meshConcurrency} dials at a time, all nodes in one process); ` +
      `a smaller N is built as several independent meshes so that each size sets up about ${wantedChannels} channels, and each size's process ` +
      `holds ${totalNodes} nodes (the rest idle: listening, trusting nobody), so that sizes differ only in the mesh's shape. ` +
      'Each size runs in a process of its own after a warm-up mesh. Time is the dialling wall time ÷ channels; memory is the growth of ' +
      'process.memoryUsage() across the dialling, after full collections, ÷ channels (both ends of a channel: two sockets, two connections, two channels).',
    '',
    '| N | meshes | idle nodes | channels | time per channel (ms) | rss per channel (KiB) | heapUsed per channel (KiB) | external per channel (KiB) | failed dials |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...growth.map((g) =>
      `| ${g.n} | ${g.meshes} | ${g.idle} | ${g.channels} | ${ms(g.msPerChannel)} | ${k(g.rssPerChannel)} | ${k(g.heapPerChannel)} | ${k(g.externalPerChannel)} | ` +
      `${Object.entries(g.errors).map(([reason, count]) => `${count} ${reason}`).join(', ') || '0'} |`),
    '',
    ...targetHeader,
    target(`time per channel, N=${big.n} ÷ N=${small.n}`, `${fixed(growthRatio('msPerChannel'))}×`, `≤ ${TARGETS.growth}×`, growthRatio('msPerChannel') <= TARGETS.growth, 'growth'),
    target(`rss per channel, N=${big.n} ÷ N=${small.n}`, `${fixed(growthRatio('rssPerChannel'))}×`, `≤ ${TARGETS.growth}×`, growthRatio('rssPerChannel') <= TARGETS.growth, 'growth'),
    target(`heapUsed per channel, N=${big.n} ÷ N=${small.n}`, `${fixed(growthRatio('heapPerChannel'))}×`, `≤ ${TARGETS.growth}×`, growthRatio('heapPerChannel') <= TARGETS.growth, 'growth'),
    '',
  );
  if (missed.length) lines.push('**Missed targets, and why:**', '', ...missed, '');
  lines.push(`${verdicts.filter((v) => v[3]).length} of ${verdicts.length} targets met; ${fixed(seconds, 0)} s in all; ${load}.`);
  console.log(lines.join('\n'));

  if (options.write) {
    const section = [
      MESH_SECTION,
      '',
      `Generated by scripts/bench-mesh.mjs --write (\`npm run bench:mesh -- --write\`) on ${new Date().toISOString().slice(0, 16)}Z` +
        `${quick ? ' with --quick' : ''}: ${backend === 'native' ? `native backend, liboqs ${status.liboqs?.version} (${status.liboqs?.path})` : `the ${backend} backend, NOT the native one`}; ` +
        `${cores} cores (${model}); Node ${process.versions.node} on ${os.type()} ${os.release()} ${os.arch()}; ` +
        `UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 'unset (4)'} except where the table says; ${fixed(seconds, 0)} s, ${load}. ` +
        'Absolute times depend on the machine and its load; the targets are ratios within the run (and the handshake p95).',
      '',
      ...lines,
    ].join('\n');
    benchmarksFile.writeSection(MESH_SECTION, section);
    progress('bench-mesh: wrote the Mesh section of BENCHMARKS.md');
  }
}

