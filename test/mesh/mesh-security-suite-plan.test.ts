import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { Kem, PQCFallbackHandler, PqcError, ready } from '../../lib/index.js';
import { FramedTransport, generateIdentity, PQMeshSecurity } from '../../lib/mesh/index.js';
import { X25519MLKEM768_SUITE } from '../../lib/mesh/suites.js';
import { environment } from '../support/environment.js';
import { silentLogger, linkedStreams } from './support.js';

await ready();

const identity = await generateIdentity();
const create = (options: object) => PQMeshSecurity.create({ nodeId: 'node-n', identity, logger: silentLogger, ...options });
const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as PqcError);
const CLASSICAL = 'CLASSICAL-X25519-MLDSA65';

describe(`which suites a node plans at create on the ${environment.backend} backend`, () => {
  it('refuses a suites option that is not a non-empty list', async () => {
    for (const suites of [[], 'X25519MLKEM768-MLDSA65']) {
      expect(await refusal(create({ suites }))).toMatchObject({ code: 'ERR_PQC_INVALID_CONFIGURATION', message: 'suites must be a non-empty list of suite names' });
    }
  });

  it('takes a suite given as its object as well as by name', async () => {
    const node = await create({ suites: [X25519MLKEM768_SUITE] });
    expect(node.getSecurityLevel().suite).toBe('X25519MLKEM768-MLDSA65');
    await node.close();
  });

  it('refuses a suite that signs with another algorithm than the identity, naming both', async () => {
    expect(await refusal(create({ suites: ['MLKEM1024-MLDSA87'] }))).toMatchObject({
      code: 'ERR_PQC_INVALID_CONFIGURATION',
      message: "suite MLKEM1024-MLDSA87 signs with ML-DSA-87, but this node's identity is ML-DSA-65",
    });
  });

  it('refuses a named suite the backend can only respond to, but plans it as accept-only by default', async () => {
    // The WebAssembly build cannot make X-Wing keys (README, Suites): it responds to X-Wing but cannot initiate it.
    const error = await refusal(create({ backend: 'wasm', suites: ['XWING-MLDSA65'] }));
    expect(error).toMatchObject({ code: 'ERR_PQC_UNSUPPORTED_CAPABILITY', message: expect.stringMatching(/^suite XWING-MLDSA65 cannot run on this backend: \S/) });
    const node = await create({ backend: 'wasm' });
    expect(node.getSecurityLevel()).toMatchObject({ suite: 'X25519MLKEM768-MLDSA65', backend: 'wasm' });
    await node.close();
  });

  it('refuses, by default, an identity whose suites can neither initiate nor respond on the backend', async () => {
    // Key generation and encapsulation both fail: each suite's probe says neither side runs.
    const broken = () => {
      throw new PqcError('ERR_PQC_OPERATION_FAILED', 'the backend failed');
    };
    const mlDsa87 = await generateIdentity('ML-DSA-87');
    const spies = [vi.spyOn(Kem.prototype, 'generateKeyPair').mockImplementation(broken), vi.spyOn(Kem.prototype, 'encapsulate').mockImplementation(broken)];
    try {
      expect(await refusal(create({ identity: mlDsa87 }))).toMatchObject({
        code: 'ERR_PQC_UNSUPPORTED_CAPABILITY',
        message: 'no post-quantum suite for a ML-DSA-87 identity runs on this backend',
      });
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });

  it('refuses an identity algorithm that no post-quantum suite signs with', async () => {
    const mlDsa44 = await generateIdentity('ML-DSA-44');
    expect(await refusal(create({ identity: mlDsa44 }))).toMatchObject({
      code: 'ERR_PQC_UNSUPPORTED_CAPABILITY',
      message: 'no post-quantum suite for a ML-DSA-44 identity runs on this backend',
    });
  });

  it('by default plans the classical suite for an ML-DSA-65 identity only (README, Suites)', async () => {
    const registry = new Registry();
    const inFallback = () => {
      const handler = new PQCFallbackHandler({ logger: silentLogger, registry, shutdown: () => {} });
      handler.enable('forced');
      return handler;
    };
    const classicalOnly = await PQMeshSecurity.create({ nodeId: 'node-c', registry, logger: silentLogger, suites: [CLASSICAL], fallback: inFallback() });
    const byDefault = await PQMeshSecurity.create({ nodeId: 'node-d', registry, logger: silentLogger, fallback: inFallback() });
    const high = await PQMeshSecurity.create({ nodeId: 'node-h', registry, logger: silentLogger, identity: { algorithm: 'ML-DSA-87' }, fallback: inFallback() });
    for (const [x, y] of [[classicalOnly, byDefault], [high, classicalOnly]] as const) {
      x.trustPeer(y.getPublicKeys());
      y.trustPeer(x.getPublicKeys());
    }
    // A default ML-DSA-65 node in fallback mode accepts the classical suite...
    const [left, right] = linkedStreams();
    const [outbound] = await Promise.all([classicalOnly.openChannel(new FramedTransport(left), 'node-d'), byDefault.acceptChannel(new FramedTransport(right))]);
    expect(outbound.suite).toBe(CLASSICAL);
    // ...an ML-DSA-87 node has no suite for an ML-DSA-65 peer, even in fallback mode: it sends nothing.
    let sent = 0;
    const [highLeft] = linkedStreams(() => void sent++);
    expect(await refusal(high.openChannel(new FramedTransport(highLeft), 'node-c'))).toMatchObject({ reason: 'unsupported_suite', code: 'ERR_PQC_NO_COMMON_SUITE' });
    expect(sent).toBe(0);
    await Promise.all([classicalOnly.close(), byDefault.close(), high.close()]);
  });
});
