import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ready, PqcError, MockKemFaults } from '../../lib/index.js';
import { InitiatorHandshake, Responder } from '../../lib/mesh/handshake.js';
import { MeshError } from '../../lib/mesh/failure.js';
import { LABELS } from '../../lib/mesh/key-schedule.js';
import { encodeInitHello, parseInitHello } from '../../lib/mesh/messages.js';
import { CLASSICAL_SUITE, mockSuite, X25519MLKEM768_SUITE } from '../../lib/mesh/suites.js';
import { environment, toHex } from '../support/environment.js';
import { fullHandshake, parties } from './support.js';

await ready();

/** Runs `step`, which must fail with a MeshError of `reason`. */
async function expectReason(step: Promise<unknown>, reason: string): Promise<MeshError> {
  const error = await step.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a refusal with reason ${reason}`).toBeInstanceOf(MeshError);
  expect((error as MeshError).reason).toBe(reason);
  return error as MeshError;
}

describe(`the handshake state machine on the ${environment.backend} backend`, async () => {
  const [alice, bob] = await parties(['alice', 'bob', 'eve']);

  it('ends with the same keys on both sides, bound to both identities and the suite', async () => {
    const responder = new Responder(bob!.ctx, () => {});
    const { initiator, responder: session } = await fullHandshake(alice!, responder, bob!.keys);
    expect(toHex(initiator.chainKey)).toBe(toHex(session.chainKey));
    expect(toHex(initiator.transcript)).toBe(toHex(session.transcript));
    expect(initiator.peer.nodeId).toBe('bob');
    expect(session.peer.nodeId).toBe('alice');
    expect(initiator.suite).toBe(X25519MLKEM768_SUITE);
    expect(String(initiator.chainKey)).not.toMatch(/[0-9a-f]{16}/);
    expect(responder.pendingCount).toBe(0);
    // A second handshake between the same two nodes gets fresh keys (fresh ephemeral KEM keys).
    const again = await fullHandshake(alice!, responder, bob!.keys);
    expect(toHex(again.initiator.chainKey)).not.toBe(toHex(initiator.chainKey));
  });

  it('answers a retransmitted InitHello and InitAuth identically, with no new state', async () => {
    const responder = new Responder(bob!.ctx, () => {});
    const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
    const respHello = (await responder.receive(handshake.hello)).reply!;
    expect(toHex((await responder.receive(handshake.hello)).reply!)).toBe(toHex(respHello));
    expect(responder.pendingCount).toBe(1);
    const initAuth = (await handshake.receive(respHello)).reply!;
    const first = await responder.receive(initAuth);
    const second = await responder.receive(initAuth);
    expect(second.session).toBeUndefined();
    expect(toHex(second.reply!)).toBe(toHex(first.reply!));
    expect((await handshake.receive(second.reply!)).session).toBeDefined();
  });

  it('refuses a replayed InitHello after its handshake completed: no state, no session', async () => {
    const responder = new Responder(bob!.ctx, () => {});
    const { messages } = await fullHandshake(alice!, responder, bob!.keys);
    const signaturesBefore = bob!.signer.count;
    await expectReason(responder.receive(messages.initHello), 'replay');
    // A replayed InitAuth is a retransmission to the responder: the same answer, no new session.
    const again = await responder.receive(messages.initAuth);
    expect(again.session).toBeUndefined();
    expect(toHex(again.reply!)).toBe(toHex(messages.respAuth));
    expect(responder.pendingCount).toBe(0);
    expect(bob!.signer.count).toBe(signaturesBefore);
  });

  it('refuses an InitHello from an untrusted key before any KEM work or signature', async () => {
    const [mallory] = await parties(['mallory']);
    const responder = new Responder(bob!.ctx, () => {});
    const before = bob!.signer.count;
    const handshake = await InitiatorHandshake.start(mallory!.ctx, bob!.keys);
    await expectReason(responder.receive(handshake.hello), 'unknown_peer');
    // Eve is trusted by Bob under her own key; Mallory claiming to be Eve signs with the wrong key.
    const impostor = await parties(['eve', 'bob']);
    const spoof = await InitiatorHandshake.start(impostor[0]!.ctx, bob!.keys);
    const respHello = (await responder.receive(spoof.hello)).reply!;
    const initAuth = (await spoof.receive(respHello)).reply!;
    await expectReason(responder.receive(initAuth), 'bad_signature');
    expect(bob!.signer.count).toBe(before);
    expect(responder.pendingCount).toBe(0);
  });

  it('refuses reflection: our own InitHello echoed back, and an InitHello for another node', async () => {
    const responderAlice = new Responder(alice!.ctx, () => {});
    const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
    await expectReason(responderAlice.receive(handshake.hello), 'unknown_peer');
    const toSelf = parseInitHello(handshake.hello);
    const echoed = encodeInitHello({ ...toSelf, responderId: toSelf.initiatorId });
    await expectReason(responderAlice.receive(echoed), 'reflection');
    // The responder's own messages fed back to it are not a responder's to take.
    const responderBob = new Responder(bob!.ctx, () => {});
    const respHello = (await responderBob.receive(handshake.hello)).reply!;
    await expectReason(responderBob.receive(respHello), 'malformed');
  });

  it('refuses signatures from the other role and from another transcript', async () => {
    // Alice signs with the responder's label: a signature of the right key, but for the other role.
    const otherRole = { ...alice!.ctx, signer: { ...alice!.signer, sign: (data: Uint8Array) => alice!.signer.sign(relabel(data)) } };
    const responder = new Responder(bob!.ctx, () => {});
    const h1 = await InitiatorHandshake.start(otherRole, bob!.keys);
    const initAuth = (await h1.receive((await responder.receive(h1.hello)).reply!)).reply!;
    await expectReason(responder.receive(initAuth), 'bad_signature');

    // A signature Alice made for another handshake's transcript, replayed into this one.
    let captured: Uint8Array | undefined;
    const recorder = { ...alice!.ctx, signer: { ...alice!.signer, sign: async (data: Uint8Array) => (captured ??= await alice!.signer.sign(data)) } };
    await fullHandshake({ ...alice!, ctx: recorder }, new Responder(bob!.ctx, () => {}), bob!.keys);
    const replayer = { ...alice!.ctx, signer: { ...alice!.signer, sign: async () => captured! } };
    const h2 = await InitiatorHandshake.start(replayer, bob!.keys);
    const initAuth2 = (await h2.receive((await responder.receive(h2.hello)).reply!)).reply!;
    await expectReason(responder.receive(initAuth2), 'bad_signature');
  });

  it('fails at key confirmation when a bit of the ciphertext flips on the wire', async () => {
    const responder = new Responder(bob!.ctx, () => {});
    const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
    const respHello = (await responder.receive(handshake.hello)).reply!;
    // The ciphertext is RespHello's last field: flip its last byte's low bit.
    const flipped = Uint8Array.from(respHello);
    flipped[flipped.length - 1]! ^= 1;
    const initAuth = (await handshake.receive(flipped)).reply!;
    await expectReason(responder.receive(initAuth), 'decaps_failure');
    expect(responder.pendingCount).toBe(0);
  });

  it('refuses every truncation of every message, and never authenticates one', async () => {
    const { messages } = await fullHandshake(alice!, new Responder(bob!.ctx, () => {}), bob!.keys);
    for (const [name, message] of Object.entries(messages)) {
      for (let length = 0; length < message.length; length++) {
        const responder = new Responder(bob!.ctx, () => {});
        const initiator = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
        const target = name === 'initHello' || name === 'initAuth' ? responder.receive(message.subarray(0, length)) : initiator.receive(message.subarray(0, length));
        const error = await target.then(() => undefined, (e: unknown) => e);
        expect(error, `${name} truncated to ${length}`).toBeInstanceOf(PqcError);
        expect(responder.pendingCount).toBe(0);
      }
    }
  });

  it('never crashes and never authenticates on random or mutated messages (fast-check)', async () => {
    const { messages } = await fullHandshake(alice!, new Responder(bob!.ctx, () => {}), bob!.keys);
    const samples = Object.values(messages);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 4096 }),
          fc.tuple(fc.constantFrom(...samples), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 })).map(([message, flips]) => {
            const mutated = Uint8Array.from(message);
            for (const [index, bits] of flips) mutated[index % mutated.length]! ^= bits;
            return mutated;
          }),
        ),
        async (bytes) => {
          const responder = new Responder(bob!.ctx, () => {});
          const initiator = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
          for (const receive of [(b: Uint8Array) => responder.receive(b), (b: Uint8Array) => initiator.receive(b)]) {
            const outcome = await receive(bytes).then(
              (step) => step,
              (error: unknown) => {
                expect(error).toBeInstanceOf(PqcError);
                return undefined;
              },
            );
            expect(outcome?.session).toBeUndefined();
          }
        },
      ),
      { numRuns: 150, seed: 8 },
    );
  });

  it('bounds half-open state per peer and refuses a flood, with no signature made', async () => {
    const responder = new Responder({ ...bob!.ctx, limits: { ...bob!.ctx.limits, maxPendingPerPeer: 3 } }, () => {});
    const before = bob!.signer.count;
    const outcomes = [];
    for (let i = 0; i < 6; i++) {
      const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
      outcomes.push(await responder.receive(handshake.hello).then(() => 'ok', (e: MeshError) => e.reason));
    }
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'rate_limited', 'rate_limited', 'rate_limited']);
    expect(responder.pendingCount).toBe(3);
    expect(bob!.signer.count).toBe(before);
  });

  it('spends nothing on a flood from unknown peers: no KEM, no signature, no state, no replay-cache entry', async () => {
    const strangers = await parties(Array.from({ length: 4 }, (_, n) => `stranger-${n}`));
    let kemCalls = 0;
    const counted = { ...bob!.ctx, kem: (suite: Parameters<typeof bob.ctx.kem>[0]) => (kemCalls++, bob!.ctx.kem(suite)) };
    const responder = new Responder(counted, () => {});
    const before = bob!.signer.count;
    for (let n = 0; n < 200; n++) {
      const handshake = await InitiatorHandshake.start(strangers[n % 4]!.ctx, bob!.keys);
      await expectReason(responder.receive(handshake.hello), 'unknown_peer');
    }
    expect(kemCalls).toBe(0);
    expect(bob!.signer.count).toBe(before);
    expect(responder.pendingCount).toBe(0);
    // The same hellos from a trusted peer would have been remembered; these were not, so a later trusted one is not crowded out.
    expect((await fullHandshake(alice!, responder, bob!.keys)).responder).toBeDefined();
  });

  it('limits initiations per peer per interval with a token bucket', async () => {
    let now = 0;
    const clock = { now: () => now };
    const [i, r] = await parties(['i', 'r'], [X25519MLKEM768_SUITE], clock);
    const responder = new Responder({ ...r!.ctx, limits: { ...r!.ctx.limits, initiationBurst: 2, initiationsPerSecond: 1 } }, () => {});
    const attempt = async () => (await fullHandshake(i!, responder, r!.keys).then(() => 'ok', (e: MeshError) => e.reason));
    expect([await attempt(), await attempt(), await attempt()]).toEqual(['ok', 'ok', 'rate_limited']);
    now += 1000;
    expect(await attempt()).toBe('ok');
  });

  it('wipes the ephemeral KEM secrets once the session keys exist (forward secrecy)', async () => {
    const secrets: Uint8Array[] = [];
    const spy = (party: typeof alice) => ({
      ...party!.ctx,
      kem: (suite: Parameters<typeof bob.ctx.kem>[0]) => {
        const kem = party!.ctx.kem(suite);
        return Object.assign(Object.create(kem), {
          generateKeyPairAsync: async () => {
            const pair = await kem.generateKeyPairAsync();
            secrets.push(pair.secretKey);
            return pair;
          },
          encapsulateAsync: async (pk: Uint8Array) => {
            const out = await kem.encapsulateAsync(pk);
            secrets.push(out.sharedSecret);
            return out;
          },
          decapsulateAsync: async (ct: Uint8Array, sk: Uint8Array) => {
            const ss = await kem.decapsulateAsync(ct, sk);
            secrets.push(ss);
            return ss;
          },
        });
      },
    });
    const responder = new Responder(spy(bob), () => {});
    const { initiator, responder: session } = await fullHandshake({ ...alice!, ctx: spy(alice) }, responder, bob!.keys);
    expect(secrets).toHaveLength(3);
    for (const secret of secrets) expect(secret.every((byte) => byte === 0)).toBe(true);
    expect(initiator.chainKey.some((byte) => byte !== 0)).toBe(true);
    expect(toHex(initiator.chainKey)).toBe(toHex(session.chainKey));
  });

  it('lets only the connection that began a handshake continue or abort it', async () => {
    const responder = new Responder(bob!.ctx, () => {});
    const [own, other] = [{}, {}];
    const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
    const respHello = (await responder.receive(handshake.hello, own)).reply!;
    const initAuth = (await handshake.receive(respHello)).reply!;
    // An Abort naming the session, from anywhere else, is ignored; an InitAuth from elsewhere is refused without harm.
    const abort = new Uint8Array([1, 0x0f, ...handshake.sessionI, 0]);
    await responder.receive(abort, other);
    expect(responder.pendingCount).toBe(1);
    await expectReason(responder.receive(initAuth, other), 'replay');
    expect(responder.pendingCount).toBe(1);
    const step = await responder.receive(initAuth, own);
    expect((await handshake.receive(step.reply!)).session).toBeDefined();
    // From its own connection an Abort ends a half-open handshake.
    const second = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
    await responder.receive(second.hello, own);
    await responder.receive(new Uint8Array([1, 0x0f, ...second.sessionI, 0]), own);
    expect(responder.pendingCount).toBe(0);
  });

  it('refuses to finish a handshake with a peer whose trusted key changed meanwhile', async () => {
    let trusted = true;
    const responder = new Responder({ ...bob!.ctx, peer: async (id) => (trusted ? bob!.ctx.peer(id) : undefined) }, () => {});
    const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
    const initAuth = (await handshake.receive((await responder.receive(handshake.hello)).reply!)).reply!;
    trusted = false;
    const before = bob!.signer.count;
    await expectReason(responder.receive(initAuth), 'unknown_peer');
    expect(bob!.signer.count).toBe(before);
  });

  it('never offers the classical suite to a peer pinned to post-quantum', async () => {
    const offered = [X25519MLKEM768_SUITE, CLASSICAL_SUITE];
    const ctx = { ...alice!.ctx, offers: () => offered, pinnedToPq: (id: string) => id === 'bob' };
    const handshake = await InitiatorHandshake.start(ctx, bob!.keys);
    expect([...parseInitHello(handshake.hello).offer]).toEqual([X25519MLKEM768_SUITE.id]);
    const unpinned = await InitiatorHandshake.start({ ...ctx, pinnedToPq: () => false }, bob!.keys);
    expect([...parseInitHello(unpinned.hello).offer]).toEqual([X25519MLKEM768_SUITE.id, CLASSICAL_SUITE.id]);
  });

  it('times out half-open handshakes, counting each, and wipes them', async () => {
    let now = 0;
    const clock = { now: () => now };
    const [i, r] = await parties(['i', 'r'], [X25519MLKEM768_SUITE], clock);
    const timeouts: string[] = [];
    const responder = new Responder(r!.ctx, (peer) => timeouts.push(peer));
    const handshake = await InitiatorHandshake.start(i!.ctx, r!.keys);
    const respHello = (await responder.receive(handshake.hello)).reply!;
    const initAuth = (await handshake.receive(respHello)).reply!;
    now += r!.ctx.limits.timeoutMs + 1;
    responder.sweep();
    expect(timeouts).toEqual(['i']);
    expect(responder.pendingCount).toBe(0);
    await expectReason(responder.receive(initAuth), 'replay');
  });

  it('refuses an InitHello whose timestamp is outside the clock-skew window', async () => {
    const responder = new Responder(bob!.ctx, () => {});
    const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
    const hello = parseInitHello(handshake.hello);
    const stale = encodeInitHello({ ...hello, timestamp: hello.timestamp - bob!.ctx.limits.maxClockSkewMs - 1000 });
    await expectReason(responder.receive(stale), 'replay');
  });

  describe('suite negotiation and downgrade protection', async () => {
    // The mock suite stands in for a first preference the responder does not run.
    const first = mockSuite();
    const [i, r] = await parties(['i', 'r'], [first, X25519MLKEM768_SUITE]);
    const onlySecond = { ...r!.ctx, accepts: () => [X25519MLKEM768_SUITE] };

    it('lands on the best common suite through one Retry, which makes no responder state', async () => {
      const responder = new Responder(onlySecond, () => {});
      const handshake = await InitiatorHandshake.start(i!.ctx, r!.keys);
      expect(handshake.suite).toBe(first);
      const retry = (await responder.receive(handshake.hello)).reply!;
      expect(retry[1]).toBe(0x02);
      expect(responder.pendingCount).toBe(0);
      const retried = (await handshake.receive(retry)).reply!;
      expect(handshake.suite).toBe(X25519MLKEM768_SUITE);
      const initAuth = (await handshake.receive((await responder.receive(retried)).reply!)).reply!;
      const step = await responder.receive(initAuth);
      const session = (await handshake.receive(step.reply!)).session!;
      expect(session.suite).toBe(X25519MLKEM768_SUITE);
      expect(toHex(session.chainKey)).toBe(toHex(step.session!.chainKey));
    });

    it('refuses a forged Retry that steers away from a suite both sides run', async () => {
      const responder = new Responder(r!.ctx, () => {});
      const handshake = await InitiatorHandshake.start(i!.ctx, r!.keys);
      const forged = new Uint8Array([1, 0x02, ...handshake.sessionI, X25519MLKEM768_SUITE.id]);
      const retried = (await handshake.receive(forged)).reply!;
      await expectReason(responder.receive(retried), 'downgrade');
      expect(responder.pendingCount).toBe(0);
    });

    it('refuses a RespHello whose accepted list was stripped of the initiator\'s choice', async () => {
      const responder = new Responder(r!.ctx, () => {});
      const handshake = await InitiatorHandshake.start(i!.ctx, r!.keys);
      const respHello = (await responder.receive(handshake.hello)).reply!;
      // After version, type, two session ids and the selected byte: the offer echo, then the accepted list.
      const offerAt = 2 + 32 + 1;
      const acceptedAt = offerAt + 1 + respHello[offerAt]!;
      expect(respHello[acceptedAt]).toBe(2);
      const stripped = Uint8Array.from(respHello);
      stripped[acceptedAt + 1] = X25519MLKEM768_SUITE.id;
      await expectReason(handshake.receive(stripped), 'downgrade');
      const fresh = await InitiatorHandshake.start(i!.ctx, r!.keys);
      const freshResp = (await responder.receive(fresh.hello)).reply!;
      const freshChanged = Uint8Array.from(freshResp);
      freshChanged[offerAt + 1] = X25519MLKEM768_SUITE.id;
      await expectReason(fresh.receive(freshChanged), 'downgrade');
    });

    it('refuses an offer of only the classical suite outside fallback mode as a downgrade', async () => {
      const responder = new Responder(r!.ctx, () => {});
      const handshake = await InitiatorHandshake.start(i!.ctx, r!.keys);
      const hello = parseInitHello(handshake.hello);
      const classicalOnly = encodeInitHello({ ...hello, offer: Uint8Array.of(0x40), shareSuite: 0x40, share: new Uint8Array(32).fill(9) });
      await expectReason(responder.receive(classicalOnly), 'downgrade');
    });
  });

  describe('a broken KEM (the mock KEM, for fault injection only)', () => {
    it.each([
      ['wrong-secret', 'encaps', 'decaps_failure'],
      ['wrong-secret', 'decaps', 'decaps_failure'],
      ['fail', 'encaps', 'kem_error'],
      ['corrupt', 'encaps', 'decaps_failure'],
    ] as const)('%s at %s fails with reason %s, nothing established', async (fault, op, reason) => {
      const faults = new MockKemFaults();
      const suite = mockSuite(faults);
      const [i, r] = await parties(['i', 'r'], [suite]);
      const responder = new Responder(r!.ctx, () => {});
      const handshake = await InitiatorHandshake.start(i!.ctx, r!.keys);
      faults.inject(fault, { op });
      const run = async () => {
        const respHello = (await responder.receive(handshake.hello)).reply!;
        const initAuth = (await handshake.receive(respHello)).reply!;
        const step = await responder.receive(initAuth);
        return handshake.receive(step.reply!);
      };
      await expectReason(run(), reason);
      expect(responder.pendingCount).toBe(0);
      expect(faults.pending).toBe(0);
    });
  });
});

/** The signed data with the initiator's label replaced by the responder's (same length prefix position). */
function relabel(data: Uint8Array): Uint8Array {
  const label = LABELS.initiatorSignature;
  expect(toHex(data.subarray(0, label.length))).toBe(toHex(label));
  const out = new Uint8Array(data.length - label.length + LABELS.responderSignature.length);
  out.set(LABELS.responderSignature);
  out.set(data.subarray(label.length), LABELS.responderSignature.length);
  return out;
}
