#!/usr/bin/env node
// node scripts/bench-libp2p.mjs [--quick] [--rounds N] [--write] [--allow-wasm]   (npm run bench:libp2p)
//
// x0tta6bl4-pqc/libp2p's encrypter against @chainsafe/libp2p-noise, in one run, on loopback TCP
// with yamux, the two in alternating rounds so that both meet the same machine load:
//
// 1. Connection set-up: dial to a secured, multiplexed connection (libp2p's dial() resolves
//    then), the connection closed before the next dial; per dial.
// 2. Throughput: one yamux stream carrying THROUGHPUT_BYTES in 64 KiB writes to a handler that
//    reads them all and answers one byte; MB/s of payload (1 MB = 10^6 bytes).
//
// libp2p 3 needs Node >= 22: on an older Node this script runs itself again on Node 26
// (scripts/install-node.mjs). Markdown goes to stdout, progress to stderr; --write puts the
// tables in the "## libp2p" section of BENCHMARKS.md. Exits 1 when it cannot measure.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dist, failer, progress, requireNative } from './bench-support.mjs';
import { LIBP2P_SECTION, writeSection } from './benchmarks-file.mjs';
import { installNode } from './install-node.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The bench scripts' statistics are the package's (lib/bench/timing.ts), built into dist/.
const { median, percentiles: summary } = await dist('bench/timing.js');
const fail = failer('bench-libp2p');
const PROTOCOL = '/x0tta6bl4-bench/throughput/1';
const CHUNK = 64 * 1024;

if (Number(process.versions.node.split('.')[0]) < 22) {
  const node = installNode('26');
  progress(`bench-libp2p: libp2p 3 needs Node >= 22; running on ${node}`);
  const run = spawnSync(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(run.status ?? 1);
}

function parseArgs(argv) {
  const options = { quick: false, write: false, allowWasm: false, rounds: undefined };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--quick') options.quick = true;
    else if (argv[i] === '--write') options.write = true;
    else if (argv[i] === '--allow-wasm') options.allowWasm = true;
    else if (argv[i] === '--rounds') options.rounds = Number(argv[++i]);
    else fail(`unknown option ${argv[i]} (known: --quick, --rounds N, --write, --allow-wasm)`);
  }
  if (options.rounds !== undefined && !(Number.isInteger(options.rounds) && options.rounds > 0)) fail('--rounds takes a whole number above 0');
  return options;
}


async function loadLibp2p() {
  const [{ createLibp2p }, { tcp }, { yamux }, { noise }, { generateKeyPair }, { peerIdFromPrivateKey }, { Registry }] = await Promise.all([
    import('libp2p'),
    import('@libp2p/tcp'),
    import('@libp2p/yamux'),
    import('@chainsafe/libp2p-noise'),
    import('@libp2p/crypto/keys'),
    import('@libp2p/peer-id'),
    import('prom-client'),
  ]);
  return { createLibp2p, tcp, yamux, noise, generateKeyPair, peerIdFromPrivateKey, Registry };
}

/** Two nodes secured by `kind` ('pq' or 'noise'); the second serves the throughput protocol. */
async function pair(kind, pkg, lib, directory) {
  const nodes = [];
  for (let i = 0; i < 2; i++) {
    const privateKey = await lib.generateKeyPair('Ed25519');
    let encrypter;
    let mesh;
    if (kind === 'pq') {
      const nodeId = lib.peerIdFromPrivateKey(privateKey).toString();
      const quiet = { fatal() {}, error() {}, warn() {}, info() {}, debug() {} };
      // The per-peer initiation bucket (5/s) would refuse a bench's back-to-back dials of one peer.
      const limits = { initiationBurst: 1e9, initiationsPerSecond: 1e9 };
      mesh = await pkg.PQMeshSecurity.create({ nodeId, logger: quiet, registry: new lib.Registry(), trustedPeers: (id) => directory.get(id), limits });
      directory.set(nodeId, mesh.getPublicKeys());
      encrypter = pkg.libp2p.pqMeshEncrypter({ mesh });
    } else {
      encrypter = lib.noise();
    }
    const node = await lib.createLibp2p({
      privateKey,
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [lib.tcp()],
      connectionEncrypters: [encrypter],
      streamMuxers: [lib.yamux()],
      // libp2p refuses more than 5 inbound connections a second from one host by default.
      connectionManager: { maxConnections: 1000, inboundConnectionThreshold: 1e6 },
    });
    nodes.push({ node, mesh });
  }
  await nodes[1].node.handle(PROTOCOL, async (stream) => {
    let received = 0;
    for await (const chunk of stream) received += chunk.byteLength;
    stream.send(Uint8Array.of(received > 0 ? 1 : 0));
    await stream.close();
  });
  return {
    dialer: nodes[0].node,
    target: nodes[1].node,
    /** The suite of the dialer's open channel to the target (pq only). */
    suite: () => nodes[0].mesh?.channels(nodes[1].node.peerId.toString())[0]?.suite,
    async stop() {
      for (const { node, mesh } of nodes) {
        await node.stop();
        await mesh?.close();
      }
    },
  };
}

async function setUpTimes(p, dials) {
  const address = p.target.getMultiaddrs()[0];
  const times = [];
  for (let i = 0; i < dials; i++) {
    const start = performance.now();
    const connection = await p.dialer.dial(address, { force: true });
    times.push(performance.now() - start);
    await connection.close();
  }
  return times;
}

async function throughput(p, bytes, seen) {
  const connection = await p.dialer.dial(p.target.getMultiaddrs()[0]);
  const suite = p.suite();
  if (suite) seen.add(suite);
  const stream = await connection.newStream(PROTOCOL);
  const chunk = new Uint8Array(CHUNK).fill(0x5a);
  const start = performance.now();
  for (let sent = 0; sent < bytes; sent += CHUNK) {
    if (!stream.send(chunk)) await stream.onDrain();
  }
  await stream.close();
  for await (const answer of stream) if (answer.byteLength > 0) break;
  const seconds = (performance.now() - start) / 1000;
  await connection.close();
  return bytes / seconds / 1e6;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const pkg = { ...(await dist('index.js')), libp2p: await dist('libp2p/index.js') };
  await pkg.ready();
  const status = pkg.info();
  requireNative(status, options.allowWasm, fail);
  const lib = await loadLibp2p();
  const rounds = options.rounds ?? (options.quick ? 2 : 5);
  const dials = options.quick ? 10 : 30;
  const bytes = (options.quick ? 16 : 64) * 2 ** 20;
  const backendLabel = status.backend === 'native' ? `native, liboqs ${status.liboqs?.version}` : `${status.backend.toUpperCase()} BACKEND (not native)`;
  const model = os.cpus()[0]?.model ?? os.arch();
  progress(`bench-libp2p: ${backendLabel}; ${os.availableParallelism()} cores (${model}); Node ${process.versions.node}; ${rounds} rounds`);
  const loadBefore = os.loadavg()[0];
  const directory = new Map();
  const results = { pq: { setUp: [], throughput: [] }, noise: { setUp: [], throughput: [] } };
  const suites = new Set();
  for (let round = 0; round < rounds; round++) {
    for (const kind of round % 2 ? ['noise', 'pq'] : ['pq', 'noise']) {
      progress(`  round ${round + 1} of ${rounds}: ${kind}, ${dials} dials and ${bytes / 2 ** 20} MiB over one stream`);
      const p = await pair(kind, pkg, lib, directory);
      try {
        await setUpTimes(p, 2); // warm-up: code paths, key caches
        results[kind].setUp.push(...(await setUpTimes(p, dials)));
        results[kind].throughput.push(await throughput(p, bytes, suites));
      } finally {
        await p.stop();
      }
    }
  }
  const pqSetUp = summary(results.pq.setUp);
  const noiseSetUp = summary(results.noise.setUp);
  const pqMBs = median(results.pq.throughput);
  const noiseMBs = median(results.noise.throughput);
  const load = `load average ${loadBefore.toFixed(1)} → ${os.loadavg()[0].toFixed(1)}`;
  const ms = (value) => value.toFixed(2);
  const body = [
    LIBP2P_SECTION,
    '',
    `\`npm run bench:libp2p\` (scripts/bench-libp2p.mjs): two libp2p nodes on loopback TCP with yamux, secured by`,
    `\`pqMeshEncrypter\` (${[...suites].join(', ')}, plus the Ed25519 binding) or by \`@chainsafe/libp2p-noise\``,
    `(XX, X25519, ChaCha20-Poly1305), in alternating rounds in one process; ${backendLabel}, Node ${process.versions.node},`,
    `${os.availableParallelism()} cores (${model}), ${load}.`,
    '',
    `### Connection set-up: dial to a secured, multiplexed connection (ms; ${results.pq.setUp.length} dials each)`,
    '',
    '| encrypter | median | p95 | mean |',
    '|---|---:|---:|---:|',
    `| x0tta6bl4-pq | ${ms(pqSetUp.p50)} | ${ms(pqSetUp.p95)} | ${ms(pqSetUp.mean)} |`,
    `| noise | ${ms(noiseSetUp.p50)} | ${ms(noiseSetUp.p95)} | ${ms(noiseSetUp.mean)} |`,
    `| ratio x0tta6bl4-pq ÷ noise | ${(pqSetUp.p50 / noiseSetUp.p50).toFixed(2)} | ${(pqSetUp.p95 / noiseSetUp.p95).toFixed(2)} | ${(pqSetUp.mean / noiseSetUp.mean).toFixed(2)} |`,
    '',
    `### Throughput over one yamux stream (MB/s of payload, ${bytes / 2 ** 20} MiB in 64 KiB writes; median of ${rounds})`,
    '',
    '| encrypter | MB/s |',
    '|---|---:|',
    `| x0tta6bl4-pq (AES-256-GCM records of up to 64 KiB with their framing) | ${pqMBs.toFixed(0)} |`,
    `| noise (ChaCha20-Poly1305 messages of up to 64 KiB) | ${noiseMBs.toFixed(0)} |`,
    `| ratio x0tta6bl4-pq ÷ noise | ${(pqMBs / noiseMBs).toFixed(2)} |`,
    '',
    'Per connection, x0tta6bl4-pq does one hybrid KEM exchange, an ML-DSA-65 signature and verification',
    'and an Ed25519 signature and verification on each side, and four handshake messages (about 9.5 KB',
    'with X-Wing and PeerIds as node ids); Noise XX does three X25519 exchanges and one Ed25519 signature and',
    'verification per side in three messages of about 0.4 KB together. Both negotiate yamux inside the handshake.',
    'Throughput is bounded by the AEAD and by the copies around it (one per record each way for x0tta6bl4-pq\'s framing).',
    'Absolute figures depend on the machine and what else it runs (the load average above); the two',
    'encrypters alternate rounds, so their ratio is the comparison.',
    '',
  ].join('\n');
  process.stdout.write(`${body}\n`);
  if (options.write) writeSection(LIBP2P_SECTION, body);
}

main().then(
  () => process.exit(0),
  (error) => fail(error?.stack ?? (error instanceof Event ? `a stream closed: ${error.type} ${error.error?.stack ?? error.error ?? ""}` : String(error))),
);
