import { availableParallelism } from 'node:os';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { closeWasmWorkers, Kem, SecretBytes, Sig } from '../../lib/index.js';
import { Op } from '../../lib/engine.js';
import { packInputs, type PartReply, type PartRequest } from '../../lib/wasm/batch-part.js';
import { POOL_SIZE } from '../../lib/wasm/worker-pool.js';
import { hex, readVectors, runInChild, toHex } from '../support/environment.js';
import { expectRejectCode } from '../support/errors.js';

/**
 * The WebAssembly backend's worker threads (lib/wasm/worker-pool.ts), on every suite run: the
 * objects ask for { backend: 'wasm' } whatever backend the suite selects.
 */

const started: Worker[] = [];
process.on('worker', (worker: Worker) => started.push(worker));

const kem = new Kem('ML-KEM-768', { backend: 'wasm' });
const sig = new Sig('ML-DSA-65', { backend: 'wasm' });
beforeAll(() => Promise.all([kem.ready(), sig.ready()]));

/** The threads a fresh pool starts for what `call` sends it (Node announces each a moment after it is made). */
async function threadsStartedBy<T>(call: () => T, count = POOL_SIZE): Promise<{ result: T; threads: Worker[] }> {
  await closeWasmWorkers();
  const before = started.length;
  const result = call();
  await vi.waitFor(() => expect(started.length - before).toBe(count));
  return { result, threads: started.slice(before) };
}

// Unreduced coefficients (4095 ≥ q): fails FIPS 203's modulus check in the WebAssembly liboqs.
const unreduced = (publicKey: Uint8Array) => publicKey.slice().fill(0xff, 0, publicKey.length - 32);

describe('start-up', () => {
  // First in the file: no other test has started a pool yet.
  it('starts no thread before the first async or batch call, then no more than the pool size', async () => {
    const pair = kem.generateKeyPair();
    const encapsulation = kem.encapsulate(pair.publicKey);
    sig.sign(new Uint8Array(8), sig.generateKeyPair().secretKey);
    expect(toHex(kem.decapsulate(encapsulation.ciphertext, pair.secretKey))).toBe(toHex(encapsulation.sharedSecret));
    expect(started).toHaveLength(0);

    await kem.encapsulateAsync(pair.publicKey);
    expect(started).toHaveLength(1);
    await kem.encapsulateMany(Array.from({ length: 300 }, () => pair.publicKey));
    expect(started).toHaveLength(POOL_SIZE);
  });

  it('is sized like the libuv pool: UV_THREADPOOL_SIZE (default 4), at most the threads that can run at once', () => {
    const threadsFor = (size: string | undefined) => {
      const child = runInChild(
        `let threads = 0;
         process.on('worker', () => threads++);
         const kem = new pqc.Kem('ML-KEM-512');
         const { publicKey } = await kem.generateKeyPairAsync();
         await kem.encapsulateMany(Array.from({ length: 400 }, () => publicKey));
         console.log(threads);`,
        { X0TTA6BL4_PQC_BACKEND: 'wasm', UV_THREADPOOL_SIZE: size },
      );
      expect(child.stderr).toBe('');
      return Number(child.stdout.trim());
    };
    expect(threadsFor('1')).toBe(1);
    expect(threadsFor('64')).toBe(availableParallelism());
  });
});

describe('results on the worker threads are those of the sync calls', () => {
  it.each(['ML-KEM-512', 'ML-KEM-768', 'ML-KEM-1024'])('%s: keys, encapsulations and decapsulations made on either side agree', async (name) => {
    const kem = new Kem(name, { backend: 'wasm' });
    await kem.ready();
    const pairs = await kem.generateKeyPairMany(70);
    const encapsulations = await kem.encapsulateMany(pairs.map((pair) => pair.publicKey));
    // Each secret decapsulated on the calling thread and, in one batch with a key per item, on the workers.
    const pooled = await kem.decapsulateMany(encapsulations.map((e) => e.ciphertext), pairs.map((pair) => pair.secretKey));
    encapsulations.forEach((e, i) => {
      expect(toHex(kem.decapsulate(e.ciphertext, pairs[i]!.secretKey)), `item ${i}`).toBe(toHex(e.sharedSecret));
      expect(toHex(pooled[i]!), `item ${i}`).toBe(toHex(e.sharedSecret));
    });
    const sync = kem.generateKeyPair();
    const async = await kem.encapsulateAsync(sync.publicKey);
    expect(toHex(await kem.decapsulateAsync(async.ciphertext, sync.secretKey))).toBe(toHex(async.sharedSecret));
    expect(toHex(kem.decapsulate(async.ciphertext, sync.secretKey))).toBe(toHex(async.sharedSecret));
    for (const secret of [...pairs.map((pair) => pair.secretKey), ...encapsulations.map((e) => e.sharedSecret), ...pooled]) {
      expect(secret).toBeInstanceOf(SecretBytes);
      expect(secret.buffer.byteLength).toBe(secret.byteLength);
    }
  });

  it.each(['ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87'])('%s: keys and signatures made on either side verify on the other', async (name) => {
    const sig = new Sig(name, { backend: 'wasm' });
    await sig.ready();
    const [pooledKey] = await sig.generateKeyPairMany(1);
    const syncKey = sig.generateKeyPair();
    const messages = Array.from({ length: 9 }, (_, i) => Uint8Array.from({ length: i * 50 }, (_, k) => k + i));
    const signatures = await sig.signMany(messages, pooledKey!.secretKey);
    messages.forEach((message, i) => expect(sig.verify(message, signatures[i]!, pooledKey!.publicKey), `item ${i}`).toBe(true));
    const signed = messages.map((message) => sig.sign(message, syncKey.secretKey));
    expect(await sig.verifyMany(messages, signed, syncKey.publicKey)).toEqual(messages.map(() => true));
    // Each signature checked against its own message and against the next one's.
    const shifted = [...signed.slice(1), signed[0]!];
    expect(await sig.verifyMany(messages, shifted, syncKey.publicKey)).toEqual(messages.map(() => false));
    expect(await sig.verifyAsync(messages[3]!, await sig.signAsync(messages[3]!, syncKey.secretKey), syncKey.publicKey)).toBe(true);
  });

  it('mlkem_768_semi_expanded_decaps_test.json (Wycheproof): the published shared secrets, and the same refusals as sync', async () => {
    const file = readVectors<{ testGroups: { tests: { tcId: number; dk: string; c: string; K: string; result: string }[] }[] }>(
      'wycheproof/mlkem_768_semi_expanded_decaps_test.json',
    );
    const tests = file.testGroups.flatMap((group) => group.tests);
    const valid = tests.filter((t) => t.result === 'valid');
    expect(valid.length).toBeGreaterThan(0);
    const secrets = await kem.decapsulateMany(valid.map((t) => hex(t.c)), valid.map((t) => hex(t.dk)));
    expect(secrets.map(toHex)).toEqual(valid.map((t) => t.K));
    for (const t of tests.filter((t) => t.result === 'invalid')) {
      expect(() => kem.decapsulate(hex(t.c), hex(t.dk)), `tcId ${t.tcId}`).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
      await expectRejectCode(kem.decapsulateAsync(hex(t.c), hex(t.dk)), 'ERR_PQC_INVALID_INPUT');
    }
  });

  it('mldsa_65_verify_test.json (Wycheproof): each group verified in one batch, as the sync calls verify it', async () => {
    const file = readVectors<{ testGroups: { publicKey: string; tests: { tcId: number; msg?: string; sig: string; ctx?: string; result: string }[] }[] }>(
      'wycheproof/mldsa_65_verify_test.json',
    );
    let checked = 0;
    for (const group of file.testGroups) {
      const publicKey = hex(group.publicKey);
      // The WebAssembly liboqs takes no context string; a key of the wrong length is refused before any work.
      const tests = group.tests.filter((t) => !t.ctx);
      if (tests.length === 0 || publicKey.length !== sig.publicKeyLength) continue;
      const messages = tests.map((t) => hex(t.msg ?? ''));
      const signatures = tests.map((t) => hex(t.sig));
      const pooled = await sig.verifyMany(messages, signatures, publicKey);
      expect(pooled).toEqual(tests.map((t) => t.result === 'valid'));
      expect(pooled).toEqual(tests.map((_, i) => sig.verify(messages[i]!, signatures[i]!, publicKey)));
      checked += tests.length;
    }
    expect(checked).toBeGreaterThan(150);
  });
});

describe('errors', () => {
  it('a bad item fails its call with the code the sync call gives, wherever it sits, and the next call runs', async () => {
    const { publicKey, secretKey } = kem.generateKeyPair();
    const bad = unreduced(publicKey);
    expect(() => kem.encapsulate(bad)).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
    for (const at of [0, 150, 299]) {
      await expectRejectCode(kem.encapsulateMany(Array.from({ length: 300 }, (_, i) => (i === at ? bad : publicKey))), 'ERR_PQC_INVALID_INPUT');
    }
    await expectRejectCode(kem.encapsulateAsync(bad), 'ERR_PQC_INVALID_INPUT');
    // A secret key whose stored hash of the public key is wrong fails FIPS 203's check (7.3).
    const corrupt = SecretBytes.copyOf(secretKey);
    corrupt[corrupt.length - 40]! ^= 1;
    const { ciphertext } = kem.encapsulate(publicKey);
    expect(() => kem.decapsulate(ciphertext, corrupt)).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }));
    await expectRejectCode(kem.decapsulateMany([ciphertext, ciphertext], [secretKey, corrupt]), 'ERR_PQC_INVALID_INPUT');
    const good = await kem.encapsulateMany(Array.from({ length: 300 }, () => publicKey));
    expect(toHex(kem.decapsulate(good[299]!.ciphertext, secretKey))).toBe(toHex(good[299]!.sharedSecret));
  });

  it('concurrent calls fail alone: a bad one leaves the good ones beside it whole', async () => {
    const { publicKey, secretKey } = kem.generateKeyPair();
    const calls = Array.from({ length: 40 }, (_, i) => kem.encapsulateAsync(i % 7 === 3 ? unreduced(publicKey) : publicKey));
    const settled = await Promise.allSettled(calls);
    settled.forEach((result, i) => {
      if (i % 7 === 3) {
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason.code).toBe('ERR_PQC_INVALID_INPUT');
      } else {
        const { ciphertext, sharedSecret } = (result as PromiseFulfilledResult<{ ciphertext: Uint8Array; sharedSecret: SecretBytes }>).value;
        expect(toHex(kem.decapsulate(ciphertext, secretKey))).toBe(toHex(sharedSecret));
      }
    });
  });
});

describe('failure and shutdown', () => {
  it('a thread that dies fails the calls it held with ERR_PQC_WORKER_FAILED; the pool starts another for the rest', async () => {
    const { publicKey, secretKey } = kem.generateKeyPair();
    const { result: batch, threads } = await threadsStartedBy(() => kem.encapsulateMany(Array.from({ length: 2000 }, () => publicKey)));
    // Waits behind the batch's parts, which fill every thread: it was on none of them.
    const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
    const before = started.length;
    const waiting = kem.decapsulateAsync(ciphertext, secretKey);
    await Promise.all(threads.map((worker) => worker.terminate()));
    await expectRejectCode(batch, 'ERR_PQC_WORKER_FAILED');
    expect(toHex(await waiting)).toBe(toHex(sharedSecret));
    expect(started.length).toBeGreaterThan(before);

    const again = await kem.encapsulateMany(Array.from({ length: 100 }, () => publicKey));
    expect(toHex(kem.decapsulate(again[99]!.ciphertext, secretKey))).toBe(toHex(again[99]!.sharedSecret));
  });

  it('closeWasmWorkers lets the calls already made finish, ends every thread, and a later call starts new ones', async () => {
    const { publicKey, secretKey } = kem.generateKeyPair();
    const { result: batch, threads } = await threadsStartedBy(() => kem.encapsulateMany(Array.from({ length: 500 }, () => publicKey)));
    const singles = Array.from({ length: 5 }, () => sig.generateKeyPairAsync());
    await closeWasmWorkers();
    for (const worker of threads) expect(worker.threadId).toBe(-1); // exited
    const encapsulations = await batch;
    expect(encapsulations).toHaveLength(500);
    expect(toHex(kem.decapsulate(encapsulations[321]!.ciphertext, secretKey))).toBe(toHex(encapsulations[321]!.sharedSecret));
    for (const pair of await Promise.all(singles)) expect(sig.verify(new Uint8Array(1), sig.sign(new Uint8Array(1), pair.secretKey), pair.publicKey)).toBe(true);

    const { result: later, threads: more } = await threadsStartedBy(() => kem.encapsulateAsync(publicKey), 1);
    await later;
    await closeWasmWorkers();
    await closeWasmWorkers(); // nothing to close: resolves at once
    for (const worker of more) expect(worker.threadId).toBe(-1);
  });
});

describe('secrets crossing threads', () => {
  it('leaves no secret in a buffer the workers sent back: each is wiped once its items are copied out', async () => {
    await closeWasmWorkers();
    const replies: { outputs?: ArrayBuffer[] }[] = [];
    const listen = (worker: Worker) => worker.on('message', (reply) => replies.push(reply));
    process.on('worker', listen);
    try {
      const pairs = await kem.generateKeyPairMany(100);
      const encapsulations = await kem.encapsulateMany(pairs.map((pair) => pair.publicKey));
      const secrets = await kem.decapsulateMany(encapsulations.map((e) => e.ciphertext), pairs.map((pair) => pair.secretKey));
      secrets.forEach((secret, i) => expect(toHex(secret)).toBe(toHex(encapsulations[i]!.sharedSecret)));
      // keygen: [public keys, secret keys]; encaps: [ciphertexts, shared secrets]; decaps: [shared secrets].
      const secretBuffers = replies.flatMap(({ outputs = [] }) => (outputs.length === 2 ? [outputs[1]!] : outputs));
      expect(secretBuffers.length).toBeGreaterThanOrEqual(6);
      for (const buffer of secretBuffers) expect(new Uint8Array(buffer).every((byte) => byte === 0)).toBe(true);
      // The public buffers still hold what was handed out.
      const publicBytes = replies.filter(({ outputs = [] }) => outputs.length === 2).map(({ outputs }) => new Uint8Array(outputs![0]!));
      expect(publicBytes.every((bytes) => bytes.some((byte) => byte !== 0))).toBe(true);
    } finally {
      process.off('worker', listen);
    }
  });
  it('a worker thread wipes the inputs it was sent, secret keys among them, once it has run them', async () => {
    const { publicKey, secretKey } = kem.generateKeyPair();
    const encapsulations = [kem.encapsulate(publicKey), kem.encapsulate(publicKey)];
    const packed = packInputs([encapsulations.map((e) => e.ciphertext), secretKey], 0, 2);
    // Shared instead of transferred, so that this thread sees what the worker leaves in it.
    const shared = new SharedArrayBuffer(packed.bytes.byteLength);
    new Uint8Array(shared).set(new Uint8Array(packed.bytes));
    const worker = new Worker(new URL('../../lib/wasm/wasm-worker.js', import.meta.url));
    try {
      const request = { id: 1, name: kem.name, op: Op.KemDecaps, count: 2, layout: packed.layout, outputLengths: [32], bytes: shared };
      worker.postMessage(request as unknown as PartRequest);
      const [reply] = (await once(worker, 'message')) as [PartReply];
      if (!('outputs' in reply)) throw new Error(`the worker failed: ${reply.error.message}`);
      const secrets = new Uint8Array(reply.outputs[0]!);
      expect(toHex(secrets.subarray(0, 32))).toBe(toHex(encapsulations[0]!.sharedSecret));
      expect(toHex(secrets.subarray(32))).toBe(toHex(encapsulations[1]!.sharedSecret));
      expect(new Uint8Array(shared).every((byte) => byte === 0)).toBe(true);
    } finally {
      await worker.terminate();
    }
  });
});

describe('process exit', () => {
  const wasm = { X0TTA6BL4_PQC_BACKEND: 'wasm' };

  it('an idle pool does not keep a process alive', () => {
    const child = runInChild(
      `const kem = new pqc.Kem('ML-KEM-768');
       const { publicKey, secretKey } = await kem.generateKeyPairAsync();
       const { ciphertext, sharedSecret } = await kem.encapsulateAsync(publicKey);
       const secret = await kem.decapsulateAsync(ciphertext, secretKey);
       console.log(Buffer.compare(secret, sharedSecret) === 0 ? 'agreed' : 'differ');`,
      wasm,
    );
    expect(child).toMatchObject({ status: 0, stdout: 'agreed\n', stderr: '' });
  });

  it('work in flight keeps it alive until done, as the libuv pool does, then lets it exit', () => {
    const child = runInChild(
      `const kem = new pqc.Kem('ML-KEM-512');
       await kem.ready();
       const { publicKey } = kem.generateKeyPair();
       kem.encapsulateMany(Array.from({ length: 500 }, () => publicKey)).then((all) => console.log('done', all.length));`,
      wasm,
    );
    expect(child).toMatchObject({ status: 0, stdout: 'done 500\n', stderr: '' });
  });

  it('process.exit with work in flight exits at once, with its own code, without finishing the work', () => {
    const child = runInChild(
      `const kem = new pqc.Kem('ML-KEM-1024');
       await kem.ready();
       const { publicKey } = kem.generateKeyPair();
       kem.encapsulateMany(Array.from({ length: 100000 }, () => publicKey)).then(() => console.log('finished'));
       kem.generateKeyPairAsync().then(() => { console.log('exiting'); process.exit(7); });`,
      wasm,
    );
    expect(child).toMatchObject({ status: 7, stdout: 'exiting\n', stderr: '' });
  });
});
