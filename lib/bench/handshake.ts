import { randomBytes } from 'node:crypto';
import { PqcError } from '../errors.js';
import { Kem } from '../kem.js';
import { DEFAULT_HANDSHAKE_LIMITS, InitiatorHandshake, Responder, type HandshakeContext } from '../mesh/handshake.js';
import { generateIdentity, publicKeys, type MeshIdentity } from '../mesh/identity.js';
import { LABELS } from '../mesh/key-schedule.js';
import { Sig } from '../sig.js';
import { BENCH_LIMITS, defaultSuite } from './bench-nodes.js';
import { collectGarbage, percentiles, type Percentiles, type Budget } from './timing.js';

/**
 * Complete mutual handshakes, both sides in this process, driven through the state machine
 * (InitiatorHandshake, Responder) without TCP, beside the sum of the package's primitive calls
 * one handshake makes, through the same async calls it uses (the suite's KEM key generation,
 * encapsulation and decapsulation; two ML-DSA signatures and verifications over messages shaped
 * like the handshake's signed data), in alternating blocks.
 */
export interface HandshakeSettings {
  /** Handshakes, and as many sets of primitives. */
  handshakes: number;
  /** Blocks of each, alternating. */
  rounds: number;
  /** Handshakes and primitive sets before the timed blocks. */
  warmup: number;
}

export const HANDSHAKE_SETTINGS: Record<Budget, HandshakeSettings> = {
  full: { handshakes: 2000, rounds: 10, warmup: 100 },
  quick: { handshakes: 300, rounds: 4, warmup: 30 },
  smoke: { handshakes: 10, rounds: 2, warmup: 2 },
};

export interface HandshakeResult {
  suite: string;
  kem: string;
  sig: string;
  /** One handshake, ms. */
  handshake: Percentiles;
  /** The sum of one handshake's primitives, ms. */
  primitives: Percentiles;
  /** Each primitive call, ms. */
  ops: (Percentiles & { name: string })[];
  /** Length of each signed message. */
  signedBytes: number;
  /** Responder time-outs during the run (none are expected). */
  timeouts: number;
}

const now = () => performance.now();

export async function measureHandshake(settings: HandshakeSettings, onStart?: (suite: string) => void): Promise<HandshakeResult> {
  const suite = await defaultSuite();
  const kem = new Kem(suite.kem);
  await kem.ready();
  const sig = new Sig(suite.sig);
  await sig.ready();
  // As test/mesh/support.ts's parties(): contexts that trust each other, one Kem and one Sig.
  const names = ['initiator', 'responder'];
  const identities = await Promise.all(names.map(() => generateIdentity(suite.sig)));
  const keys = new Map(names.map((name, i) => [name, publicKeys(name, suite.sig, identities[i]!.publicKey)]));
  const limits = { ...DEFAULT_HANDSHAKE_LIMITS, ...BENCH_LIMITS };
  const context = (nodeId: string, identity: MeshIdentity): HandshakeContext => ({
    nodeId,
    signer: { algorithm: identity.algorithm, publicKey: identity.publicKey, sign: (data) => sig.signAsync(data, identity.secretKey) },
    offers: () => [suite],
    accepts: () => [suite],
    kem: (wanted) => {
      if (wanted !== suite) throw new PqcError('ERR_PQC_OPERATION_FAILED', `suite ${wanted.name} asked for; the benchmark runs ${suite.name}`);
      return kem;
    },
    peer: async (id) => (id === nodeId ? undefined : keys.get(id)),
    verify: (_algorithm, data, signature, publicKey) => sig.verifyAsync(data, signature, publicKey),
    pinnedToPq: () => false,
    now: () => performance.now(),
    wallNow: () => Date.now(),
    limits,
  });
  const initiatorCtx = context('initiator', identities[0]!);
  let timeouts = 0;
  const responder = new Responder(context('responder', identities[1]!), () => timeouts++);
  const responderKeys = keys.get('responder')!;

  /** One complete handshake (test/mesh/support.ts's fullHandshake()); ms. */
  async function handshake(check: boolean): Promise<number> {
    // What the responder binds a half-open handshake to: one per handshake, as each of a node's connections is.
    const origin = {};
    const start = now();
    const initiator = await InitiatorHandshake.start(initiatorCtx, responderKeys);
    const respHello = (await responder.receive(initiator.hello, origin)).reply!;
    const initAuth = (await initiator.receive(respHello)).reply!;
    const responderStep = await responder.receive(initAuth, origin);
    const initiatorStep = await initiator.receive(responderStep.reply!);
    const elapsed = now() - start;
    const [a, b] = [initiatorStep.session, responderStep.session];
    if (!a || !b) throw new PqcError('ERR_PQC_OPERATION_FAILED', 'the handshake ended without a session');
    if (check && (!Buffer.from(a.chainKey).equals(Buffer.from(b.chainKey)) || a.suite !== suite)) {
      throw new PqcError('ERR_PQC_OPERATION_FAILED', 'the handshake did not end in matching sessions');
    }
    a.chainKey.wipe();
    b.chainKey.wipe();
    return elapsed;
  }

  // The handshake signs label ‖ transcript hash (48 bytes) ‖ u8 length ‖ peer id; so do these.
  const signed = (label: Uint8Array, peerId: string) => Buffer.concat([label, randomBytes(48), Uint8Array.of(peerId.length), Buffer.from(peerId)]);
  const OPS = [
    `${suite.kem} generateKeyPairAsync`,
    `${suite.kem} encapsulateAsync`,
    `${suite.kem} decapsulateAsync`,
    `${suite.sig} signAsync (initiator)`,
    `${suite.sig} verifyAsync (responder)`,
    `${suite.sig} signAsync (responder)`,
    `${suite.sig} verifyAsync (initiator)`,
  ];
  /** The package calls one handshake makes, in its order, each timed; ms per op. */
  async function primitives(): Promise<number[]> {
    const messageI = signed(LABELS.initiatorSignature, 'responder');
    const messageR = signed(LABELS.responderSignature, 'initiator');
    const [idI, idR] = identities as [MeshIdentity, MeshIdentity];
    const t = [now()];
    const pair = await kem.generateKeyPairAsync();
    t.push(now());
    const encapsulation = await kem.encapsulateAsync(pair.publicKey);
    t.push(now());
    const secret = await kem.decapsulateAsync(encapsulation.ciphertext, pair.secretKey);
    t.push(now());
    const signatureI = await sig.signAsync(messageI, idI.secretKey);
    t.push(now());
    const validI = await sig.verifyAsync(messageI, signatureI, idI.publicKey);
    t.push(now());
    const signatureR = await sig.signAsync(messageR, idR.secretKey);
    t.push(now());
    const validR = await sig.verifyAsync(messageR, signatureR, idR.publicKey);
    t.push(now());
    if (!validI || !validR || !Buffer.from(secret).equals(Buffer.from(encapsulation.sharedSecret))) throw new PqcError('ERR_PQC_OPERATION_FAILED', 'a primitive gave a wrong result');
    pair.secretKey.wipe();
    secret.wipe();
    encapsulation.sharedSecret.wipe();
    return t.slice(1).map((end, i) => end - t[i]!);
  }

  onStart?.(suite.name);
  await handshake(true);
  for (let i = 0; i < settings.warmup; i++) {
    await handshake(false);
    await primitives();
  }
  const handshakes: number[] = [];
  const sums: number[] = [];
  const perOp: number[][] = OPS.map(() => []);
  const block = Math.ceil(settings.handshakes / settings.rounds);
  for (let round = 0; round < settings.rounds; round++) {
    const count = Math.min(block, settings.handshakes - round * block);
    const runs = [
      async () => {
        for (let i = 0; i < count; i++) handshakes.push(await handshake(i === 0));
      },
      async () => {
        for (let i = 0; i < count; i++) {
          const ops = await primitives();
          ops.forEach((ms, k) => perOp[k]!.push(ms));
          sums.push(ops.reduce((a, b) => a + b, 0));
        }
      },
    ];
    // Each block of one runs next to a block of the other, and neither always runs first.
    if (round % 2) runs.reverse();
    for (const run of runs) {
      collectGarbage();
      await run();
    }
  }
  responder.close();
  return {
    suite: suite.name,
    kem: suite.kem,
    sig: suite.sig,
    handshake: percentiles(handshakes),
    primitives: percentiles(sums),
    ops: OPS.map((name, k) => ({ name, ...percentiles(perOp[k]!) })),
    signedBytes: signed(LABELS.initiatorSignature, 'responder').length,
    timeouts,
  };
}
