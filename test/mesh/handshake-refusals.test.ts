import { describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import { InitiatorHandshake, Responder, type HandshakeExtension } from '../../lib/mesh/handshake.js';
import { FAILURE_REASONS, MeshError, type FailureReason } from '../../lib/mesh/failure.js';
import { SIGNATURE_LENGTH } from '../../lib/mesh/identity.js';
import { encodeInitHello, encodeRespHello, MAX_EXTENSION, parseInitHello } from '../../lib/mesh/messages.js';
import { mockSuite, X25519MLKEM768_SUITE } from '../../lib/mesh/suites.js';
import { environment, toHex } from '../support/environment.js';
import { fullHandshake, parties, type Party } from './support.js';

await ready();

/**
 * Each refusal of the handshake, with its reason and its exact message: a check that a later one
 * would also catch is told apart by what it says.
 */
async function refusal(step: Promise<unknown>, reason: FailureReason, message: string): Promise<MeshError> {
  const error = await step.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a refusal: ${message}`).toBeInstanceOf(MeshError);
  expect({ reason: (error as MeshError).reason, message: (error as MeshError).message }).toEqual({ reason, message });
  return error as MeshError;
}

/** An Abort (docs/protocol.md, "Abort (0x0f)"): version, type, sI, the reason's index. */
const abortOf = (sessionI: Uint8Array, reason: FailureReason) => Uint8Array.of(1, 0x0f, ...sessionI, FAILURE_REASONS.indexOf(reason));
/** A Retry: version, type 0x02, sI, the selected suite. */
const retryOf = (sessionI: Uint8Array, selected: number) => Uint8Array.of(1, 0x02, ...sessionI, selected);
/** Auth messages: version, type, sI (16 bytes at 2), sR (16 bytes at 18), the sealed field. */
const SESSION_R_AT = 18;

function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[at]! ^= 1;
  return copy;
}

describe(`handshake refusals and their messages on the ${environment.backend} backend`, async () => {
  const [alice, bob] = await parties(['alice', 'bob']);

  /** A handshake whose initiator has sent InitAuth and waits for `respAuth`. */
  async function awaitingRespAuth(initiator: Party = alice!, responder = new Responder(bob!.ctx, () => {})) {
    const handshake = await InitiatorHandshake.start(initiator.ctx, bob!.keys);
    const respHello = (await responder.receive(handshake.hello)).reply!;
    const initAuth = (await handshake.receive(respHello)).reply!;
    const respAuth = (await responder.receive(initAuth)).reply!;
    return { handshake, respHello, initAuth, respAuth };
  }

  describe('the initiator', () => {
    it('refuses to start with a peer whose identity no offered suite signs with', async () => {
      await refusal(
        InitiatorHandshake.start(alice!.ctx, { ...bob!.keys, sigAlgorithm: 'ML-DSA-87' }),
        'unsupported_suite',
        "no suite this node offers signs with ML-DSA-87, the algorithm of bob's identity",
      );
    });

    it('takes nothing once the handshake is over, whether it succeeded or failed', async () => {
      const { handshake, messages } = await fullHandshake(alice!, new Responder(bob!.ctx, () => {}), bob!.keys);
      await refusal(handshake.receive(messages.respAuth), 'replay', 'this handshake is over');
      const failed = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
      failed.abort();
      await refusal(failed.receive(messages.respHello), 'replay', 'this handshake is over');
    });

    it("fails with an Abort's reason only when the Abort names this handshake", async () => {
      const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
      await refusal(handshake.receive(abortOf(flipped(handshake.sessionI, 0), 'rate_limited')), 'malformed', 'an Abort for another handshake');
      const second = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
      await refusal(second.receive(abortOf(second.sessionI, 'rate_limited')), 'rate_limited', 'bob refused the handshake (rate_limited)');
    });

    it('refuses each message type outside the state that takes it', async () => {
      const { messages } = await fullHandshake(alice!, new Responder(bob!.ctx, () => {}), bob!.keys);
      const inHello = async (bytes: Uint8Array) => (await InitiatorHandshake.start(alice!.ctx, bob!.keys)).receive(bytes);
      await refusal(inHello(messages.respAuth), 'malformed', 'unexpected message type 5 in state hello');
      await refusal(inHello(messages.initHello), 'malformed', 'unexpected message type 1 in state hello');
      const first = await awaitingRespAuth();
      await refusal(first.handshake.receive(first.respHello), 'malformed', 'unexpected message type 3 in state auth');
      const second = await awaitingRespAuth();
      await refusal(second.handshake.receive(retryOf(second.handshake.sessionI, X25519MLKEM768_SUITE.id)), 'malformed', 'unexpected message type 2 in state auth');
    });

    it('refuses a RespAuth that names another handshake by either session id', async () => {
      const bySessionI = await awaitingRespAuth();
      await refusal(bySessionI.handshake.receive(flipped(bySessionI.respAuth, 2)), 'malformed', 'a RespAuth for another handshake');
      const bySessionR = await awaitingRespAuth();
      await refusal(bySessionR.handshake.receive(flipped(bySessionR.respAuth, SESSION_R_AT)), 'malformed', 'a RespAuth for another handshake');
    });

    it('names the session a RespHello for another handshake is refused for', async () => {
      const responder = new Responder(bob!.ctx, () => {});
      const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
      const respHello = (await responder.receive(handshake.hello)).reply!;
      await refusal(handshake.receive(flipped(respHello, 2)), 'malformed', 'a RespHello for another handshake');
    });

    it('gives the responder’s role to the responder’s session and the initiator’s to the initiator’s', async () => {
      const { initiator, responder } = await fullHandshake(alice!, new Responder(bob!.ctx, () => {}), bob!.keys);
      expect([initiator.role, responder.role]).toEqual(['initiator', 'responder']);
    });
  });

  describe('suite negotiation seen from the initiator', async () => {
    // The mock suite stands in for a first preference; no handshake completes over it here.
    const first = mockSuite();
    const [i, r] = await parties(['i', 'r'], [first, X25519MLKEM768_SUITE]);

    it('takes one Retry to a new suite of its offer, and refuses any other Retry', async () => {
      const stranger = await InitiatorHandshake.start(i!.ctx, r!.keys);
      await refusal(stranger.receive(retryOf(flipped(stranger.sessionI, 0), X25519MLKEM768_SUITE.id)), 'malformed', 'a Retry for another handshake');
      const unoffered = await InitiatorHandshake.start(i!.ctx, r!.keys);
      await refusal(unoffered.receive(retryOf(unoffered.sessionI, 0x77)), 'downgrade', 'a Retry that selects suite 119, which is not a new suite of the offer');
      const same = await InitiatorHandshake.start(i!.ctx, r!.keys);
      await refusal(same.receive(retryOf(same.sessionI, first.id)), 'downgrade', `a Retry that selects suite ${first.id}, which is not a new suite of the offer`);
      const twice = await InitiatorHandshake.start(i!.ctx, r!.keys);
      const retried = (await twice.receive(retryOf(twice.sessionI, X25519MLKEM768_SUITE.id))).reply!;
      expect(parseInitHello(retried)).toMatchObject({ retried: true, shareSuite: X25519MLKEM768_SUITE.id });
      await refusal(twice.receive(retryOf(twice.sessionI, first.id)), 'downgrade', `a Retry that selects suite ${first.id}, which is not a new suite of the offer`);
    });

    it('refuses a RespHello whose offer echo changed, or that selects another suite than its key share', async () => {
      const responder = new Responder(r!.ctx, () => {});
      const changed = await InitiatorHandshake.start(i!.ctx, r!.keys);
      const respHello = (await responder.receive(changed.hello)).reply!;
      // After version, type, both session ids and the selected byte: the offer echo's length, then its first id.
      await refusal(changed.receive(flipped(respHello, 2 + 32 + 1 + 1)), 'downgrade', 'the offer reached r changed: suites were removed or added on the way');
      // A RespHello that selects the second suite and accepts only it: consistent in itself, but the initiator's key share is for the first.
      const steered = await InitiatorHandshake.start(i!.ctx, r!.keys);
      const forged = encodeRespHello({
        sessionI: steered.sessionI,
        sessionR: new Uint8Array(16),
        selected: X25519MLKEM768_SUITE.id,
        offer: parseInitHello(steered.hello).offer,
        accepted: Uint8Array.of(X25519MLKEM768_SUITE.id),
        ciphertext: new Uint8Array(1088),
      });
      await refusal(steered.receive(forged), 'downgrade', `r selected suite ${X25519MLKEM768_SUITE.id}, not the best suite both sides accept`);
    });

    it('names both suites when a retried InitHello carries a share for another suite than the one selected', async () => {
      const responder = new Responder(r!.ctx, () => {});
      const handshake = await InitiatorHandshake.start(i!.ctx, r!.keys);
      const retried = (await handshake.receive(retryOf(handshake.sessionI, X25519MLKEM768_SUITE.id))).reply!;
      await refusal(responder.receive(retried), 'downgrade', `a retried InitHello with a key share for suite ${X25519MLKEM768_SUITE.id}, not ${first.id}`);
    });
  });

  describe('the responder', () => {
    it('refuses an InitHello whose node id is not UTF-8, before any other check', async () => {
      const hello = parseInitHello((await InitiatorHandshake.start(alice!.ctx, bob!.keys)).hello);
      const responder = new Responder(bob!.ctx, () => {});
      await refusal(responder.receive(encodeInitHello({ ...hello, initiatorId: Uint8Array.of(0xff) })), 'malformed', 'a node id is not UTF-8');
      await refusal(responder.receive(encodeInitHello({ ...hello, responderId: Uint8Array.of(0xc3) })), 'malformed', 'a node id is not UTF-8');
    });

    it('refuses an InitHello for another node, one that claims to come from this node, and one from a stranger', async () => {
      const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
      const hello = parseInitHello(handshake.hello);
      const responder = new Responder(bob!.ctx, () => {});
      await refusal(responder.receive(encodeInitHello({ ...hello, responderId: hello.initiatorId })), 'unknown_peer', 'an InitHello addressed to another node');
      await refusal(responder.receive(encodeInitHello({ ...hello, initiatorId: hello.responderId })), 'reflection', 'an InitHello that claims to come from this node');
      const [mallory] = await parties(['mallory']);
      const stranger = await InitiatorHandshake.start(mallory!.ctx, bob!.keys);
      await refusal(responder.receive(stranger.hello), 'unknown_peer', 'mallory is not a trusted peer');
    });

    it('marks each refusal of an InitHello or InitAuth with the handshake’s session id, for the Abort', async () => {
      const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
      const toSelf = new Responder(alice!.ctx, () => {});
      const error = await refusal(toSelf.receive(handshake.hello), 'unknown_peer', 'an InitHello addressed to another node');
      expect(toHex(error.sessionI!)).toBe(toHex(handshake.sessionI));
      const { initAuth } = await awaitingRespAuth();
      const late = await refusal(new Responder(bob!.ctx, () => {}).receive(initAuth), 'replay', 'an InitAuth for no open handshake');
      expect(toHex(late.sessionI!)).toBe(toHex(initAuth.subarray(2, 18)));
    });

    it('refuses a message type no responder takes by naming it', async () => {
      const { messages } = await fullHandshake(alice!, new Responder(bob!.ctx, () => {}), bob!.keys);
      const responder = new Responder(bob!.ctx, () => {});
      await refusal(responder.receive(messages.respHello), 'malformed', 'a responder does not take message type 3');
      await refusal(responder.receive(messages.respAuth), 'malformed', 'a responder does not take message type 5');
    });

    it('ignores an Abort for a handshake it does not hold', async () => {
      const responder = new Responder(bob!.ctx, () => {});
      expect(await responder.receive(abortOf(new Uint8Array(16).fill(7), 'timeout'), 'conn')).toEqual({});
      expect(responder.pendingCount).toBe(0);
    });

    it('refuses a second InitHello with a pending session id but other bytes, and a replay without asking the trust store', async () => {
      let lookups = 0;
      const responder = new Responder({ ...bob!.ctx, peer: (id) => (lookups++, bob!.ctx.peer(id)) }, () => {});
      const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
      const hello = parseInitHello(handshake.hello);
      await responder.receive(handshake.hello);
      await refusal(responder.receive(encodeInitHello({ ...hello, timestamp: hello.timestamp + 1 })), 'replay', 'an InitHello that reuses a session id');
      expect(responder.pendingCount).toBe(1);
      const { messages } = await fullHandshake(alice!, responder, bob!.keys);
      const before = lookups;
      await refusal(responder.receive(messages.initHello), 'replay', 'a replayed InitHello');
      // Replay is checked before trust (docs/protocol.md, "Per message, cheapest first").
      expect(lookups).toBe(before);
    });

    it('refuses with the rate limit that was hit: the token bucket, or the half-open bound', async () => {
      const bucket = new Responder({ ...bob!.ctx, limits: { ...bob!.ctx.limits, initiationBurst: 1, initiationsPerSecond: 0.001 } }, () => {});
      await bucket.receive((await InitiatorHandshake.start(alice!.ctx, bob!.keys)).hello);
      await refusal(bucket.receive((await InitiatorHandshake.start(alice!.ctx, bob!.keys)).hello), 'rate_limited', 'alice started too many handshakes');
      const bound = new Responder({ ...bob!.ctx, limits: { ...bob!.ctx.limits, maxPendingPerPeer: 1 } }, () => {});
      await bound.receive((await InitiatorHandshake.start(alice!.ctx, bob!.keys)).hello);
      await refusal(bound.receive((await InitiatorHandshake.start(alice!.ctx, bob!.keys)).hello), 'rate_limited', 'too many half-open handshakes');
    });

    it('refuses an InitHello timestamped beyond the skew limit, and takes one exactly at it', async () => {
      const wall = 1_800_000_000_000;
      const clocked = { ...alice!, ctx: { ...alice!.ctx, wallNow: () => wall } };
      const responder = new Responder({ ...bob!.ctx, wallNow: () => wall }, () => {});
      const skew = bob!.ctx.limits.maxClockSkewMs;
      for (const offset of [-skew, skew]) {
        const hello = parseInitHello((await InitiatorHandshake.start(clocked.ctx, bob!.keys)).hello);
        const reply = (await responder.receive(encodeInitHello({ ...hello, timestamp: wall + offset }))).reply!;
        expect(reply[1], `timestamp ${offset} ms off`).toBe(0x03);
      }
      const hello = parseInitHello((await InitiatorHandshake.start(clocked.ctx, bob!.keys)).hello);
      await refusal(responder.receive(encodeInitHello({ ...hello, timestamp: wall - skew - 1 })), 'replay', `an InitHello timestamped more than ${skew} ms from this node's clock`);
    });

    it('answers a retransmitted InitAuth after completion only on its own connection', async () => {
      const responder = new Responder(bob!.ctx, () => {});
      const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
      const initAuth = (await handshake.receive((await responder.receive(handshake.hello, 'own')).reply!)).reply!;
      const { reply } = await responder.receive(initAuth, 'own');
      expect(toHex((await responder.receive(initAuth, 'own')).reply!)).toBe(toHex(reply!));
      await refusal(responder.receive(initAuth, 'other'), 'replay', 'an InitAuth for no open handshake');
    });

    it('refuses an InitAuth from another connection or with another sR, and keeps the handshake for the real one', async () => {
      const responder = new Responder(bob!.ctx, () => {});
      const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
      const initAuth = (await handshake.receive((await responder.receive(handshake.hello, 'own')).reply!)).reply!;
      await refusal(responder.receive(initAuth, 'other'), 'replay', 'an InitAuth on another connection than its InitHello');
      await refusal(responder.receive(flipped(initAuth, SESSION_R_AT), 'own'), 'malformed', 'an InitAuth with another responder session id');
      expect(responder.pendingCount).toBe(1);
      const step = await responder.receive(initAuth, 'own');
      expect((await handshake.receive(step.reply!)).session).toBeDefined();
    });
  });

  describe('authenticating the peer’s Auth', () => {
    const withSigner = (sign: () => Promise<Uint8Array>): Party => ({ ...alice!, ctx: { ...alice!.ctx, signer: { ...alice!.signer, sign } } });

    it('refuses an Auth that does not open under the handshake key as a failed key confirmation', async () => {
      const responder = new Responder(bob!.ctx, () => {});
      const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
      // The ciphertext is RespHello's last field: a flipped bit gives the initiator another shared secret.
      const respHello = (await responder.receive(handshake.hello)).reply!;
      const initAuth = (await handshake.receive(flipped(respHello, respHello.length - 1))).reply!;
      await refusal(responder.receive(initAuth), 'decaps_failure', 'key confirmation with alice failed: the peers derived different keys');
    });

    it('refuses an Auth shorter than a signature of the peer’s parameter set, and a signature that does not verify', async () => {
      const short = withSigner(async () => new Uint8Array(10));
      const first = new Responder(bob!.ctx, () => {});
      const shortAuth = (await awaitingRespAuthFrom(short, first)).initAuth;
      await refusal(first.receive(shortAuth), 'malformed', "alice's Auth holds 10 bytes, less than a ML-DSA-65 signature");
      const zeros = withSigner(async () => new Uint8Array(SIGNATURE_LENGTH['ML-DSA-65']!));
      const responder = new Responder(bob!.ctx, () => {});
      const { initAuth } = await awaitingRespAuthFrom(zeros, responder);
      await refusal(responder.receive(initAuth), 'bad_signature', "alice's signature does not verify with its trusted key");
    });

    it('refuses a peer whose trusted key changed while the handshake ran', async () => {
      let trusted = true;
      const responder = new Responder({ ...bob!.ctx, peer: async (id) => (trusted ? bob!.ctx.peer(id) : undefined) }, () => {});
      const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
      const initAuth = (await handshake.receive((await responder.receive(handshake.hello)).reply!)).reply!;
      trusted = false;
      await refusal(responder.receive(initAuth), 'unknown_peer', "alice's trusted key changed during the handshake");
    });

    /** The InitAuth `initiator` makes (the responder's pending entry stays, for `responder` to take it). */
    async function awaitingRespAuthFrom(initiator: Party, responder = new Responder(bob!.ctx, () => {})) {
      const handshake = await InitiatorHandshake.start(initiator.ctx, bob!.keys);
      const initAuth = (await handshake.receive((await responder.receive(handshake.hello)).reply!)).reply!;
      return { handshake, initAuth };
    }
  });

  describe('extension payloads', () => {
    const sending = (payload: Uint8Array): HandshakeExtension => ({ payload: async () => payload, verify: async () => 'ok' });

    it('refuses to send a payload larger than MAX_EXTENSION, and to take one on a connection without an extension', async () => {
      expect(MAX_EXTENSION).toBe(2048);
      const responder = new Responder(bob!.ctx, () => {});
      const large = await InitiatorHandshake.start(alice!.ctx, bob!.keys, sending(new Uint8Array(MAX_EXTENSION + 1)));
      await refusal(large.receive((await responder.receive(large.hello)).reply!), 'malformed', 'an extension payload must be a Uint8Array of at most 2048 bytes');
      const unasked = await InitiatorHandshake.start(alice!.ctx, bob!.keys, sending(Uint8Array.of(1)));
      const initAuth = (await unasked.receive((await responder.receive(unasked.hello)).reply!)).reply!;
      await refusal(responder.receive(initAuth), 'malformed', 'an extension payload on a connection that takes none');
    });
  });
});
