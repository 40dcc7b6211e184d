// The native workload that npm run test:valgrind runs under memcheck (scripts/test-valgrind.mjs):
// the loader's refusals, then every KEM and signature scheme the loaded liboqs enables — sync,
// async and batch — then every error the addon raises, X25519, and worker_threads that load the
// addon and exit or are terminated with batches in flight. Every result is checked, so that
// memcheck sees the paths that work as well as the ones that refuse. Prints one JSON line of
// counts; exits 1 on a wrong result.
import { Worker } from 'node:worker_threads';

const dist = (file) => new URL(`../dist/${file}`, import.meta.url).href;
const { loadAddon } = await import(dist('native/addon.js'));
const { Op } = await import(dist('engine.js'));

const counts = { kems: 0, sigs: 0, operations: 0, refusals: 0, workers: 0 };
const same = (a, b) => Buffer.from(a).equals(Buffer.from(b));
function check(condition, what) {
  if (!condition) {
    console.error(`valgrind workload: wrong result: ${what}`);
    process.exit(1);
  }
  counts.operations++;
}
/** `fn` must throw (or reject with) an error with `code`. */
async function refused(code, what, fn) {
  let error;
  try {
    await fn();
  } catch (caught) {
    error = caught;
  }
  check(error?.code === code, `${what}: expected ${code}, got ${error?.code ?? 'no error'} (${error?.message})`);
  counts.refusals++;
}

// The loader, before any liboqs is in the process: a missing file, a library without
// OQS_version (the C library itself), a wrong argument.
const addon = loadAddon();
await refused('ERR_PQC_LIBOQS_NOT_FOUND', 'load a missing file', () => addon.load('/nonexistent/liboqs.so'));
await refused('ERR_PQC_LIBOQS_NOT_FOUND', 'load a library that is not liboqs', () => addon.load('libc.so.6'));
await refused('ERR_PQC_INVALID_INPUT', 'load without a path', () => addon.load());
await refused('ERR_PQC_LIBOQS_NOT_LOADED', 'algorithms before load', () => addon.algorithms());
await refused('ERR_PQC_LIBOQS_NOT_LOADED', 'an Algorithm before load', () => new addon.Algorithm('kem', 'ML-KEM-512'));

const { Kem, Sig, info } = await import(dist('index.js'));
const status = info();
if (status.backend !== 'native') {
  console.error(`valgrind workload: no native liboqs (${status.nativeUnavailable?.message})`);
  process.exit(2);
}
await refused('ERR_PQC_LIBOQS_ALREADY_LOADED', 'a second liboqs', () => addon.load('liboqs.so'));
const { kems, sigs } = addon.algorithms();

for (const name of kems) {
  const kem = new Kem(name);
  const pair = kem.generateKeyPair();
  const sync = kem.encapsulate(pair.publicKey);
  check(same(kem.decapsulate(sync.ciphertext, pair.secretKey), sync.sharedSecret), `${name} sync round trip`);
  const async = await kem.encapsulateAsync(pair.publicKey);
  check(same(await kem.decapsulateAsync(async.ciphertext, pair.secretKey), async.sharedSecret), `${name} async round trip`);
  const pairs = await kem.generateKeyPairMany(3);
  const batch = await kem.encapsulateMany(pairs.map((p) => p.publicKey));
  const secrets = await kem.decapsulateMany(batch.map((e) => e.ciphertext), pairs.map((p) => p.secretKey));
  check(batch.every((e, i) => same(e.sharedSecret, secrets[i])), `${name} batch round trip`);
  const raw = new addon.Algorithm('kem', name);
  if (raw.keypairSeedLength > 0) {
    const seed = new Uint8Array(raw.keypairSeedLength).fill(7);
    check(same(kem.generateKeyPair({ seed }).publicKey, (await kem.generateKeyPairAsync({ seed })).publicKey), `${name} keys from a seed`);
  } else {
    await refused('ERR_PQC_UNSUPPORTED_CAPABILITY', `${name} keys from a seed`, () =>
      raw.run(Op.KemKeypairDerand, new Uint8Array(64), new Uint8Array(raw.publicKeyLength), new Uint8Array(raw.secretKeyLength)));
  }
  if (raw.encapsSeedLength > 0) {
    const seed = new Uint8Array(raw.encapsSeedLength).fill(9);
    const [a, b] = [kem.encapsulate(pair.publicKey, { seed }), await kem.encapsulateAsync(pair.publicKey, { seed })];
    check(same(a.ciphertext, b.ciphertext) && same(a.sharedSecret, b.sharedSecret), `${name} encapsulation from a seed`);
  }
  // A ciphertext of the right length but altered: implicit rejection, a different secret.
  const altered = sync.ciphertext.slice();
  altered[0] ^= 1;
  check(!same(kem.decapsulate(altered, pair.secretKey), sync.sharedSecret), `${name} altered ciphertext`);
  counts.kems++;
}

const message = new TextEncoder().encode('valgrind workload');
for (const name of sigs) {
  const sig = new Sig(name);
  const pair = sig.generateKeyPair();
  const raw = new addon.Algorithm('sig', name);
  const options = raw.contextSupported ? { context: Uint8Array.of(1, 2, 3) } : {};
  const signature = sig.sign(message, pair.secretKey, options);
  check(sig.verify(message, signature, pair.publicKey, options), `${name} sync signature`);
  check(!sig.verify(message.subarray(1), signature, pair.publicKey, options), `${name} another message`);
  const async = await sig.signAsync(message, pair.secretKey, options);
  check(await sig.verifyAsync(message, async, pair.publicKey, options), `${name} async signature`);
  const signer = (await sig.generateKeyPairMany(2))[1];
  const messages = [message, message.subarray(2), new Uint8Array(0)];
  const signatures = await sig.signMany(messages, signer.secretKey, options);
  const verified = await sig.verifyMany(messages, [signatures[0], signatures[2], signatures[2]], signer.publicKey, options);
  check(verified.join() === 'true,false,true', `${name} batch signatures`);
  // A signature of the wrong length is a false verification, not an error, in the addon too.
  check(raw.run(Op.SigVerify, message, signature.subarray(1), pair.publicKey, new Uint8Array(0)) === 0, `${name} short signature`);
  if (!raw.contextSupported) {
    await refused('ERR_PQC_INVALID_INPUT', `${name} with a context`, () =>
      raw.run(Op.SigVerify, message, signature, pair.publicKey, new Uint8Array(1)));
  }
  counts.sigs++;
}

// Every refusal of the addon's argument checks, sync and batch, on the first of each family.
const kem = new addon.Algorithm('kem', kems[0]);
const sig = new addon.Algorithm('sig', sigs[0]);
const bytes = (length) => new Uint8Array(length);
const pk = () => bytes(kem.publicKeyLength);
const encapsOutputs = () => [bytes(kem.ciphertextLength), bytes(kem.sharedSecretLength)];
const detached = () => {
  const view = pk();
  structuredClone(view.buffer, { transfer: [view.buffer] });
  return view;
};
const invalid = [
  ['no op', () => kem.run()],
  ['op not a number', () => kem.run('encaps', pk(), ...encapsOutputs())],
  ['op out of range', () => kem.run(99)],
  ['a signature op on a KEM', () => kem.run(Op.SigKeypair, bytes(1), bytes(1))],
  ['too few operands', () => kem.run(Op.KemEncaps, pk())],
  ['not a Uint8Array', () => kem.run(Op.KemEncaps, new Uint16Array(kem.publicKeyLength / 2), ...encapsOutputs())],
  ['a short input', () => kem.run(Op.KemEncaps, pk().subarray(1), ...encapsOutputs())],
  ['a short output', () => kem.run(Op.KemEncaps, pk(), bytes(1), bytes(kem.sharedSecretLength))],
  ['a detached input', () => kem.run(Op.KemEncaps, detached(), ...encapsOutputs())],
  ['a context over 255 bytes', () => sig.run(Op.SigVerify, bytes(1), bytes(1), bytes(sig.publicKeyLength), bytes(256))],
  ['an unknown family', () => new addon.Algorithm('cipher', kems[0])],
  ['a name that is not a string', () => new addon.Algorithm('kem', 7)],
  ['batch count 0', () => kem.runAsync(Op.KemEncaps, 0, 1, pk())],
  ['batch count too large', () => kem.runAsync(Op.KemEncaps, 2 ** 21, 1, pk())],
  ['batch workers 0', () => kem.runAsync(Op.KemEncaps, 1, 0, pk())],
  ['batch of the wrong size', () => kem.runAsync(Op.KemEncaps, 3, 1, [pk(), pk()])],
  ['batch item of the wrong length', () => kem.runAsync(Op.KemEncaps, 2, 1, [pk(), bytes(5)])],
  ['batch item detached', () => kem.runAsync(Op.KemEncaps, 2, 1, [pk(), detached()])],
  // A secret operand refused part-way: the copied keys before it are wiped and freed.
  ['batch secret key refused part-way', () =>
    kem.runAsync(Op.KemDecaps, 3, 1, [bytes(kem.ciphertextLength), bytes(kem.ciphertextLength), bytes(kem.ciphertextLength)],
      [bytes(kem.secretKeyLength), bytes(kem.secretKeyLength), bytes(3)])],
  // 2^20 secret keys: over the 1 GiB copy cap, refused before anything is copied.
  ['batch inputs over the copy cap', () =>
    kem.runAsync(Op.KemDecaps, 2 ** 20, 1, bytes(kem.ciphertextLength), Array(2 ** 20).fill(bytes(kem.secretKeyLength)))],
  ['batch outputs over the cap', () => kem.runAsync(Op.KemKeypair, 2 ** 20, 1)],
];
for (const [what, fn] of invalid) await refused('ERR_PQC_INVALID_INPUT', what, fn);
// liboqs 0.14+ (mlkem-native) checks an ML-KEM public key itself: one with coefficients not
// reduced mod q is liboqs's error, in a sync call and in a batch, whose outputs are then wiped.
const [, minor] = status.liboqs.version.split('.').map(Number);
if (minor >= 14 && kems[0].startsWith('ML-KEM-')) {
  const unreduced = pk().fill(0xff);
  await refused('ERR_PQC_OPERATION_FAILED', 'liboqs refuses a key', () => kem.run(Op.KemEncaps, unreduced, ...encapsOutputs()));
  await refused('ERR_PQC_OPERATION_FAILED', 'liboqs refuses a key in a batch', () => kem.runAsync(Op.KemEncaps, 3, 2, [pk(), unreduced, pk()]));
}
await refused('ERR_PQC_UNSUPPORTED_ALGORITHM', 'an unknown KEM', () => new addon.Algorithm('kem', 'Kyber-9000'));
await refused('ERR_PQC_UNSUPPORTED_ALGORITHM', 'an unknown signature', () => new addon.Algorithm('sig', 'Kyber-9000'));

// X25519 through the addon, where Node's OpenSSL offers it: RFC 7748's agreement, a small-order
// peer (false, all zero) and the argument checks.
if (addon.x25519SharedSecret) {
  const [a, b] = [[bytes(32), bytes(32)], [bytes(32), bytes(32)]];
  addon.x25519GenerateKey(...a);
  addon.x25519GenerateKey(...b);
  const [ab, ba] = [bytes(32), bytes(32)];
  check(addon.x25519SharedSecret(...a, b[1], ab) && addon.x25519SharedSecret(...b, a[1], ba) && same(ab, ba), 'X25519 agreement');
  const out = bytes(32).fill(1);
  check(addon.x25519SharedSecret(...a, bytes(32), out) === false && out.every((byte) => byte === 0), 'X25519 small-order peer');
  await refused('ERR_PQC_INVALID_INPUT', 'X25519 short scalar', () => addon.x25519PublicKey(bytes(31), bytes(32)));
  await refused('ERR_PQC_INVALID_INPUT', 'X25519 missing argument', () => addon.x25519SharedSecret(...a, b[1]));
}

// worker_threads: each loads the addon into its own environment and runs batches on the main
// thread's keys; half exit when done, half are terminated with batches in flight.
const keys = new Kem(kems[0]).generateKeyPair();
const source = `import { parentPort, workerData } from 'node:worker_threads';
  import { Kem } from ${JSON.stringify(dist('kem.js'))};
  const kem = new Kem(workerData.name);
  const pending = [kem.encapsulateMany(Array(8).fill(workerData.publicKey)), kem.generateKeyPairMany(8)];
  parentPort.postMessage('in flight');
  const [encapsulations] = await Promise.all(pending);
  parentPort.postMessage(encapsulations.map((e) => [e.ciphertext, Uint8Array.from(e.sharedSecret)]));`;
const outcomes = await Promise.all(
  [false, true, false, true].map(
    (terminate) =>
      new Promise((resolve, reject) => {
        const worker = new Worker(source, { eval: true, execArgv: ['--input-type=module'], workerData: { name: kems[0], publicKey: keys.publicKey } });
        let result;
        worker.on('message', (message) => (message === 'in flight' ? terminate && worker.terminate() : (result = message)));
        worker.once('error', reject);
        worker.once('exit', () => resolve({ terminate, result }));
      }),
  ),
);
const mainKem = new Kem(kems[0]);
for (const { terminate, result } of outcomes) {
  if (!terminate) check(result?.length === 8 && result.every(([ct, ss]) => same(mainKem.decapsulate(ct, keys.secretKey), ss)), 'a worker\'s batch');
  counts.workers++;
}

console.log(JSON.stringify({ liboqs: status.liboqs.version, ...counts, algorithms: [...kems, ...sigs] }));
