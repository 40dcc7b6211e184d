import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from './support/environment.js';

// The published types as a user's project meets them: the packed tarball (package.json
// "files" and "exports", dist/*.d.ts) in a project of its own outside this tree, where nothing
// resolves upward into our node_modules, compiled with --strict and no "types" setting (the
// default, which TypeScript 5 reads as "every @types package" and 6+ as "none").
const CONSUMER = `
import { Registry } from 'prom-client';
import { Kem, PQMeshSecurity, pqcMetrics, SecretBytes, Sig, startup, type PqcMetrics, type SecureChannel } from 'x0tta6bl4-pqc';
import { pqMeshEncrypter, controlPlaneGossipsubOptions, type PQMeshEncrypterComponents } from 'x0tta6bl4-pqc/libp2p';

const kem = new Kem('ML-KEM-768');
const { publicKey, secretKey } = kem.generateKeyPair();
const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
const secret: SecretBytes = kem.decapsulate(ciphertext, secretKey);
const bytes: Uint8Array = secret;
secret.wipe();
sharedSecret[Symbol.dispose]();
const copy: SecretBytes = SecretBytes.copyOf(bytes);

const sig = new Sig('ML-DSA-65');
const keys = sig.generateKeyPair();
const verified: boolean = sig.verify(bytes, sig.sign(bytes, keys.secretKey, {}), keys.publicKey);

const metrics: PqcMetrics = pqcMetrics(new Registry());
metrics.handshakeSuccess.inc();
const { warnings, fallback } = await startup({ registry: metrics.registry });
fallback.on('alert', () => {});

const mesh = await PQMeshSecurity.create({ nodeId: 'consumer' });
mesh.on('channel', (channel: SecureChannel) => channel.close());
const listener = await mesh.listen({ port: 0 });
await listener.close();

// The libp2p subpath, with its peer dependencies installed beside it.
const encrypter = pqMeshEncrypter({ mesh });
const protocol: string = encrypter({} as PQMeshEncrypterComponents).protocol;
const signing: string | undefined = controlPlaneGossipsubOptions().globalSignaturePolicy;

// Proof that the types are ours and not \`any\`: each line must be an error.
// @ts-expect-error an algorithm name is a string
new Kem(768);
// @ts-expect-error a shared secret is bytes
const text: string = kem.decapsulate(ciphertext, secretKey);
// @ts-expect-error the encrypter takes a PQMeshSecurity
pqMeshEncrypter({ mesh: 'node-1' });

export const used = [copy, verified, warnings, text, protocol, signing];
`;

const TSCONFIG = {
  // skipDefaultLibCheck spares TypeScript's own lib.*.d.ts, a quarter of TypeScript 5's time; ours and @types are still checked.
  compilerOptions: { strict: true, module: 'nodenext', target: 'es2022', noEmit: true, skipDefaultLibCheck: true },
  files: ['consumer.ts'],
};

// npm run sets npm_* variables that would reconfigure the inner npm.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('npm_')));
const require = createRequire(path.join(projectRoot, 'package.json'));

function tscOf(packageName: string) {
  const manifest = require(`${packageName}/package.json`) as { version: string; bin: { tsc: string } };
  return { version: manifest.version, bin: path.join(path.dirname(require.resolve(`${packageName}/package.json`)), manifest.bin.tsc) };
}

let consumer: string;

beforeAll(() => {
  consumer = fs.mkdtempSync(path.join(os.tmpdir(), 'x0tta6bl4-pqc-consumer-'));
  const installed = path.join(consumer, 'node_modules', 'x0tta6bl4-pqc');
  fs.mkdirSync(installed, { recursive: true });
  // --ignore-scripts: prepack would build both prebuilds, which the types do not need.
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', consumer], { cwd: projectRoot, env: cleanEnv, encoding: 'utf8' })) as [{ filename: string }];
  execFileSync('tar', ['-xzf', path.join(consumer, packed.filename), '-C', installed, '--strip-components=1']);

  // What npm would install beside it: the package's dependencies, the libp2p peer dependencies
  // (a consumer of x0tta6bl4-pqc/libp2p installs them), and the consumer's @types/node.
  const { dependencies, peerDependencies } = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
  for (const name of [...Object.keys({ ...dependencies, ...peerDependencies }), '@types/node']) {
    const link = path.join(consumer, 'node_modules', name);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.join(projectRoot, 'node_modules', name), link, 'dir');
  }
  fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  fs.writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  fs.writeFileSync(path.join(consumer, 'consumer.ts'), CONSUMER);
});

afterAll(() => {
  if (consumer) fs.rmSync(consumer, { recursive: true, force: true });
});

describe('the published types in a consumer project (--strict, no "types")', () => {
  it.each([
    ['typescript', /^7\./],
    ['typescript5', /^5\./],
  ])('compile with %s', (packageName, major) => {
    const tsc = tscOf(packageName);
    expect(tsc.version).toMatch(major);
    // The libp2p subpath's types (gossipsub's among them) make TypeScript 5 take tens of seconds on a loaded machine.
    const result = spawnSync(process.execPath, [tsc.bin, '-p', consumer], { cwd: consumer, encoding: 'utf8', timeout: 150_000 });
    expect(`${result.stdout}${result.stderr}`, `TypeScript ${tsc.version}`).toBe('');
    expect(result.status).toBe(0);
  }, 160_000);
});
