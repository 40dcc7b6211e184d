// Copied by check-install.mjs into the fresh project it installed the tarball into, so that
// the package resolves exactly as a user's code resolves it. PQC_CHECK_EXPECT: native | wasm.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const expected = process.env.PQC_CHECK_EXPECT;
assert.ok(expected === 'native' || expected === 'wasm', `PQC_CHECK_EXPECT=${expected}`);

// The addon node-gyp-build picks must be the shipped prebuild: nothing may have compiled.
const require = createRequire(import.meta.url);
const packageDir = path.dirname(require.resolve('x0tta6bl4-pqc/package.json'));
const nodeGypBuild = createRequire(path.join(packageDir, 'package.json'))('node-gyp-build');
const addonPath = path.relative(packageDir, nodeGypBuild.resolve(packageDir));
assert.equal(addonPath, path.join('prebuilds', `linux-${process.arch}`, 'x0tta6bl4-pqc.glibc.node'));

const { info, ready, Kem, Sig } = await import('x0tta6bl4-pqc');
await ready();
const about = info();
assert.equal(about.backend, expected, `backend; nativeUnavailable: ${JSON.stringify(about.nativeUnavailable)}`);
if (expected === 'wasm') {
  // The addon itself loaded and only liboqs is missing, not "no addon for this platform".
  assert.equal(about.nativeUnavailable?.code, 'ERR_PQC_LIBOQS_NOT_FOUND', about.nativeUnavailable?.message);
}

const same = (a, b) => a.length === b.length && Buffer.compare(a, b) === 0;

const kem = new Kem('ML-KEM-768');
const { publicKey, secretKey } = kem.generateKeyPair();
const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
const recovered = kem.decapsulate(ciphertext, secretKey);
assert.deepEqual([publicKey.length, secretKey.length, ciphertext.length], [1184, 2400, 1088]);
assert.ok(sharedSecret.length === 32 && same(recovered, sharedSecret), 'ML-KEM-768 shared secrets differ');

const sig = new Sig('ML-DSA-65');
const keys = sig.generateKeyPair();
const message = new TextEncoder().encode('x0tta6bl4-pqc install check');
const signature = sig.sign(message, keys.secretKey);
assert.equal(signature.length, 3309);
assert.equal(sig.verify(message, signature, keys.publicKey), true, 'ML-DSA-65 rejects its own signature');
const forged = Uint8Array.from(signature);
forged[forged.length >> 1] ^= 0x01;
assert.equal(sig.verify(message, forged, keys.publicKey), false, 'ML-DSA-65 accepts a flipped byte');

// The pooled calls: on the WebAssembly backend they run on worker threads loaded from the
// installed package's own files.
const [pooled] = await kem.encapsulateMany([publicKey]);
assert.ok(same(await kem.decapsulateAsync(pooled.ciphertext, secretKey), pooled.sharedSecret), 'ML-KEM-768 batch and async secrets differ');

// The installed package finds its policy files, and its example config is compliant, the rule
// file it names included (found, so nothing unchecked). Imported rather than run as the CLI, so
// that this works under --emulator too, where starting another node needs binfmt_misc.
const policyCheck = await import(pathToFileURL(path.join(packageDir, 'dist', 'policy', 'policy-check.js')).href);
const example = path.join(packageDir, 'policy', 'examples', 'production.json');
const report = policyCheck.checkDeployment(policyCheck.readDeploymentConfig(example), { configDir: path.dirname(example) });
assert.deepEqual({ findings: report.findings, unchecked: report.unchecked }, { findings: [], unchecked: [] }, 'policy check of the shipped example');

// `x0tta6bl4-pqc bench` needs nothing outside the package (no scripts/, no devDependency): one
// brief round of every row, from the installed files, on the backend in use.
const { runBench } = await import(pathToFileURL(path.join(packageDir, 'dist', 'bench', 'run-bench.js')).href);
const bench = await runBench({ budget: 'smoke' });
assert.equal(bench.backend, expected, 'the backend bench measured');
assert.equal(bench.primitives.rows.length, 18, 'bench: ML-KEM and ML-DSA rows');
for (const row of bench.primitives.rows) assert.ok(row.us.sync > 0 && row.us.batch > 0, `bench: ${row.algorithm} ${row.operation}`);
assert.ok(bench.hybrids.rows.length > 0 && bench.handshake.ratios.handshakeOverPrimitives > 0 && bench.channel.rows.length === 2, 'bench: hybrids, handshake, channel');

const source = about.liboqs
  ? `liboqs ${about.liboqs.version} at ${about.liboqs.path}`
  : `${about.wasm?.package} ${about.wasm?.version}; native: ${about.nativeUnavailable?.code}`;
console.log(`ok ${process.arch} node ${process.version}: ${addonPath}, backend ${about.backend} (${source}); ` +
  `ML-KEM-768 round trip (sync, batch, async), ML-DSA-65 sign/verify/forgery, policy example compliant, bench --smoke in ${bench.seconds} s`);
