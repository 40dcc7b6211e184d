import { Worker } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import { Kem, PqcError, Sig } from '../lib/index.js';
import type { LiboqsStatus } from '../lib/native/addon.js';
import { loadLiboqs } from '../lib/native/native-backend.js';
import { native, NATIVE_SKIP, nativeChildEnv, runInChild, sanitized } from './support/environment.js';

/**
 * Many async operations in flight at once on shared keys: from the event loop, and from
 * worker_threads that each load the addon into an environment of their own while the main
 * thread keeps its own operations going. Every result is checked against the other side
 * (a ciphertext made in one thread decapsulates in another, a signature verifies there), and
 * workers that come and go, some terminated with batches in flight, give their memory back.
 */
const KEM = 'ML-KEM-768';
const SIG = 'ML-DSA-44';
const WORKERS = 4;
const IN_FLIGHT = 24;

const dist = (file: string) => JSON.stringify(new URL(`../dist/${file}`, import.meta.url).href);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

interface WorkerResult {
  backend: string;
  agree: boolean;
  ciphertexts: Uint8Array[];
  sharedSecrets: Uint8Array[];
  messages: Uint8Array[];
  signatures: Uint8Array[];
}

// Each worker: single async calls and batches on the shared keys, all started before any is
// awaited; it checks its own decapsulations and hands everything back for the main thread's.
const WORKER_SOURCE = `import { parentPort, workerData } from 'node:worker_threads';
  import { Kem } from ${dist('kem.js')};
  import { Sig } from ${dist('sig.js')};
  const { index, inFlight, kemKeys, sigKeys } = workerData;
  const kem = new Kem(${JSON.stringify(KEM)});
  const sig = new Sig(${JSON.stringify(SIG)});
  const messages = Array.from({ length: inFlight }, (_, i) => Uint8Array.of(index, i));
  const [singles, many, signatures, signedOne] = await Promise.all([
    Promise.all(Array.from({ length: inFlight }, () => kem.encapsulateAsync(kemKeys.publicKey))),
    kem.encapsulateMany(Array(inFlight).fill(kemKeys.publicKey)),
    sig.signMany(messages, sigKeys.secretKey),
    sig.signAsync(messages[0], sigKeys.secretKey),
  ]);
  const encapsulations = [...singles, ...many];
  const decapsulated = await Promise.all(encapsulations.map((e) => kem.decapsulateAsync(e.ciphertext, kemKeys.secretKey)));
  const verified = await sig.verifyMany(messages, signatures, sigKeys.publicKey);
  parentPort.postMessage({
    backend: kem.backend,
    agree: encapsulations.every((e, i) => Buffer.from(e.sharedSecret).equals(Buffer.from(decapsulated[i])))
      && verified.every(Boolean) && (await sig.verifyAsync(messages[0], signedOne, sigKeys.publicKey)),
    ciphertexts: encapsulations.map((e) => e.ciphertext),
    sharedSecrets: encapsulations.map((e) => Uint8Array.from(e.sharedSecret)),
    messages,
    signatures: [...signatures, signedOne],
  });`;

function runWorker(workerData: object): Promise<{ result: WorkerResult; exitCode: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: ['--input-type=module'], workerData });
    let result: WorkerResult | undefined;
    worker.once('message', (message: WorkerResult) => (result = message));
    worker.once('error', reject);
    worker.once('exit', (exitCode) => (result ? resolve({ result, exitCode }) : reject(new Error(`worker exited ${exitCode} without a result`))));
  });
}

describe('worker_threads loading liboqs at the same moment', () => {
  // Each thread asks status(), finds none and loads; the loser's load() is refused as a second
  // liboqs. It used to report every candidate "already loaded" as ERR_PQC_LIBOQS_NOT_FOUND.
  it('a liboqs that another thread loaded between status() and load() is taken, not reported missing', () => {
    const winner: LiboqsStatus = { path: '/lib/liboqs.so.9', version: '0.16.0', kemKeypairDerand: true, kemEncapsDerand: true, sigContext: true };
    let loadedByOther = false;
    const addon = {
      status: () => (loadedByOther ? winner : null),
      load: (path: string): LiboqsStatus => {
        loadedByOther = true;
        throw new PqcError('ERR_PQC_LIBOQS_ALREADY_LOADED', `liboqs is already loaded from ${winner.path}, not ${path}`);
      },
    };
    expect(loadLiboqs(addon, ['liboqs.so.9', 'liboqs.so.8'])).toBe(winner);
  });

  it.skipIf(!native)(`in a fresh process, ${2 * WORKERS} workers that load the package at once all get the native backend${native ? '' : ` (skipped: ${NATIVE_SKIP})`}`, () => {
    const body = `import { Worker } from 'node:worker_threads';
      const source = ${JSON.stringify(`import { parentPort } from 'node:worker_threads';
        import { info } from ${dist('index.js')};
        const { backend, nativeUnavailable } = info();
        parentPort.postMessage(backend === 'native' ? backend : nativeUnavailable?.code);`)};
      const backends = await Promise.all(Array.from({ length: ${2 * WORKERS} }, () => new Promise((resolve, reject) => {
        const worker = new Worker(source, { eval: true, execArgv: ['--input-type=module'] });
        worker.once('message', resolve);
        worker.once('error', reject);
      })));
      console.log(JSON.stringify(backends));`;
    const { status, stdout, stderr } = runInChild(body, nativeChildEnv());
    expect(status, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual(Array(2 * WORKERS).fill('native'));
  });
});

// Workers load the package afresh, which takes most of a second on a busy machine.
vi.setConfig({ testTimeout: 120_000 });

describe.skipIf(!native)(`concurrent async operations on shared keys${native ? '' : ` (skipped: ${NATIVE_SKIP})`}`, () => {
  const kem = native ? new Kem(KEM) : (undefined as never);
  const sig = native ? new Sig(SIG) : (undefined as never);

  it(`from the event loop: ${IN_FLIGHT * 4} KEM and signature operations in flight at once, every result checked`, async () => {
    const [kemKeys, sigKeys] = await Promise.all([kem.generateKeyPairAsync(), sig.generateKeyPairAsync()]);
    const messages = Array.from({ length: IN_FLIGHT }, (_, i) => Uint8Array.of(i, 0xee));
    const earlier = kem.encapsulate(kemKeys.publicKey);
    const [singles, many, signatures, again, keyPairs] = await Promise.all([
      Promise.all(Array.from({ length: IN_FLIGHT }, () => kem.encapsulateAsync(kemKeys.publicKey))),
      kem.encapsulateMany(Array(IN_FLIGHT).fill(kemKeys.publicKey)),
      Promise.all(messages.map((message) => sig.signAsync(message, sigKeys.secretKey))),
      kem.decapsulateMany(Array(IN_FLIGHT).fill(earlier.ciphertext), kemKeys.secretKey),
      kem.generateKeyPairMany(IN_FLIGHT),
    ]);
    const encapsulations = [...singles, ...many];
    // Randomized encapsulation: an item never run, or run twice into one buffer, would repeat.
    expect(new Set(encapsulations.map((e) => Buffer.from(e.ciphertext).toString('hex'))).size).toBe(2 * IN_FLIGHT);
    const decapsulated = await Promise.all(encapsulations.map((e) => kem.decapsulateAsync(e.ciphertext, kemKeys.secretKey)));
    expect(encapsulations.every((e, i) => same(e.sharedSecret, decapsulated[i]!))).toBe(true);
    expect(again.every((secret) => same(secret, earlier.sharedSecret))).toBe(true);
    expect(await sig.verifyMany(messages, signatures, sigKeys.publicKey)).toEqual(Array(IN_FLIGHT).fill(true));
    expect(sig.verify(messages[1]!, signatures[0]!, sigKeys.publicKey)).toBe(false);
    for (const pair of keyPairs) {
      const { ciphertext, sharedSecret } = kem.encapsulate(pair.publicKey);
      expect(same(kem.decapsulate(ciphertext, pair.secretKey), sharedSecret)).toBe(true);
    }
  });

  it(`from ${WORKERS} worker_threads at once, each with the addon loaded, while the main thread runs its own`, async () => {
    const kemPair = kem.generateKeyPair();
    const sigPair = sig.generateKeyPair();
    // Plain copies: a worker receives its keys by structured clone.
    const kemKeys = { publicKey: kemPair.publicKey.slice(), secretKey: Uint8Array.from(kemPair.secretKey) };
    const sigKeys = { publicKey: sigPair.publicKey.slice(), secretKey: Uint8Array.from(sigPair.secretKey) };
    const workers = Array.from({ length: WORKERS }, (_, index) => runWorker({ index, inFlight: IN_FLIGHT, kemKeys, sigKeys }));
    const mine = Promise.all(Array.from({ length: IN_FLIGHT }, () => kem.encapsulateAsync(kemPair.publicKey)));
    const [results, own] = await Promise.all([Promise.all(workers), mine]);

    for (const [index, { result, exitCode }] of results.entries()) {
      expect({ index, exitCode, backend: result.backend, agree: result.agree }).toEqual({ index, exitCode: 0, backend: 'native', agree: true });
      expect(result.ciphertexts).toHaveLength(2 * IN_FLIGHT);
      result.ciphertexts.forEach((ciphertext, i) => {
        expect(same(kem.decapsulate(ciphertext, kemPair.secretKey), result.sharedSecrets[i]!), `worker ${index}, item ${i}`).toBe(true);
      });
      result.signatures.forEach((signature, i) => {
        expect(sig.verify(result.messages[i % IN_FLIGHT]!, signature, sigPair.publicKey), `worker ${index}, signature ${i}`).toBe(true);
      });
    }
    const all = results.flatMap(({ result }) => result.ciphertexts).concat(own.map((e) => e.ciphertext));
    expect(new Set(all.map((c) => Buffer.from(c).toString('hex'))).size).toBe(all.length);
    for (const { ciphertext, sharedSecret } of own) expect(same(kem.decapsulate(ciphertext, kemPair.secretKey), sharedSecret)).toBe(true);
  });

  it('workers that come and go, half of them terminated with batches in flight, give back their memory', () => {
    // In a fresh process: rounds of workers that each copy ~1.5 MiB of batch inputs into the
    // addon and take ~3 MiB of outputs. RSS is read after warm-up rounds and after the rest; a
    // worker environment or batch that was not freed would add its share every round.
    const body = `import { Worker } from 'node:worker_threads';
      import v8 from 'node:v8';
      import vm from 'node:vm';
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc');
      const source = ${JSON.stringify(`import { parentPort } from 'node:worker_threads';
        import { Kem } from ${dist('kem.js')};
        const kem = new Kem('ML-KEM-1024');
        const { publicKey } = kem.generateKeyPair();
        const keys = Array(1024).fill(publicKey);
        const batches = [kem.encapsulateMany(keys), kem.generateKeyPairMany(256)];
        parentPort.postMessage('in flight');
        await Promise.all(batches);`)};
      const round = async (r) => Promise.all(Array.from({ length: ${WORKERS} }, (_, i) => new Promise((resolve, reject) => {
        const worker = new Worker(source, { eval: true, execArgv: ['--input-type=module'] });
        worker.once('error', reject);
        worker.once('exit', resolve);
        if ((i + r) % 2 === 0) worker.once('message', () => worker.terminate());
      })));
      const settle = async () => { for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 20)); } };
      for (let r = 0; r < 3; r++) await round(r);
      await settle();
      const warm = process.memoryUsage().rss;
      for (let r = 3; r < 13; r++) await round(r);
      await settle();
      console.log(JSON.stringify({ warm, end: process.memoryUsage().rss }));`;
    const { status, stdout, stderr } = runInChild(body, nativeChildEnv());
    expect(status, stderr).toBe(0);
    // ASan holds freed memory back in quarantine, so RSS says nothing there; LeakSanitizer checks
    // this child when it exits instead (npm run test:asan fails on its report).
    if (sanitized) return;
    const { warm, end } = JSON.parse(stdout) as { warm: number; end: number };
    const MiB = 2 ** 20;
    // 40 workers measured: 48 MiB is 1.2 MiB each, a third of one worker's batches, far less
    // than its environment. Returned, RSS moves by a few MiB of allocator noise.
    expect((end - warm) / MiB, `RSS ${Math.round(warm / MiB)} MiB after warm-up, ${Math.round(end / MiB)} MiB at the end`).toBeLessThan(48);
  });
});
