import { describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import { InitiatorHandshake, Responder, type HandshakeContext } from '../../lib/mesh/handshake.js';
import { FAILURE_REASONS, MeshError } from '../../lib/mesh/failure.js';
import { encodeInitHello, parseInitHello } from '../../lib/mesh/messages.js';
import { X25519MLKEM768_SUITE } from '../../lib/mesh/suites.js';
import { environment, toHex } from '../support/environment.js';
import { parties, type Party } from './support.js';

await ready();

/**
 * The responder's state (docs/protocol.md, §4 "Responder"): how long each map keeps an entry,
 * what a busy entry is spared, and the per-peer count of half-open handshakes.
 */

/** A promise and the function that settles it. */
function latch() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** What a step gave, or the reason and message it was refused with. */
const outcome = (step: Promise<{ reply?: Uint8Array; session?: unknown }>) =>
  step.then(
    (result) => (result.session ? 'session' : result.reply ? `reply ${result.reply[1]}` : 'nothing'),
    (error: MeshError) => `${error.reason}: ${error.message}`,
  );

const abortOf = (sessionI: Uint8Array) => Uint8Array.of(1, 0x0f, ...sessionI, FAILURE_REASONS.indexOf('timeout'));

describe(`responder state on the ${environment.backend} backend`, async () => {
  let now = 0;
  let wall = 1_800_000_000_000;
  const clock = { now: () => now };
  const [alice, bob] = await parties(['alice', 'bob'], [X25519MLKEM768_SUITE], clock);
  const at = (party: Party): Party => ({ ...party, ctx: { ...party.ctx, wallNow: () => wall } });
  const initiator = at(alice!);
  const ctx = (changes: Partial<HandshakeContext> = {}, limits: Partial<HandshakeContext['limits']> = {}): HandshakeContext => ({
    ...at(bob!).ctx,
    ...changes,
    limits: { ...bob!.ctx.limits, ...limits },
  });
  const timeoutMs = bob!.ctx.limits.timeoutMs;
  const skew = bob!.ctx.limits.maxClockSkewMs;
  /** bob's KEMs, each encapsulation's shared secret pushed to `secrets`. */
  const recordingEncapsulations =
    (secrets: Uint8Array[]): HandshakeContext['kem'] =>
    (suite) => {
      const kem = bob!.ctx.kem(suite);
      return Object.assign(Object.create(kem), {
        encapsulateAsync: async (publicKey: Uint8Array) => {
          const result = await kem.encapsulateAsync(publicKey);
          secrets.push(result.sharedSecret);
          return result;
        },
      });
    };
  const hello = async () => (await InitiatorHandshake.start(initiator.ctx, bob!.keys)).hello;

  it('drops a half-open handshake exactly timeoutMs after its InitHello, counting it once', async () => {
    now = 1000;
    const timeouts: string[] = [];
    const responder = new Responder(ctx(), (peer) => timeouts.push(peer));
    await responder.receive(await hello());
    now += timeoutMs - 1;
    responder.sweep();
    expect(responder.pendingCount).toBe(1);
    now += 1;
    responder.sweep();
    expect([responder.pendingCount, timeouts]).toEqual([0, ['alice']]);
  });

  it('spares a busy handshake from the sweep and ignores a second InitAuth for it', async () => {
    now = 1000;
    const verifying = latch();
    const release = latch();
    const timeouts: string[] = [];
    const slow = ctx({
      verify: async (...args) => {
        verifying.open();
        await release.opened;
        return bob!.ctx.verify(...args);
      },
    });
    const responder = new Responder(slow, (peer) => timeouts.push(peer));
    const handshake = await InitiatorHandshake.start(initiator.ctx, bob!.keys);
    const initAuth = (await handshake.receive((await responder.receive(handshake.hello)).reply!)).reply!;
    const first = responder.receive(initAuth);
    await verifying.opened;
    expect(await responder.receive(initAuth)).toEqual({});
    now += timeoutMs + 1;
    responder.sweep();
    expect([responder.pendingCount, timeouts]).toEqual([1, []]);
    release.open();
    const step = await first;
    expect(step.session?.role).toBe('responder');
    expect((await handshake.receive(step.reply!)).session).toBeDefined();
    expect(responder.pendingCount).toBe(0);
  });

  it('keeps a completed handshake’s RespAuth for a retransmitted InitAuth until timeoutMs after completion', async () => {
    now = 1000;
    const responder = new Responder(ctx(), () => {});
    const handshake = await InitiatorHandshake.start(initiator.ctx, bob!.keys);
    const initAuth = (await handshake.receive((await responder.receive(handshake.hello)).reply!)).reply!;
    const respAuth = (await responder.receive(initAuth)).reply!;
    now += timeoutMs - 1;
    expect(toHex((await responder.receive(initAuth)).reply!)).toBe(toHex(respAuth));
    now += 1;
    expect(await outcome(responder.receive(initAuth))).toBe('replay: an InitAuth for no open handshake');
  });

  it('remembers an accepted InitHello while its timestamp could pass the skew check, and refuses its replay until then', async () => {
    now = 1000;
    const responder = new Responder(ctx(), () => {});
    // Timestamped at the far edge of the window: it passes the skew check until 2 · maxClockSkewMs after acceptance.
    const fields = parseInitHello(await hello());
    const edge = encodeInitHello({ ...fields, timestamp: wall + skew });
    expect(await outcome(responder.receive(edge))).toBe('reply 3');
    responder.sweep();
    now += timeoutMs;
    responder.sweep();
    expect(responder.pendingCount).toBe(0);
    wall += 2 * skew;
    expect(await outcome(responder.receive(edge))).toBe('replay: a replayed InitHello');
    wall += 1;
    expect(await outcome(responder.receive(edge))).toBe(`replay: an InitHello timestamped more than ${skew} ms from this node's clock`);
  });

  it('frees a full replay cache once its entries lapse', async () => {
    now = 1000;
    const responder = new Responder(ctx({}, { replayCacheSize: 1 }), () => {});
    expect(await outcome(responder.receive(await hello()))).toBe('reply 3');
    now += timeoutMs;
    wall += 1;
    expect(await outcome(responder.receive(await hello()))).toBe('rate_limited: too many half-open handshakes');
    wall += 2 * skew;
    expect(await outcome(responder.receive(await hello()))).toBe('reply 3');
  });

  it('wipes every half-open handshake on close()', async () => {
    now = 1000;
    const secrets: Uint8Array[] = [];
    const spied = ctx({ kem: recordingEncapsulations(secrets) });
    const responder = new Responder(spied, () => {});
    const handshake = await InitiatorHandshake.start(initiator.ctx, bob!.keys);
    const initAuth = (await handshake.receive((await responder.receive(handshake.hello)).reply!)).reply!;
    await responder.receive(await hello());
    expect(secrets.map((secret) => secret.some((byte) => byte !== 0))).toEqual([true, true]);
    responder.close();
    expect(responder.pendingCount).toBe(0);
    expect(secrets.map((secret) => secret.every((byte) => byte === 0))).toEqual([true, true]);
    expect(await outcome(responder.receive(initAuth))).toBe('replay: an InitAuth for no open handshake');
  });

  it('counts a peer’s half-open handshakes down by one when one is aborted', async () => {
    now = 1000;
    const responder = new Responder(ctx({}, { maxPendingPerPeer: 2 }), () => {});
    const first = await InitiatorHandshake.start(initiator.ctx, bob!.keys);
    await responder.receive(first.hello, 'conn');
    await responder.receive(await hello(), 'conn');
    await responder.receive(abortOf(first.sessionI), 'conn');
    expect(responder.pendingCount).toBe(1);
    const outcomes = [await outcome(responder.receive(await hello(), 'conn')), await outcome(responder.receive(await hello(), 'conn'))];
    expect(outcomes).toEqual(['reply 3', 'rate_limited: too many half-open handshakes']);
  });

  it('ends a handshake that close() dropped while its InitAuth was verified, without a session, and counts it only once', async () => {
    now = 1000;
    const verifying = latch();
    const release = latch();
    const slow = ctx(
      {
        verify: async (...args) => {
          verifying.open();
          await release.opened;
          return bob!.ctx.verify(...args);
        },
      },
      { maxPendingPerPeer: 2 },
    );
    const responder = new Responder(slow, () => {});
    const handshake = await InitiatorHandshake.start(initiator.ctx, bob!.keys);
    const initAuth = (await handshake.receive((await responder.receive(handshake.hello)).reply!)).reply!;
    const busy = outcome(responder.receive(initAuth));
    await verifying.opened;
    responder.close();
    expect(await outcome(responder.receive(await hello()))).toBe('reply 3');
    release.open();
    expect(await busy).toBe('closed: the responder closed during the handshake');
    const outcomes = [await outcome(responder.receive(await hello())), await outcome(responder.receive(await hello()))];
    expect(outcomes).toEqual(['reply 3', 'rate_limited: too many half-open handshakes']);
  });

  it('refuses the same InitHello arriving twice while the trust store is asked', async () => {
    now = 1000;
    const asked = latch();
    const slow = ctx({ peer: async (id) => (await asked.opened, bob!.ctx.peer(id)) });
    const responder = new Responder(slow, () => {});
    const bytes = await hello();
    const first = outcome(responder.receive(bytes));
    const second = outcome(responder.receive(bytes));
    asked.open();
    expect([await first, await second]).toEqual(['reply 3', 'replay: a replayed InitHello']);
    expect(responder.pendingCount).toBe(1);
  });

  it('refuses an InitHello whose KEM work ended after the last half-open slot was taken, and wipes its secret', async () => {
    now = 1000;
    const secrets: Uint8Array[] = [];
    const asked = latch();
    const crowded = ctx(
      {
        peer: async (id) => (await asked.opened, bob!.ctx.peer(id)),
        kem: recordingEncapsulations(secrets),
      },
      { maxPending: 1 },
    );
    const responder = new Responder(crowded, () => {});
    const [one, two] = [await hello(), await hello()];
    const outcomes = Promise.all([outcome(responder.receive(one)), outcome(responder.receive(two))]);
    asked.open();
    expect((await outcomes).sort()).toEqual(['rate_limited: too many half-open handshakes', 'reply 3']);
    expect(responder.pendingCount).toBe(1);
    expect(secrets.map((secret) => secret.every((byte) => byte === 0)).sort()).toEqual([false, true]);
  });
});
