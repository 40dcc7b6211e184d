import { connect, createServer, type Server, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { Kem } from '../../lib/kem.js';
import { Sig } from '../../lib/sig.js';
import type { Logger } from '../../lib/logger.js';
import { PQMeshSecurity, type ByteStream, type PQMeshSecurityOptions } from '../../lib/mesh/index.js';
import { DEFAULT_HANDSHAKE_LIMITS, InitiatorHandshake, Responder, type HandshakeContext, type Signer } from '../../lib/mesh/handshake.js';
import { generateIdentity, publicKeys, type MeshIdentity, type PublicKeys } from '../../lib/mesh/identity.js';
import { X25519MLKEM768_SUITE, type MeshSuite } from '../../lib/mesh/suites.js';

/** Logs nothing; failures are read from the metrics. */
export const silentLogger: Logger = { fatal: () => {}, error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

/** The value of a counter (with `labels`) on `registry`; for a histogram, its observation count. */
export async function counter(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { type, values } = await metric.get();
  const wanted = Object.entries(labels);
  return values
    .filter((value) => String(type) !== 'histogram' || String((value as { metricName?: string }).metricName).endsWith('_count'))
    .filter((value) => wanted.every(([key, expected]) => value.labels[key] === expected))
    .reduce((sum, value) => sum + value.value, 0);
}

/** Two nodes that trust each other, on one registry unless told otherwise. */
export async function nodePair(options: Partial<PQMeshSecurityOptions> = {}, optionsB: Partial<PQMeshSecurityOptions> = options) {
  const registry = new Registry();
  const a = await PQMeshSecurity.create({ registry, logger: silentLogger, ...options, nodeId: 'node-a' });
  const b = await PQMeshSecurity.create({ registry, logger: silentLogger, ...optionsB, nodeId: 'node-b' });
  a.trustPeer(b.getPublicKeys());
  b.trustPeer(a.getPublicKeys());
  return { registry, a, b };
}

/** Dials b from a over loopback; resolves with both ends. */
export async function connectPair(a: PQMeshSecurity, b: PQMeshSecurity, host = '127.0.0.1') {
  const listener = await b.listen({ host });
  const inbound = new Promise<import('../../lib/mesh/index.js').SecureChannel>((resolve) => b.once('channel', resolve));
  const outbound = await a.establishSecureChannel(b.nodeId, { host, port: listener.port });
  return { listener, outbound, inbound: await inbound };
}

/** The next `count` messages a channel emits. */
export function messages(channel: { on(event: 'message', listener: (m: Uint8Array) => void): unknown }, count: number): Promise<Uint8Array[]> {
  return new Promise((resolve) => {
    const seen: Uint8Array[] = [];
    channel.on('message', (message) => {
      seen.push(message);
      if (seen.length === count) resolve(seen);
    });
  });
}

export type Direction = 'to-responder' | 'to-initiator';
/** What the man in the middle does with a frame: pass it (return it), change it, or drop it (null). */
export type Rewrite = (frame: Uint8Array, direction: Direction) => Uint8Array | Uint8Array[] | null;

/**
 * A man in the middle on loopback TCP: parses the length-prefixed frames both ways and passes
 * each through `rewrite`.
 */
export async function mitmProxy(
  targetPort: number,
  rewrite: Rewrite,
  host = '127.0.0.1',
  options: { splice?: () => boolean } = {},
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const upstreams: Socket[] = [];
  const server: Server = createServer((client) => {
    // Splicing hands a new client the first connection's upstream: a hijack of an established TCP stream.
    if (options.splice?.() && upstreams[0]) {
      const stolen = upstreams[0];
      stolen.removeAllListeners('data');
      sockets.add(client);
      pipeFrames(client, stolen, 'to-responder', rewrite);
      pipeFrames(stolen, client, 'to-initiator', rewrite);
      return;
    }
    const upstream = connect({ host, port: targetPort });
    upstreams.push(upstream);
    sockets.add(client).add(upstream);
    pipeFrames(client, upstream, 'to-responder', rewrite);
    pipeFrames(upstream, client, 'to-initiator', rewrite);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen({ host, port: 0 }, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function pipeFrames(from: Socket, to: Socket, direction: Direction, rewrite: Rewrite): void {
  let buffered = Buffer.alloc(0);
  from.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
      const length = buffered.readUInt32BE(0);
      const frame = new Uint8Array(buffered.subarray(4, 4 + length));
      buffered = buffered.subarray(4 + length);
      const out = rewrite(frame, direction);
      for (const part of out === null ? [] : Array.isArray(out) ? out : [out]) {
        const head = Buffer.alloc(4);
        head.writeUInt32BE(part.length);
        to.write(Buffer.concat([head, part]));
      }
    }
  });
}

/** A signer that counts what it signs, so tests can prove that no signature was made. */
export function countingSigner(identity: MeshIdentity, sig: Sig): Signer & { count: number } {
  const signer = {
    algorithm: identity.algorithm,
    publicKey: identity.publicKey,
    count: 0,
    sign: async (data: Uint8Array) => {
      signer.count++;
      return sig.signAsync(data, identity.secretKey);
    },
  };
  return signer;
}

export interface Party {
  nodeId: string;
  identity: MeshIdentity;
  keys: PublicKeys;
  signer: Signer & { count: number };
  ctx: HandshakeContext;
}

/**
 * Handshake contexts for state-machine tests, without TCP: each party trusts the others,
 * runs the given suites, and signs through a counting signer.
 */
export async function parties(names: string[], suites: MeshSuite[] = [X25519MLKEM768_SUITE], clock = { now: () => performance.now() }) {
  const sig = new Sig('ML-DSA-65');
  await sig.ready();
  const kems = new Map<MeshSuite, Kem>();
  for (const suite of suites) {
    const kem = new Kem(suite.kem, suite.kemOptions);
    await kem.ready();
    kems.set(suite, kem);
  }
  const identities = await Promise.all(names.map(() => generateIdentity()));
  const keys = new Map(names.map((name, i) => [name, publicKeys(name, 'ML-DSA-65', identities[i]!.publicKey)]));
  return names.map((nodeId, i): Party => {
    const signer = countingSigner(identities[i]!, sig);
    const ctx: HandshakeContext = {
      nodeId,
      signer,
      offers: () => suites,
      accepts: () => suites,
      kem: (suite) => kems.get(suite)!,
      peer: async (id) => (id === nodeId ? undefined : keys.get(id)),
      verify: (_algorithm, data, signature, publicKey) => sig.verifyAsync(data, signature, publicKey),
      pinnedToPq: () => false,
      now: () => clock.now(),
      wallNow: () => Date.now(),
      limits: { ...DEFAULT_HANDSHAKE_LIMITS, initiationBurst: 1000, initiationsPerSecond: 1000 },
    };
    return { nodeId, identity: identities[i]!, keys: keys.get(nodeId)!, signer, ctx };
  });
}

/** The four messages of one complete handshake between two parties, and both sessions. */
export async function fullHandshake(initiator: Party, responder: Responder, responderKeys: PublicKeys) {
  const handshake = await InitiatorHandshake.start(initiator.ctx, responderKeys);
  const initHello = handshake.hello;
  const respHello = (await responder.receive(initHello)).reply!;
  const initAuth = (await handshake.receive(respHello)).reply!;
  const responderStep = await responder.receive(initAuth);
  const respAuth = responderStep.reply!;
  const initiatorStep = await handshake.receive(respAuth);
  return { handshake, messages: { initHello, respHello, initAuth, respAuth }, initiator: initiatorStep.session!, responder: responderStep.session! };
}

/** Which end of a `linkedStreams` pair wrote a chunk. */
export type StreamEnd = 'left' | 'right';

/**
 * Two in-memory byte streams joined back to back, delivering asynchronously as a socket would.
 * `tap` sees every chunk written (a whole length-prefixed frame, as FramedTransport writes them)
 * before it is delivered, with the end that wrote it, and drops it by returning false. Ending
 * either end closes both cleanly; destroying one closes both as failed.
 */
export function linkedStreams(tap: (chunk: Uint8Array, from: StreamEnd) => boolean | void = () => undefined): [ByteStream, ByteStream] {
  const make = (end: StreamEnd): ByteStream & { peer?: ByteStream & { open: boolean }; open: boolean } => ({
    remote: 'memory',
    open: true,
    write(bytes) {
      const copy = Uint8Array.from(bytes);
      if (tap(copy, end) === false) return true;
      setImmediate(() => {
        if (this.peer?.open) this.peer.onData(copy);
      });
      return true;
    },
    setPaused: () => undefined,
    end: () => shut(false),
    destroy: () => shut(true),
    onData: () => undefined,
    onDrain: () => undefined,
    onClose: () => undefined,
  });
  const left = make('left');
  const right = make('right');
  left.peer = right;
  right.peer = left;
  const shut = (failed: boolean) =>
    setImmediate(() => {
      for (const side of [left, right]) {
        if (side.open) {
          side.open = false;
          side.onClose(failed);
        }
      }
    });
  return [left, right];
}

export interface LogEntry {
  level: keyof Logger;
  fields: Record<string, unknown>;
  message: string;
}

/** A logger that keeps every call, for tests of what a node logs. */
export function recordingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: keyof Logger) => (fields: Record<string, unknown>, message: string) => void entries.push({ level, fields, message });
  return { entries, fatal: at('fatal'), error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
