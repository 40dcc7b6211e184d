#!/usr/bin/env node
// node scripts/bench-control-plane.mjs [--quick] [--rounds N] [--write] [--allow-wasm]   (npm run bench:control-plane)
//
// The control plane (lib/control-plane) measured against the signature verification it is built
// on, in one run; the ratios are the point, absolute times depend on the machine and its load:
//
// 1. Envelope verification throughput: ControlPlane.receive on batches of N signed gossip
//    envelopes from M origins (each batch given to a fresh receiver, so that every envelope is
//    new to it and takes the whole path: parse, cheap checks, one pooled verifyMany, apply,
//    forward), beside the bare pooled ML-DSA-65 `sig.verifyMany` on the same signed data,
//    signatures and public keys, in alternating rounds. The pool runs on 2 threads
//    (UV_THREADPOOL_SIZE=2). Target: receive rate ÷ bare verifyMany rate ≥ 0.8.
// 2. Certificate validation: QuorumValidator.accept on quorum certificates of n = 4, 7, 16, 31
//    validators, each carrying exactly the threshold ⌊2n/3⌋+1 of votes (each certificate a new
//    decision for its validator), beside the bare verifyMany of the same votes; mean, p50, p95.
//
// Each part runs in a child process of this script (started with --expose-gc, the mode in an
// environment variable), so that each starts from a fresh heap and pool. Markdown goes to stdout,
// progress to stderr; --write puts the tables in the "## Control plane" section of BENCHMARKS.md
// and leaves the other sections alone. Exits 1 when it cannot measure, not when a target is missed.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { answerParent, dist, failer, forkJob, progress, requireNative } from './bench-support.mjs';
import * as benchmarksFile from './benchmarks-file.mjs';
const { CONTROL_PLANE_SECTION } = benchmarksFile;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = fileURLToPath(import.meta.url);
const JOB_ENV = 'X0TTA6BL4_BENCH_CONTROL_PLANE_JOB';
const POOL_THREADS = '2';
const SIG = 'ML-DSA-65';

const TARGETS = {
  receiveVsVerifyMany: 0.8, // ControlPlane.receive envelopes/s ÷ bare verifyMany signatures/s, at least
};

const USAGE = `usage: node scripts/bench-control-plane.mjs [options]   (npm run bench:control-plane -- [options])
  --quick            fewer, shorter runs (seconds): batches of 64 and 256 envelopes from 16
                     origins, 16 certificates per validator-set size, 3 rounds
  --write            also write the "${CONTROL_PLANE_SECTION}" section of BENCHMARKS.md (only that section)
  --rounds N         alternating rounds per measurement (default 11, quick 3)
  --allow-wasm       measure the WebAssembly backend when the native one is not in use
                     (the results are labelled wasm)
Load liboqs as the package does, e.g. X0TTA6BL4_LIBOQS_PATH=/opt/liboqs/0.16.0/lib/liboqs.so.`;

const fail = failer('bench-control-plane');

function parseArgs(argv) {
  const options = { quick: false, write: false, allowWasm: false, rounds: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--quick') options.quick = true;
    else if (flag === '--write') options.write = true;
    else if (flag === '--allow-wasm') options.allowWasm = true;
    else if (flag === '--rounds') {
      const text = value();
      const n = Number(text);
      if (!Number.isInteger(n) || n < 1) fail(`--rounds needs a positive integer, got ${text ?? 'nothing'}`);
      options.rounds = n;
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
    const [pqc, envelope, identity, timing, promClient] = await Promise.all([
      dist('index.js'),
      dist('control-plane/envelope.js'),
      dist('mesh/identity.js'),
      dist('bench/timing.js'),
      import('prom-client'),
    ]);
    return {
      ...pqc,
      signedContent: envelope.signedContent,
      forwarded: envelope.forwarded,
      ...identity,
      median: timing.median,
      percentiles: timing.percentiles,
      Registry: promClient.Registry,
    };
  } catch (error) {
    return fail(`cannot load dist/ (${error.message.split('\n')[0]}); build first: npm run build:ts`);
  }
}

const now = () => performance.now();
const gc = typeof globalThis.gc === 'function' ? () => globalThis.gc() : () => undefined;


/** `count` ML-DSA-65 identities named `${prefix}${i}`, with their public keys. */
async function members(pkg, count, prefix) {
  const identities = [];
  for (let i = 0; i < count; i++) identities.push(await pkg.generateIdentity(SIG));
  return identities.map((identity, i) => ({ nodeId: `${prefix}${i}`, identity, keys: pkg.publicKeys(`${prefix}${i}`, SIG, identity.publicKey) }));
}

// ---------------------------------------------------------------------------------------------
// Child 1: ControlPlane.receive against bare verifyMany.

async function envelopesJob(job) {
  const pkg = await loadPackage();
  const sig = new pkg.Sig(SIG);
  await sig.ready();
  const rows = [];
  let steps;
  for (const { n, m } of job.configs) {
    const origins = await members(pkg, m, 'origin-');
    const [receiverMember, warmMember] = [...(await members(pkg, 1, 'receiver-')), ...(await members(pkg, 1, 'warm-'))];
    const trusted = new Map([...origins, receiverMember, warmMember].map((member) => [member.nodeId, member.keys]));
    const trust = (nodeId) => trusted.get(nodeId);
    const publishers = origins.map(
      (member) => new pkg.ControlPlane({ nodeId: member.nodeId, identity: member.identity, trust, registry: new pkg.Registry() }),
    );
    // Envelope i comes from origin i mod M, with a 128-byte payload (a route or a beacon).
    const batch = [];
    for (let i = 0; i < n; i++) batch.push(await publishers[i % m].publish(pkg.EnvelopeKind.Gossip, randomBytes(job.payloadBytes)));
    const warmEnvelope = await new pkg.ControlPlane({ nodeId: warmMember.nodeId, identity: warmMember.identity, trust, registry: new pkg.Registry() }).publish(
      pkg.EnvelopeKind.Gossip,
      randomBytes(job.payloadBytes),
    );
    // The bare baseline: what receive verifies, precomputed (signed data, signature, the origin's key).
    const parsed = batch.map((bytes) => pkg.parseEnvelope(bytes));
    const messages = parsed.map((envelope) => pkg.signedContent(envelope));
    const signatures = parsed.map((envelope) => envelope.signature);
    const keys = parsed.map((envelope) => trusted.get(envelope.origin).sigPublicKey);

    /** Fresh receivers, each holding its Sig and counters already (one envelope from another origin). */
    async function receivers(count) {
      const out = [];
      for (let i = 0; i < count; i++) {
        const receiver = new pkg.ControlPlane({ nodeId: receiverMember.nodeId, identity: receiverMember.identity, trust, registry: new pkg.Registry() });
        const warm = await receiver.receive(warmEnvelope);
        if (warm.receipts[0].status !== 'accepted') throw new Error(`the warm-up envelope was refused (${warm.receipts[0].reason})`);
        out.push(receiver);
      }
      return out;
    }
    /** ms for `count` batches, each through receive on a fresh receiver. */
    async function viaReceive(count, check) {
      const ready = await receivers(count);
      gc();
      let ms = 0;
      for (const receiver of ready) {
        const start = now();
        const result = await receiver.receive(batch);
        ms += now() - start;
        if (check) {
          const refused = result.receipts.filter((receipt) => receipt.status !== 'accepted');
          if (refused.length) throw new Error(`receive refused ${refused.length} of ${n} envelopes (${refused[0].reason})`);
          if (result.outgoing.length !== n) throw new Error(`receive forwarded ${result.outgoing.length} of ${n} envelopes`);
        }
      }
      return ms;
    }
    /** ms for `count` bare verifyMany calls on the same batch. */
    async function viaVerifyMany(count, check) {
      gc();
      let ms = 0;
      for (let i = 0; i < count; i++) {
        const start = now();
        const valid = await sig.verifyMany(messages, signatures, keys);
        ms += now() - start;
        if (check && !valid.every(Boolean)) throw new Error('verifyMany refused a genuine signature');
      }
      return ms;
    }

    // Warm up both paths, then size a sample to about targetMs.
    await viaReceive(3, true);
    await viaVerifyMany(3, true);
    const perBatch = { receive: (await viaReceive(3, false)) / 3, verifyMany: (await viaVerifyMany(3, false)) / 3 };
    const batches = Math.max(2, Math.ceil(job.targetMs / Math.max(perBatch.receive, perBatch.verifyMany)));
    progress(`  envelopes: N = ${n} from M = ${m} origins, ${job.rounds} rounds of ${batches} batches each way`);
    const samples = { receive: [], verifyMany: [] };
    for (let round = 0; round < job.rounds; round++) {
      const runs = [
        async () => samples.receive.push((await viaReceive(batches, round === 0)) / (batches * n)),
        async () => samples.verifyMany.push((await viaVerifyMany(batches, round === 0)) / (batches * n)),
      ];
      // Neither always runs first.
      if (round % 2) runs.reverse();
      for (const run of runs) await run();
    }
    rows.push({
      n,
      m,
      batches,
      envelopeBytes: [Math.min(...batch.map((b) => b.length)), Math.max(...batch.map((b) => b.length))],
      receive: { best: Math.min(...samples.receive), median: pkg.median(samples.receive) },
      verifyMany: { best: Math.min(...samples.verifyMany), median: pkg.median(samples.verifyMany) },
    });
    if (n === Math.max(...job.configs.map((config) => config.n)) && !steps) steps = await stepsOf(pkg, { n, m, batch, receivers, viaReceive, rounds: job.rounds });
  }
  return { rows, steps, pool: process.env.UV_THREADPOOL_SIZE ?? null };
}

/**
 * Where receive's main-thread time goes, µs per envelope (best of `rounds`): the synchronous
 * steps it runs for each envelope beside the pool's verification, and a receiver that has the
 * batch already (every envelope a duplicate, refused before any signature work).
 */
async function stepsOf(pkg, { n, m, batch, receivers, viaReceive, rounds }) {
  const parsed = batch.map((bytes) => pkg.parseEnvelope(bytes));
  const loop = (step) => {
    const times = [];
    for (let round = 0; round < rounds; round++) {
      gc();
      const start = now();
      for (let k = 0; k < 4; k++) step();
      times.push(((now() - start) / (4 * n)) * 1000);
    }
    return Math.min(...times);
  };
  const [seen] = await receivers(1);
  await seen.receive(batch);
  const duplicates = [];
  for (let round = 0; round < rounds; round++) {
    gc();
    const start = now();
    const result = await seen.receive(batch);
    duplicates.push(((now() - start) / n) * 1000);
    if (result.receipts.some((receipt) => receipt.reason !== 'duplicate')) throw new Error('a second delivery was not refused as a duplicate');
  }
  // receive's own verifyMany call timed from outside (the prototype wrapped for this pass only).
  const { prototype } = pkg.Sig;
  const verifyMany = prototype.verifyMany;
  let inside = 0;
  prototype.verifyMany = async function (...args) {
    const start = now();
    try {
      return await verifyMany.apply(this, args);
    } finally {
      inside += now() - start;
    }
  };
  const split = [];
  try {
    for (let round = 0; round < rounds; round++) {
      inside = 0;
      const total = await viaReceive(4, false);
      split.push({ total: (total / (4 * n)) * 1000, inside: (inside / (4 * n)) * 1000 });
    }
  } finally {
    prototype.verifyMany = verifyMany;
  }
  const best = split.reduce((a, b) => (b.total < a.total ? b : a));
  return {
    n,
    m,
    receive: best.total,
    insideVerifyMany: best.inside,
    parse: loop(() => batch.forEach((bytes) => pkg.parseEnvelope(bytes))),
    signedContent: loop(() => parsed.forEach((envelope) => pkg.signedContent(envelope))),
    forwarded: loop(() => parsed.forEach((envelope) => pkg.forwarded(envelope))),
    duplicate: Math.min(...duplicates),
  };
}

// ---------------------------------------------------------------------------------------------
// Child 2: QuorumValidator.accept for validator sets of n.

// What a vote signs (lib/control-plane/quorum.ts): this label, then the decision's bytes. Only the
// bare baseline needs it; if it changes, the baseline's check below fails loudly.
const VOTE_LABEL = new TextEncoder().encode('x0tta6bl4-cp/1 decision\0');

async function certificatesJob(job) {
  const pkg = await loadPackage();
  const sig = new pkg.Sig(SIG);
  await sig.ready();
  const rows = [];
  for (const n of job.sizes) {
    const validators = await members(pkg, n, 'validator-');
    const set = { epoch: 0, validators: validators.map((v) => v.keys) };
    const hash = pkg.validatorSetHash(set);
    const threshold = pkg.quorumThreshold(n);
    /** A certificate for a new slot, signed by `threshold` validators (starting at a rotating one). */
    const certify = async (slot, k) => {
      const decisionBytes = pkg.encodeDecision({ kind: 'key_revocation', slot, epoch: 0, validatorSetHash: hash, payload: randomBytes(16) });
      const signers = Array.from({ length: threshold }, (_, j) => validators[(k + j) % n]);
      const votes = await Promise.all(signers.map((v) => pkg.signVote(decisionBytes, v.identity, v.nodeId)));
      const data = Buffer.concat([VOTE_LABEL, decisionBytes]);
      return {
        bytes: pkg.encodeCertificate(decisionBytes, votes),
        bare: { messages: votes.map(() => data), signatures: votes.map((vote) => vote.signature), keys: signers.map((v) => v.keys.sigPublicKey) },
      };
    };
    progress(`  certificates: n = ${n}, threshold ${threshold}; signing ${job.certificates + 1} certificates`);
    const certificates = [];
    for (let k = 0; k < job.certificates; k++) certificates.push(await certify(`revoke:node-${k}`, k));
    const warm = await certify('warm-up', 0);

    const accepted = [];
    const bare = [];
    const validator = async () => {
      const quorum = new pkg.QuorumValidator({ validatorSet: set, registry: new pkg.Registry() });
      if (quorum.threshold !== threshold) throw new Error(`threshold ${quorum.threshold}, expected ${threshold}`);
      await quorum.accept(warm.bytes);
      return quorum;
    };
    /** Each certificate once through accept on a fresh validator; ms per accept. */
    const viaAccept = async (into) => {
      const quorum = await validator();
      gc();
      for (const certificate of certificates) {
        const start = now();
        const decision = await quorum.accept(certificate.bytes);
        const ms = now() - start;
        if (decision.kind !== 'key_revocation') throw new Error('accept returned another decision');
        into?.push(ms);
      }
    };
    /** The same votes through bare verifyMany; ms per certificate. */
    const viaVerifyMany = async (into) => {
      gc();
      for (const { bare: b } of certificates) {
        const start = now();
        const valid = await sig.verifyMany(b.messages, b.signatures, b.keys);
        const ms = now() - start;
        if (!valid.every(Boolean)) throw new Error('verifyMany refused a genuine vote (has the vote label changed?)');
        into?.push(ms);
      }
    };
    await viaAccept();
    await viaVerifyMany();
    for (let round = 0; round < job.rounds; round++) {
      const runs = [() => viaAccept(accepted), () => viaVerifyMany(bare)];
      if (round % 2) runs.reverse();
      for (const run of runs) await run();
    }
    rows.push({ n, threshold, certificateBytes: certificates[0].bytes.length, accept: pkg.percentiles(accepted), bare: pkg.percentiles(bare) });
  }
  return { rows };
}

// ---------------------------------------------------------------------------------------------
// Children: run the job named in the environment, send its result, exit.

const JOBS = { envelopes: envelopesJob, certificates: certificatesJob };

if (process.env[JOB_ENV]) {
  await answerParent(JSON.parse(process.env[JOB_ENV]), loadPackage, JOBS);
} else {
  await main().catch((error) => fail(error?.message ?? String(error)));
}

/** Runs `job` in a child process of this script, with the pool at POOL_THREADS threads. */
function runChild(job) {
  return forkJob(SCRIPT, JOB_ENV, job, { UV_THREADPOOL_SIZE: POOL_THREADS });
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
  const rounds = options.rounds ?? (quick ? 3 : 11);
  const settings = {
    configs: quick
      ? [
          { n: 64, m: 16 },
          { n: 256, m: 16 },
        ]
      : [
          { n: 16, m: 4 },
          { n: 64, m: 1 },
          { n: 64, m: 16 },
          { n: 256, m: 16 },
          { n: 256, m: 64 },
        ],
    payloadBytes: 128,
    envelopeTargetMs: quick ? 40 : 100,
    sizes: [4, 7, 16, 31],
    certificates: quick ? 16 : 48,
  };
  const cores = os.availableParallelism();
  const model = os.cpus()[0]?.model ?? os.arch();
  const threads = Math.min(Number(POOL_THREADS), cores);
  progress(`bench-control-plane: ${backendLabel}; ${cores} cores (${model}); Node ${process.versions.node}; UV_THREADPOOL_SIZE=${POOL_THREADS} in the children${quick ? '; quick' : ''}`);
  const base = { backend };
  const loadBefore = os.loadavg()[0];
  const envelopes = await runChild({ ...base, mode: 'envelopes', configs: settings.configs, payloadBytes: settings.payloadBytes, rounds, targetMs: settings.envelopeTargetMs });
  const certificates = await runChild({ ...base, mode: 'certificates', sizes: settings.sizes, certificates: settings.certificates, rounds });
  const seconds = (Date.now() - started) / 1000;
  const loadAfter = os.loadavg()[0];
  const load = `load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after`;

  // -------------------------------------------------------------------------------------------
  // Tables.

  const fixed = (value, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
  const ms = (value) => fixed(value, 3);
  const rate = (msPerItem) => fixed(1000 / msPerItem, 0);
  const verdict = (ok) => (ok ? '✓ met' : '✗ MISSED');
  const verdicts = [];
  const lines = [];
  const target = (what, value, goal, ok) => {
    verdicts.push(ok);
    return `| ${what} | ${value} | ${goal} | ${verdict(ok)} |`;
  };
  const targetHeader = ['| target | measured | goal | |', '|---|---:|---:|---|'];

  // 1.
  lines.push(
    `### Envelope verification (envelopes/s; ${SIG}, ${backendLabel}, pool of ${threads} threads on ${cores} cores)`,
    '',
    `\`ControlPlane.receive\` on a batch of N gossip envelopes (${settings.payloadBytes}-byte payloads, ${[...new Set(envelopes.rows.flatMap((row) => row.envelopeBytes))].sort((a, b) => a - b).filter((v, i, all) => i === 0 || i === all.length - 1).join('–')}-byte envelopes) ` +
      'from M origins, each batch given to a fresh receiver (every envelope new to it: parse, cheap checks, one pooled verifyMany, apply, forward), ' +
      `beside the bare pooled \`sig.verifyMany\` on the same signed data, signatures and keys; UV_THREADPOOL_SIZE=${POOL_THREADS}; ` +
      `${rounds} alternating rounds of ~${settings.envelopeTargetMs} ms each way. Best round (median in brackets).`,
    '',
    '| N | M | receive | bare verifyMany | receive ÷ verifyMany | receive − verifyMany per envelope (µs) |',
    '|---:|---:|---:|---:|---:|---:|',
    ...envelopes.rows.map(
      (row) =>
        `| ${row.n} | ${row.m} | ${rate(row.receive.best)} (${rate(row.receive.median)}) | ${rate(row.verifyMany.best)} (${rate(row.verifyMany.median)}) | ` +
        `${fixed(row.verifyMany.best / row.receive.best)}× (${fixed(row.verifyMany.median / row.receive.median)}×) | ${fixed((row.receive.best - row.verifyMany.best) * 1000, 1)} |`,
    ),
    '',
    ...(envelopes.steps
      ? [
          `Where the difference goes, for N = ${envelopes.steps.n}, M = ${envelopes.steps.m} (µs per envelope, best of ${rounds}; ` +
            'receive runs every parse before the batch\'s verifyMany and every apply after it, so their time adds to the pool\'s; ' +
            'the steps below the split are the synchronous calls alone, in a loop):',
          '',
          '| step | µs per envelope |',
          '|---|---:|',
          `| a whole \`receive\` (fastest of ${rounds} rounds of 4 batches) | ${fixed(envelopes.steps.receive, 1)} |`,
          `| – of which inside its \`verifyMany\` call | ${fixed(envelopes.steps.insideVerifyMany, 1)} |`,
          `| – of which outside it (parse, checks, apply, forward; nothing overlaps the pool) | ${fixed(envelopes.steps.receive - envelopes.steps.insideVerifyMany, 1)} |`,
          `| \`parseEnvelope\` (includes \`signedContent\` and its SHA-256 digest) | ${fixed(envelopes.steps.parse, 1)} |`,
          `| \`signedContent\` again, for verification | ${fixed(envelopes.steps.signedContent, 1)} |`,
          `| \`forwarded\` (a copy one hop lower) | ${fixed(envelopes.steps.forwarded, 1)} |`,
          `| a whole \`receive\` of the batch again: every envelope a duplicate, refused before any signature | ${fixed(envelopes.steps.duplicate, 1)} |`,
          '',
        ]
      : []),
    ...targetHeader,
    ...envelopes.rows.map((row) => {
      const ratio = row.verifyMany.best / row.receive.best;
      return target(`receive ÷ verifyMany, N = ${row.n}, M = ${row.m}`, `${fixed(ratio)}× (median ${fixed(row.verifyMany.median / row.receive.median)}×)`, `≥ ${TARGETS.receiveVsVerifyMany}×`, ratio >= TARGETS.receiveVsVerifyMany);
    }),
    '',
  );

  // 2.
  const c = certificates.rows[0];
  lines.push(
    `### Certificate validation (ms per certificate; ${SIG}, ${backendLabel}, pool of ${threads} threads on ${cores} cores)`,
    '',
    `\`QuorumValidator.accept\` on certificates carrying exactly the threshold ⌊2n/3⌋+1 of votes, each a new decision (slot) for its validator ` +
      `(${settings.certificates} certificates × ${rounds} rounds per n, each round on a fresh validator), beside the bare pooled \`sig.verifyMany\` ` +
      'of the same votes, in alternating rounds.',
    '',
    '| n | votes | certificate bytes | accept mean | p50 | p95 | p99 | bare verifyMany mean | p50 | accept ÷ verifyMany (mean) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...certificates.rows.map(
      (row) =>
        `| ${row.n} | ${row.threshold} | ${row.certificateBytes} | ${ms(row.accept.mean)} | ${ms(row.accept.p50)} | ${ms(row.accept.p95)} | ${ms(row.accept.p99)} | ` +
        `${ms(row.bare.mean)} | ${ms(row.bare.p50)} | ${fixed(row.accept.mean / row.bare.mean)}× |`,
    ),
    '',
  );
  if (verdicts.some((ok) => !ok)) {
    // From this run's own split of receive's time (the "where the difference goes" table).
    lines.push(
      '**Missed target, and why:** receive parses, checks and applies every envelope on the calling thread before and after the ' +
        "batch's one pooled verifyMany, so that work never overlaps the pool; and on 2 cores the pool's two threads share the machine " +
        "with it, so the verifyMany inside receive runs slower than the bare call fed from hot, precomputed inputs (the split's " +
        '"inside its verifyMany" row against the bare column). Overlapping the parsing of the next batch with the pool is the next step.',
      '',
    );
  }
  lines.push(`${c.accept.n} samples per n. ${verdicts.filter(Boolean).length} of ${verdicts.length} targets met; ${fixed(seconds, 0)} s in all; ${load}.`);
  console.log(lines.join('\n'));

  if (options.write) {
    const section = [
      CONTROL_PLANE_SECTION,
      '',
      `Generated by scripts/bench-control-plane.mjs --write (\`npm run bench:control-plane -- --write\`) on ${new Date().toISOString().slice(0, 16)}Z` +
        `${quick ? ' with --quick' : ''}: ${backend === 'native' ? `native backend, liboqs ${status.liboqs?.version} (${status.liboqs?.path})` : `the ${backend} backend, NOT the native one`}; ` +
        `${cores} cores (${model}); Node ${process.versions.node} on ${os.type()} ${os.release()} ${os.arch()}; ` +
        `UV_THREADPOOL_SIZE=${POOL_THREADS}; ${fixed(seconds, 0)} s, ${load}. ` +
        'Absolute times depend on the machine and its load; the target is a ratio within the run.',
      '',
      ...lines,
    ].join('\n');
    benchmarksFile.writeSection(CONTROL_PLANE_SECTION, section);
    progress('bench-control-plane: wrote the Control plane section of BENCHMARKS.md');
  }
}
