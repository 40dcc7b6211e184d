import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { info, ready } from '../../lib/index.js';
import { PQMeshSecurity } from '../../lib/mesh/index.js';
import { HIGH_SUITE, probeSuite, suiteSupport, X25519MLKEM768_SUITE, XWING_SUITE } from '../../lib/mesh/suites.js';
import { runCli } from '../policy/support.js';
import { environment, native, NATIVE_SKIP, requireNative } from '../support/environment.js';
import { expectRejectCode } from '../support/errors.js';
import { captureLogger } from '../policy/support.js';
import { connectPair, counter, messages, nodePair, silentLogger } from './support.js';

await ready();

const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const text = (data: Uint8Array) => Buffer.from(data).toString();

if (!native && !requireNative) console.warn(`[x0tta6bl4-pqc] tests skipped: a node on the WebAssembly backend talking to a native one: ${NATIVE_SKIP}`);

describe(`mesh operations on the ${environment.backend} backend`, () => {
  it.skipIf(!native)(`a node on the WebAssembly liboqs talks to a node on the native liboqs, each with the best suite it can${native ? '' : ` (${NATIVE_SKIP})`}`, async () => {
    const registry = new Registry();
    const nativeNode = await PQMeshSecurity.create({ nodeId: 'native', registry, logger: silentLogger });
    const wasmNode = await PQMeshSecurity.create({ nodeId: 'wasm', registry, logger: silentLogger, backend: 'wasm' });
    nativeNode.trustPeer(wasmNode.getPublicKeys());
    wasmNode.trustPeer(nativeNode.getPublicKeys());
    expect(wasmNode.getSecurityLevel().backend).toBe('wasm');
    expect(nativeNode.getSecurityLevel().backend).toBe('native');
    // The WebAssembly liboqs cannot make X-Wing keys, but encapsulates to them: a native initiator gets X-Wing where it can.
    const xWing = info().capabilities.kemKeypairDerand;
    const fromNative = await connectPair(nativeNode, wasmNode);
    expect(fromNative.outbound.suite).toBe(xWing ? 'XWING-MLDSA65' : 'X25519MLKEM768-MLDSA65');
    const fromWasm = await connectPair(wasmNode, nativeNode);
    expect(fromWasm.outbound.suite).toBe('X25519MLKEM768-MLDSA65');
    for (const { outbound, inbound } of [fromNative, fromWasm]) {
      const got = messages(inbound, 1);
      await outbound.send(bytes('across backends'));
      expect(text((await got)[0]!)).toBe('across backends');
      await outbound.rotateKeys();
      const next = messages(outbound, 1);
      await inbound.send(bytes('rotated'));
      expect(text((await next)[0]!)).toBe('rotated');
    }
    const signature = wasmNode.signBeacon(bytes('beacon'));
    expect(nativeNode.verifyBeacon(bytes('beacon'), signature, 'wasm')).toBe(true);
    await Promise.all([nativeNode.close(), wasmNode.close()]);
  });

  it('reports in doctor the suites the backend runs, as a real probe finds them', async () => {
    const support = suiteSupport(info());
    for (const suite of [XWING_SUITE, X25519MLKEM768_SUITE, HIGH_SUITE]) {
      const probe = await probeSuite(suite);
      const row = support.find((s) => s.name === suite.name)!;
      expect(probe).not.toBeInstanceOf(Error);
      expect({ initiate: row.initiate, respond: row.respond }).toEqual({
        initiate: (probe as { canInitiate: boolean }).canInitiate,
        respond: (probe as { canRespond: boolean }).canRespond,
      });
    }
    const doctor = runCli(['doctor', '--json'], environment.liboqs ? { X0TTA6BL4_LIBOQS_PATH: environment.liboqs.path } : {});
    expect(JSON.parse(doctor.stdout).meshSuites).toEqual(support);
  });

  it('asks a trust function (a directory service) per node id, and refuses what it does not vouch for', async () => {
    const registry = new Registry();
    const directory = new Map<string, unknown>();
    const lookups: string[] = [];
    const options = {
      registry,
      logger: silentLogger,
      trustedPeers: async (nodeId: string) => {
        lookups.push(nodeId);
        return directory.get(nodeId) as never;
      },
    };
    const a = await PQMeshSecurity.create({ ...options, nodeId: 'node-a' });
    const b = await PQMeshSecurity.create({ ...options, nodeId: 'node-b' });
    directory.set('node-a', JSON.parse(JSON.stringify(a.getPublicKeys())));
    directory.set('node-b', b.getPublicKeys());
    const { outbound } = await connectPair(a, b);
    expect(outbound.peerId).toBe('node-b');
    expect(lookups).toEqual(expect.arrayContaining(['node-a', 'node-b']));
    // A directory answering with another node's keys trusts nobody.
    directory.set('node-b', a.getPublicKeys());
    const listener = await b.listen();
    await expectRejectCode(a.establishSecureChannel('node-b', { port: listener.port }), 'ERR_PQC_UNKNOWN_PEER');
    expect(() => a.verifyBeacon(bytes('x'), new Uint8Array(10), 'node-b')).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_CONFIGURATION' }));
    await Promise.all([a.close(), b.close()]);
  });

  it('fails a handshake the peer never answers with reason timeout', async () => {
    const registry = new Registry();
    const a = await PQMeshSecurity.create({ nodeId: 'node-a', registry, logger: silentLogger, limits: { timeoutMs: 200 } });
    const b = await PQMeshSecurity.create({ nodeId: 'node-b', registry, logger: silentLogger });
    a.trustPeer(b.getPublicKeys());
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const port = (silent.address() as { port: number }).port;
    await expectRejectCode(a.establishSecureChannel('node-b', { port }), 'ERR_PQC_HANDSHAKE_TIMEOUT');
    expect(await counter(registry, 'pqc_handshake_failure_total', { reason: 'timeout' })).toBe(1);
    silent.close();
    await Promise.all([a.close(), b.close()]);
  });

  it('logs a warning for a handshake over the 100 ms SLO, as the seed’s record_handshake_success does', async () => {
    let ticks = 0;
    // Every reading of this clock is 60 ms after the last, so any handshake takes well over 100 ms.
    const clock = { now: () => (ticks += 60), setTimeout: () => 0, clearTimeout: () => {} };
    const capture = captureLogger();
    const { a, b } = await nodePair({ clock, logger: capture.logger });
    await connectPair(a, b);
    const slow = capture.records().filter((record) => record.event === 'pqc_handshake_slow');
    expect(slow.length).toBeGreaterThanOrEqual(2);
    expect(slow[0]).toMatchObject({ level: 40, sloSeconds: 0.1 });
    await Promise.all([a.close(), b.close()]);
  });

  it('never writes key material into its logs', async () => {
    const capture = captureLogger();
    const { a, b } = await nodePair({ logger: capture.logger });
    await connectPair(a, b);
    await expectRejectCode(a.establishSecureChannel('node-a', { port: 1 }), 'ERR_PQC_REFLECTION');
    const all = capture.lines.join('\n');
    expect(all).toContain('pqc_handshake_ok');
    expect(all).not.toMatch(/[0-9a-f]{64}/);
    await Promise.all([a.close(), b.close()]);
  });
});
