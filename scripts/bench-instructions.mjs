#!/usr/bin/env node
// npm run bench:instructions [-- --all] [-- --only TEXT] [-- --write]
//
// Instructions per operation, counted by valgrind's callgrind: the package's sync calls beside
// liboqs's own C harness (scripts/bench-harness.c) on the same liboqs file. An instruction count
// does not move with whatever else the machine is running, so on a shared machine this is the
// repeatable measure of what the binding adds to liboqs. It does not see what costs time
// without instructions (cache misses on fresh memory, page faults): the time tables do.
//
// Each count is a difference, (I(n2) − I(n1)) ÷ (n2 − n1), between two runs of one process
// that differ only in how many operations they make, so start-up, loading and JIT compilation
// cancel out. By default ML-KEM-768 and ML-DSA-65; --all every ML-KEM and ML-DSA set.
import { execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { failer, progress } from './bench-support.mjs';
import { INSTRUCTIONS_SECTION, writeSection } from './benchmarks-file.mjs';
import { compileC } from './compile-c.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fail = failer('bench-instructions');

const options = { all: false, only: '', write: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--all') options.all = true;
  else if (argv[i] === '--write') options.write = true;
  else if (argv[i] === '--only' && argv[i + 1] !== undefined) options.only = argv[++i];
  else fail(`unknown option ${argv[i]}; options: --all, --only TEXT, --write`);
}

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  fail('needs valgrind (Debian: apt-get install valgrind)');
}
const packageUrl = pathToFileURL(path.join(root, 'dist', 'index.js')).href;
const { info, Kem, Sig } = await import(packageUrl);
const status = info();
if (status.backend !== 'native') {
  fail(`needs the native backend: ${status.nativeUnavailable?.message.split('\n')[0] ?? status.backend}`);
}
const harness = compileC('bench-harness', ['-lpthread']);

// What a sync call of the package does, and its …Into form where there is one. The message
// length is the harness's (scripts/bench-harness.c).
const MESSAGE_LENGTH = 64;
const KEM_CALLS = {
  keygen: { sync: 'kem.generateKeyPair()', into: 'kem.generateKeyPairInto(pair)' },
  encaps: { sync: 'kem.encapsulate(pair.publicKey)', into: 'kem.encapsulateInto(pair.publicKey, encapsulation)' },
  decaps: {
    sync: 'kem.decapsulate(encapsulation.ciphertext, pair.secretKey)',
    into: 'kem.decapsulateInto(encapsulation.ciphertext, pair.secretKey, secret)',
  },
};
const SIG_CALLS = {
  keypair: { sync: 'sig.generateKeyPair()' },
  sign: { sync: 'sig.sign(message, pair.secretKey)' },
  verify: { sync: 'sig.verify(message, signature, pair.publicKey)' },
};

function childScript(family, name, call, count) {
  const setup =
    family === 'kem'
      ? `const kem = new Kem(${JSON.stringify(name)}); const pair = kem.generateKeyPair();
         const encapsulation = kem.encapsulate(pair.publicKey); const secret = new Uint8Array(kem.sharedSecretLength);`
      : `const sig = new Sig(${JSON.stringify(name)}); const pair = sig.generateKeyPair();
         const message = new Uint8Array(${MESSAGE_LENGTH}).map((_, i) => i); const signature = sig.sign(message, pair.secretKey);`;
  return `import { Kem, Sig } from ${JSON.stringify(packageUrl)};
    ${setup}
    let sink;
    for (let i = 0; i < ${count}; i++) sink = ${call};
    globalThis.sink = sink;`;
}

/** Instructions callgrind counts in one run of `command`. */
function countInstructions(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn('valgrind', ['--tool=callgrind', '--smc-check=all-non-file', '--callgrind-out-file=/dev/null', command, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => {
      const match = /Collected : (\d+)/.exec(stderr);
      if (code !== 0 || !match) reject(new Error(`${command} ${args.slice(0, 4).join(' ')} … under callgrind: ${stderr.split('\n').slice(-5).join(' ')}`));
      else resolve(Number(match[1]));
    });
  });
}

async function perOperation(run, [n1, n2]) {
  const [a, b] = await Promise.all([run(n1), run(n2)]);
  return (b - a) / (n2 - n1);
}

// Operations per run: enough that the difference dwarfs the runs' own variation (JIT timing,
// the GC), few enough that a row takes seconds under callgrind.
const COUNTS = { keygen: [2000, 10000], encaps: [2000, 10000], decaps: [2000, 10000], keypair: [500, 2500], sign: [300, 1500], verify: [500, 2500] };

const algorithms = (options.all ? ['ML-KEM-512', 'ML-KEM-768', 'ML-KEM-1024', 'ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87'] : ['ML-KEM-768', 'ML-DSA-65']).filter(
  (name) => name.includes(options.only),
);
const rows = [];
for (const name of algorithms) {
  const family = name.startsWith('ML-KEM') ? 'kem' : 'sig';
  for (const [op, calls] of Object.entries(family === 'kem' ? KEM_CALLS : SIG_CALLS)) {
    progress(`  ${name} ${op}`);
    const counts = COUNTS[op];
    const c = await perOperation((n) => countInstructions(harness, [status.liboqs.path, name, op, String(n), '1', '0']), counts);
    const node = (call) => perOperation((n) => countInstructions(process.execPath, ['--input-type=module', '-e', childScript(family, name, call, n)]), counts);
    const sync = await node(calls.sync);
    const into = calls.into ? await node(calls.into) : undefined;
    rows.push({ name, op, c, sync, into });
  }
}

const k = (n) => (n === undefined ? '—' : `${(n / 1000).toFixed(1)}k`);
const ratio = (a, b) => (a === undefined ? '—' : (a / b).toFixed(3));
const lines = [
  INSTRUCTIONS_SECTION,
  '',
  'Instructions per operation counted by valgrind (callgrind), which the machine\'s load does not move: liboqs C',
  '(scripts/bench-harness.c, reused buffers), the package\'s sync call (fresh outputs) and its `…Into` form (reused',
  'buffers, KEMs only), on the same liboqs file; from `npm run bench:instructions` (scripts/bench-instructions.mjs).',
  'They show what the binding executes beside liboqs, not what fresh memory costs in time (see Results). A count',
  'moves by a few thousand between runs (when the GC and the JIT run); ML-DSA signing by more, as the harness and the',
  'package sign different messages with different keys and the rejection loop repeats a random number of times.',
  '',
  '| Algorithm | Operation | liboqs C | native sync | ÷ C | native sync, …Into | ÷ C |',
  '|---|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.name} | ${r.op} | ${k(r.c)} | ${k(r.sync)} | ${ratio(r.sync, r.c)} | ${k(r.into)} | ${ratio(r.into, r.c)} |`),
  '',
  `- liboqs ${status.liboqs.version} (${status.liboqs.path}), Node ${process.versions.node}, ${os.arch()}, ` +
    `${execFileSync('valgrind', ['--version'], { encoding: 'utf8' }).trim()}; ${new Date().toISOString().slice(0, 16)}Z`,
];
console.log(lines.join('\n'));
if (options.write) {
  writeSection(INSTRUCTIONS_SECTION, lines.join('\n'));
  progress('bench-instructions: wrote the Instructions per operation section of BENCHMARKS.md');
}
