#!/usr/bin/env node
// node scripts/bench-hybrid.mjs [--quick] [--rounds N] [--batch N] [--stat min|median]   (part of `npm run bench`)
//
// The hybrid KEMs side by side in one run: the package's X-Wing and X25519MLKEM768 (sync, and
// batches on the pool), the C floor measured now on the same liboqs file by
// scripts/bench-hybrid-floor.c (liboqs ML-KEM-768 and OpenSSL's X25519 and SHA-3, nothing in
// between), and @noble/post-quantum's ml_kem768_x25519. The target: X-Wing encapsulation and
// decapsulation each at most 1.5× the floor. A table for X25519 alone shows where the time goes,
// through the addon and through node:crypto.
//
// Method as in scripts/bench.mjs: every timer is warmed up and calibrated, then all timers of all
// rows run in alternating rounds from a collected heap; the table shows the best round of each
// (--stat median for the medians), because the machine may be shared. Markdown
// goes to stdout, progress to stderr. Exits 1 when it cannot measure, not when a target is missed
// (the table says so, with the numbers).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { failer, median, progress } from './bench-support.mjs';
import { HYBRID_SECTION, writeSection } from './benchmarks-file.mjs';
import { compileC } from './compile-c.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGET = 1.5; // X-Wing time ÷ C floor, at most

const fail = failer('bench-hybrid');

function parseArgs(argv) {
  const options = { quick: false, rounds: undefined, batch: 64, stat: 'min', write: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const number = () => {
      const n = Number(inline ?? argv[++i]);
      if (!Number.isInteger(n) || n < 1) fail(`${flag} needs a positive integer`);
      return n;
    };
    if (flag === '--quick') options.quick = true;
    else if (flag === '--write') options.write = true;
    else if (flag === '--rounds') options.rounds = number();
    else if (flag === '--batch') options.batch = number();
    else if (flag === '--stat' && ['min', 'median'].includes(inline ?? argv[i + 1])) options.stat = inline ?? argv[++i];
    else fail(`unknown option ${argv[i]}; options: --quick, --rounds N, --batch N, --stat min|median, --write`);
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
const settings = {
  // Many short rounds: on a shared machine the best of them is the least disturbed.
  rounds: options.rounds ?? (options.quick ? 5 : 15),
  targetMs: options.quick ? 20 : 60,
  warmupMs: options.quick ? 10 : 40,
  batch: options.batch,
};

let pqc;
let nativeX25519;
let nodeCryptoX25519;
try {
  const dist = (file) => import(pathToFileURL(path.join(root, 'dist', ...file.split('/'))).href);
  pqc = await dist('index.js');
  ({ nativeX25519 } = await dist('x25519/native.js'));
  ({ nodeCryptoX25519 } = await dist('x25519/node-crypto.js'));
} catch (error) {
  fail(`cannot load dist/ (${error.message.split('\n')[0]}); build first: npm run build`);
}
const { Kem, info } = pqc;
const status = info();
if (status.backend !== 'native') {
  fail(`the floor is liboqs's own speed, so this needs the native backend; the ${status.backend} backend is in use` +
    (status.nativeUnavailable ? ` (${status.nativeUnavailable.message.split('\n')[0]})` : ''));
}
if (!status.capabilities.kemKeypairDerand) {
  fail(`X-Wing keys need ML-KEM key generation from a seed (liboqs >= 0.13); liboqs ${status.liboqs.version} is loaded`);
}

let noble;
try {
  noble = (await import('@noble/post-quantum/hybrid.js')).ml_kem768_x25519;
} catch (error) {
  progress(`noble column skipped: @noble/post-quantum is not installed (${error.message.split('\n')[0]})`);
}

// ---------------------------------------------------------------------------------------------
// The C floor.

let floorBinary;
try {
  floorBinary = compileC('bench-hybrid-floor', ['-lcrypto']);
} catch (error) {
  fail(`${error.message} (it needs OpenSSL's headers too: libssl-dev)`);
}

function runFloor(construction, op, iterations) {
  const args = [status.liboqs.path, construction, op, String(iterations), String(settings.warmupMs)];
  const result = spawnSync(floorBinary, args, { encoding: 'utf8' });
  const match = /ns_per_op=([\d.]+) .*version=(\S+)/.exec(result.stdout ?? '');
  if (result.status !== 0 || !match) fail(`bench-hybrid-floor ${args.join(' ')}: ${(result.stderr || result.error?.message || '').trim()}`);
  if (match[2] !== status.liboqs.version) fail(`the floor loaded liboqs ${match[2]}, the package ${status.liboqs.version}`);
  return Number(match[1]);
}

// ---------------------------------------------------------------------------------------------
// Timing.

let sink;
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc');
const now = () => process.hrtime.bigint();

const syncTimer = (fn) => ({
  items: 1,
  async measure(calls) {
    const start = now();
    for (let i = 0; i < calls; i++) sink = fn();
    return Number(now() - start) / calls;
  },
});

const batchTimer = (fn, items) => ({
  items,
  async measure(calls) {
    const start = now();
    for (let i = 0; i < calls; i++) sink = await fn();
    return Number(now() - start) / (calls * items);
  },
});

const floorTimer = (construction, op) => ({
  items: 1,
  measure: async (calls) => runFloor(construction, op, calls),
  calibrate: async () => runFloor(construction, op, 16),
});

/** Runs `timer` for about `ms` and returns its estimated ns per call. */
async function calibrate(timer, ms = settings.warmupMs) {
  if (timer.calibrate) return timer.calibrate();
  let spent = 0;
  let perItem = 0;
  for (let calls = 1; ; calls *= 2) {
    perItem = await timer.measure(calls);
    spent += perItem * timer.items * calls;
    if (spent >= ms * 1e6 || calls >= 1 << 20) break;
  }
  return perItem * timer.items;
}


/**
 * ns per item of every timer of every row (best or median round). Each round runs every timer
 * once, so that whatever else the machine is doing falls on all of them alike.
 */
async function measureRows(rows) {
  const timers = rows.flatMap((row, r) => row.timers.map(([key, timer]) => ({ r, key, timer, samples: [] })));
  for (const entry of timers) {
    const perCall = await calibrate(entry.timer);
    entry.calls = Math.max(entry.timer.items > 1 ? 1 : 3, Math.ceil((settings.targetMs * 1e6) / perCall));
  }
  for (let round = 0; round < settings.rounds; round++) {
    progress(`  round ${round + 1} of ${settings.rounds}`);
    // Each round starts further along the list: no timer always runs first, or after the same one.
    for (let k = 0; k < timers.length; k++) {
      const entry = timers[(k + round * 5) % timers.length];
      sink = undefined;
      collectGarbage();
      entry.samples.push(await entry.timer.measure(entry.calls));
    }
  }
  const summarise = (values) => (options.stat === 'min' ? Math.min(...values) : median(values));
  return rows.map((_, r) => new Map(timers.filter((t) => t.r === r).map((t) => [t.key, summarise(t.samples)])));
}

// ---------------------------------------------------------------------------------------------
// The rows.

const equal = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
const B = settings.batch;

function hybridRows(name, construction) {
  const kem = new Kem(name, { backend: 'native' });
  const { publicKey, secretKey } = kem.generateKeyPair();
  const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
  if (!equal(kem.decapsulate(ciphertext, secretKey), sharedSecret)) fail(`${name}: decapsulation mismatch`);
  const ciphertexts = Array.from({ length: B }, () => kem.encapsulate(publicKey).ciphertext);
  const publicKeys = Array.from({ length: B }, () => publicKey);
  const nobleKeys = noble && construction === 'xwing' ? noble.keygen() : undefined;
  const nobleCiphertext = nobleKeys && noble.encapsulate(nobleKeys.publicKey).cipherText;
  const rows = [
    {
      label: `${name} encapsulate`,
      target: construction === 'xwing',
      timers: [
        ['floor', floorTimer(construction, 'encaps')],
        ['sync', syncTimer(() => kem.encapsulate(publicKey))],
        ['batch', batchTimer(() => kem.encapsulateMany(publicKeys), B)],
        ...(nobleKeys ? [['noble', syncTimer(() => noble.encapsulate(nobleKeys.publicKey))]] : []),
      ],
    },
    {
      label: `${name} decapsulate, expanded key remembered`,
      target: construction === 'xwing',
      timers: [
        ['floor', floorTimer(construction, 'decaps')],
        ['sync', syncTimer(() => kem.decapsulate(ciphertext, secretKey))],
        ['batch', batchTimer(() => kem.decapsulateMany(ciphertexts, secretKey), B)],
        ...(nobleKeys ? [['noble', syncTimer(() => noble.decapsulate(nobleCiphertext, nobleKeys.secretKey))]] : []),
      ],
    },
  ];
  if (construction === 'xwing') {
    rows.push({
      label: `${name} decapsulate from the 32-byte key (expanded every call)`,
      target: false,
      timers: [
        ['floor', floorTimer(construction, 'decaps-seed')],
        // A fresh copy each call: nothing is remembered for it.
        ['sync', syncTimer(() => kem.decapsulate(ciphertext, Uint8Array.from(secretKey)))],
        ['batch', batchTimer(() => kem.decapsulateMany(ciphertexts, ciphertexts.map(() => Uint8Array.from(secretKey))), B)],
        ...(nobleKeys ? [['noble', syncTimer(() => noble.decapsulate(nobleCiphertext, nobleKeys.secretKey))]] : []),
      ],
    });
  }
  return rows;
}

function x25519Rows() {
  const scalar = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const implementations = [['addon', nativeX25519()], ['node:crypto', nodeCryptoX25519]].filter(([, x]) => x);
  const peer = nodeCryptoX25519.generate().publicKey();
  const timers = (make) => implementations.map(([key, x25519]) => [key, syncTimer(make(x25519))]);
  return [
    {
      label: 'key from a scalar, with its public key',
      timers: [['floor', floorTimer('xwing', 'x25519-keygen')], ...timers((x) => () => x.fromScalar(scalar).publicKey())],
    },
    {
      label: 'exchange with an imported key (a remembered decapsulation key)',
      timers: [['floor', floorTimer('xwing', 'x25519-derive')], ...timers((x) => {
        const key = x.fromScalar(scalar);
        return () => key.sharedSecret(peer);
      })],
    },
    {
      label: 'exchange from the raw scalar (fresh keys every call)',
      timers: [['floor', floorTimer('xwing', 'x25519-derive')], ...timers((x) => () => x.fromScalar(scalar).sharedSecret(peer))],
    },
  ];
}

// ---------------------------------------------------------------------------------------------

progress(`liboqs ${status.liboqs.version} (${status.liboqs.path}); ${settings.rounds} rounds, batches of ${B}, ` +
  `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}, ${os.availableParallelism()} CPUs`);
const hybrid = [...hybridRows('X-Wing', 'xwing'), ...hybridRows('X25519MLKEM768', 'x25519mlkem768')];
const x25519 = x25519Rows();
// Every path runs hot before anything is timed, so that no row pays for compiling code that a
// later row shares.
progress('  warming up');
for (const { timers } of [...hybrid, ...x25519]) {
  for (const [, timer] of timers) if (!timer.calibrate) await calibrate(timer, settings.warmupMs * 4);
}
const measured = await measureRows([...hybrid, ...x25519]);

const us = (ns) => (ns === undefined ? '–' : (ns / 1000).toFixed(1));
const ratio = (a, b) => (a === undefined || b === undefined ? '–' : `${(a / b).toFixed(2)}×`);
const lines = [
  `### Hybrid KEMs (µs per operation, ${options.stat === 'min' ? 'best' : 'median'} of ${settings.rounds} rounds; liboqs ${status.liboqs.version}, ` +
    `Node ${process.versions.node}, OpenSSL ${process.versions.openssl}, ${os.cpus()[0]?.model ?? os.arch()})`,
  '',
  `| operation | C floor | package | ÷ floor | batch of ${B}, per item | noble | noble ÷ package |`,
  '|---|---:|---:|---:|---:|---:|---:|',
];
const verdicts = [];
hybrid.forEach((row, i) => {
  const [floor, sync, batch, nobleTime] = ['floor', 'sync', 'batch', 'noble'].map((key) => measured[i].get(key));
  lines.push(`| ${row.label} | ${us(floor)} | ${us(sync)} | ${ratio(sync, floor)} | ${us(batch)} | ${us(nobleTime)} | ${ratio(nobleTime, sync)} |`);
  if (row.target) {
    const r = sync / floor;
    verdicts.push(`- ${row.label}: ${r.toFixed(2)}× the C floor (target ≤ ${TARGET}×): ${r <= TARGET ? 'met' : 'MISSED'}`);
  }
});
lines.push(
  '',
  ...verdicts,
  '',
  'X25519 alone: the C floor (system OpenSSL through EVP), the addon (csrc/x25519.cc: the OpenSSL inside Node, used ' +
    'by the hybrids on the native backend) and node:crypto KeyObjects (used on the WebAssembly backend):',
  '',
  '| X25519 | C floor | addon | ÷ floor | node:crypto | ÷ floor |',
  '|---|---:|---:|---:|---:|---:|',
);
x25519.forEach((row, i) => {
  const [floor, addon, node] = ['floor', 'addon', 'node:crypto'].map((key) => measured[hybrid.length + i].get(key));
  lines.push(`| ${row.label} | ${us(floor)} | ${us(addon)} | ${ratio(addon, floor)} | ${us(node)} | ${ratio(node, floor)} |`);
});
console.log(lines.join('\n'));

if (options.write) {
  const section = [
    HYBRID_SECTION,
    '',
    `Generated by scripts/bench-hybrid.mjs --write (part of \`npm run bench -- --write\`) on ${new Date().toISOString().slice(0, 16)}Z, ` +
      'same machine. The C floor is scripts/bench-hybrid-floor.c: the same construction written against liboqs and ' +
      "OpenSSL, on the liboqs file the package loaded. The README's Hybrid KEMs section explains what remains above the floor.",
    '',
    ...lines,
  ].join('\n');
  writeSection(HYBRID_SECTION, section);
  progress('bench-hybrid: wrote the Hybrid KEMs section of BENCHMARKS.md');
}
