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
// The rows, the package's timers and the timing are the package's own (dist/bench/, also run by
// `x0tta6bl4-pqc bench`); this script adds the C floor, the noble column and BENCHMARKS.md.
// Every timer is warmed up and calibrated, then all timers of all rows run in alternating rounds
// from a collected heap; the table shows the best round of each (--stat median for the medians),
// because the machine may be shared. Markdown
// goes to stdout, progress to stderr. Exits 1 when it cannot measure, not when a target is missed
// (the table says so, with the numbers).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dist, failer, progress } from './bench-support.mjs';
import { HYBRID_SECTION, writeSection } from './benchmarks-file.mjs';
import { compileC } from './compile-c.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGET = 1.5; // X-Wing time ÷ C floor, at most

const fail = failer('bench-hybrid');

function parseArgs(argv) {
  const options = { quick: false, rounds: undefined, batch: undefined, stat: 'min', write: false };
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

let pqc;
try {
  pqc = Object.assign({}, ...(await Promise.all(['index.js', 'bench/timing.js', 'bench/hybrid-rows.js'].map(dist))));
} catch (error) {
  fail(`cannot load dist/ (${error.message.split('\n')[0]}); build first: npm run build`);
}
const { info, HYBRID_KEMS, HYBRID_SETTINGS, hybridRows, x25519Rows, measureTogether, summariseAll, syncTimer, warmUp } = pqc;
const defaults = HYBRID_SETTINGS[options.quick ? 'quick' : 'full'];
const settings = { ...defaults, rounds: options.rounds ?? defaults.rounds, batch: options.batch ?? defaults.batch };
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

const floorTimer = (construction, op) => ({
  items: 1,
  measure: async (calls) => runFloor(construction, op, calls),
  calibrate: async () => runFloor(construction, op, 16),
});

// ---------------------------------------------------------------------------------------------
// The rows: the package's, with the C floor first and noble (X-Wing only) last.

const CONSTRUCTIONS = { 'X-Wing': 'xwing', X25519MLKEM768: 'x25519mlkem768' };
const X25519_FLOOR = { keygen: 'x25519-keygen', 'derive-imported': 'x25519-derive', 'derive-raw': 'x25519-derive' };
const B = settings.batch;

async function withFloorAndNoble(name) {
  const construction = CONSTRUCTIONS[name];
  const nobleKeys = noble && name === 'X-Wing' ? noble.keygen() : undefined;
  const nobleCiphertext = nobleKeys && noble.encapsulate(nobleKeys.publicKey).cipherText;
  return (await hybridRows(name, 'native', B)).map((row) => ({
    ...row,
    // X-Wing's encapsulation and decapsulation (the key remembered) are held to the target.
    target: name === 'X-Wing' && row.operation !== 'decaps-seed',
    timers: [
      ['floor', floorTimer(construction, row.operation)],
      ...row.timers,
      ...(nobleKeys
        ? [['noble', syncTimer(row.operation === 'encaps' ? () => noble.encapsulate(nobleKeys.publicKey) : () => noble.decapsulate(nobleCiphertext, nobleKeys.secretKey))]]
        : []),
    ],
  }));
}

// ---------------------------------------------------------------------------------------------

progress(`liboqs ${status.liboqs.version} (${status.liboqs.path}); ${settings.rounds} rounds, batches of ${B}, ` +
  `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}, ${os.availableParallelism()} CPUs`);
const hybrid = [];
for (const name of HYBRID_KEMS) hybrid.push(...(await withFloorAndNoble(name).catch((error) => fail(error.message))));
const x25519 = x25519Rows().map((row) => ({ ...row, timers: [['floor', floorTimer('xwing', X25519_FLOOR[row.operation])], ...row.timers] }));
progress('  warming up');
const all = [...hybrid, ...x25519];
await warmUp(all.flatMap((row) => row.timers), settings.warmupMs * 4);
const measured = (
  await measureTogether(
    all.map((row) => row.timers),
    settings,
    { stagger: 5, onRound: (round) => progress(`  round ${round + 1} of ${settings.rounds}`) },
  )
).map((samples) => new Map(Object.entries(summariseAll(samples, options.stat))));

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
