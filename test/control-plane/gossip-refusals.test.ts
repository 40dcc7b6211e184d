import { describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import { EnvelopeKind, parseEnvelope, type ControlPlane } from '../../lib/control-plane/index.js';
import { encodeEnvelope, MAX_ENVELOPE, signedContent, type EnvelopeFields } from '../../lib/control-plane/envelope.js';
import { encodeEvidence, parseEvidence } from '../../lib/control-plane/evidence.js';
import { sigFor } from '../../lib/mesh/signatures.js';
import { counter } from '../mesh/support.js';
import { expectCode } from '../support/errors.js';
import { controlPlane, members, type Member } from './support.js';

await ready();

const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const malformed = (fn: () => unknown) => expectCode(fn, 'ERR_PQC_MALFORMED_MESSAGE').message;
const u32 = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
/** A hand-made clock: `now` moves only when the test says. */
const manualClock = () => {
  const clock = { at: 1_000_000, now: () => clock.at, setTimeout: () => undefined, clearTimeout: () => undefined };
  return clock;
};

describe('ControlPlane configuration and publish', async () => {
  const [a, b] = await members(2);
  const all = [a!, b!];
  const configuration = (limits: object) => expectCode(() => controlPlane(a!, all, { limits }), 'ERR_PQC_INVALID_CONFIGURATION').message;

  it('takes a hop limit from 1 to 16 and a window of 2 to 65536 blocks, a power of two', () => {
    for (const hopLimit of [0, 17, 1.5]) expect(configuration({ hopLimit })).toBe('hopLimit must be from 1 to 16');
    for (const windowBlocks of [0, 1, 3, 1.5, 131_072]) expect(configuration({ windowBlocks })).toBe(`windowBlocks must be a power of two from 2 to 65536, got ${windowBlocks}`);
    for (const limits of [{ hopLimit: 1 }, { hopLimit: 16 }, { windowBlocks: 2 }, { windowBlocks: 65_536 }]) expect(controlPlane(a!, all, { limits }).nodeId).toBe('v0');
  });

  it('refuses a payload too large for its kind, or of an unknown kind, with the limit in the message', async () => {
    const alice = controlPlane(a!, all);
    const invalid = (kind: number, payload: unknown) => alice.publish(kind as EnvelopeKind, payload as Uint8Array).then(() => 'published', (e: Error & { code: string }) => `${e.code}: ${e.message}`);
    expect(await invalid(EnvelopeKind.Gossip, new Uint8Array(64 * 1024 + 1))).toBe('ERR_PQC_INVALID_INPUT: a payload must be a Uint8Array of at most 65536 bytes for its kind');
    expect(await invalid(EnvelopeKind.Heartbeat, 'text')).toBe('ERR_PQC_INVALID_INPUT: a payload must be a Uint8Array of at most 65536 bytes for its kind');
    // A certificate may be larger than gossip (256 KiB).
    expect(await invalid(EnvelopeKind.Certificate, new Uint8Array(64 * 1024 + 1))).toBe('published');
    expect(await invalid(9, new Uint8Array(1))).toBe('ERR_PQC_INVALID_INPUT: envelope kind 9 is unknown');
  });
});

describe('parseEnvelope and parseEvidence name what is wrong', async () => {
  const [a, b] = await members(2);
  const genuine = await controlPlane(a!, [a!, b!]).publish(EnvelopeKind.Gossip, bytes('route'));
  const { hopOffset } = parseEnvelope(genuine);
  const withHop = (hop: number) => {
    const out = Uint8Array.from(genuine);
    out[hopOffset] = hop;
    return out;
  };

  it('envelope bounds and fields', () => {
    expect(malformed(() => parseEnvelope('text' as never))).toBe('an envelope must be a Uint8Array');
    expect(malformed(() => parseEnvelope(new Uint8Array(MAX_ENVELOPE + 1)))).toBe(`an envelope of ${MAX_ENVELOPE + 1} bytes is larger than ${MAX_ENVELOPE}`);
    expect(malformed(() => parseEnvelope(new Uint8Array(MAX_ENVELOPE)))).toBe('an envelope of another version');
    expect(malformed(() => parseEnvelope(Uint8Array.of(1)))).toBe('an envelope is truncated: a byte needs 1 bytes, 0 left');
    expect(malformed(() => parseEnvelope(Uint8Array.of(1, 9)))).toBe('envelope kind 9 is unknown');
    expect(malformed(() => parseEnvelope(Uint8Array.of(1, 1, 0)))).toBe('an envelope: the origin must be 1 to 255 bytes, got 0');
    expect(malformed(() => parseEnvelope(withHop(0)))).toBe('hop limit 0 is not from 1 to 16');
    expect(malformed(() => parseEnvelope(withHop(17)))).toBe('hop limit 17 is not from 1 to 16');
    expect(parseEnvelope(withHop(16)).hopLimit).toBe(16);
  });

  it('payload and signature', () => {
    const header = genuine.subarray(0, hopOffset + 1);
    expect(malformed(() => parseEnvelope(Uint8Array.of(...header, ...u32(64 * 1024 + 1))))).toBe('a payload of 65537 bytes is larger than its kind allows');
    expect(malformed(() => parseEnvelope(Uint8Array.of(...header, ...u32(64 * 1024))))).toBe('an envelope is truncated: the payload needs 65536 bytes, 0 left');
    expect(malformed(() => parseEnvelope(Uint8Array.of(...header, ...u32(1), 0x78, 0, 0)))).toBe('an envelope: the signature must be 1 to 4627 bytes, got 0');
  });

  it('evidence bounds, and a pair that is no equivocation', async () => {
    const frame = (...envelopes: Uint8Array[]) => Uint8Array.from(envelopes.flatMap((e) => [...u32(e.length), ...e]));
    expect(malformed(() => parseEvidence(new Uint8Array(0)))).toBe('equivocation evidence is truncated: a 32-bit number needs 4 bytes, 0 left');
    expect(malformed(() => parseEvidence(Uint8Array.of(...u32(MAX_ENVELOPE + 1))))).toBe('an envelope in the evidence is too large');
    expect(malformed(() => parseEvidence(Uint8Array.of(...u32(MAX_ENVELOPE))))).toBe(`equivocation evidence is truncated: an envelope needs ${MAX_ENVELOPE} bytes, 0 left`);
    const fields = parseEnvelope(genuine);
    const signed = (over: Partial<EnvelopeFields>, by: Member = a!) => {
      const next = { ...fields, ...over };
      return sigFor(by.identity.algorithm).signAsync(signedContent(next), by.identity.secretKey).then((signature) => encodeEnvelope(next, signature));
    };
    const otherSequence = await signed({ sequence: fields.sequence + 1, payload: bytes('other') });
    const otherOrigin = await signed({ origin: 'v1', payload: bytes('other') }, b!);
    const twin = await signed({ payload: bytes('other') });
    for (const pair of [frame(genuine, otherSequence), frame(genuine, otherOrigin)]) {
      expect(malformed(() => parseEvidence(pair))).toBe('evidence of two envelopes with different origins or sequence numbers');
    }
    expect(malformed(() => parseEvidence(frame(genuine, withHop(1))))).toBe('evidence of one envelope twice');
    expect(parseEvidence(frame(genuine, twin)).map((e) => Buffer.from(e.payload).toString())).toEqual(['route', 'other']);
  });
});

describe('ControlPlane.receive: the refusals between precheck and apply', async () => {
  const [a, b, c, stranger] = await members(4);
  const all = [a!, b!, c!];
  /** Envelopes of `by` with fields of our choosing, signed by `by`. */
  const signedBy = (by: Member, over: Partial<EnvelopeFields>) => {
    const fields: EnvelopeFields = { kind: EnvelopeKind.Gossip, origin: by.nodeId, sequence: 1, epoch: 0, timestamp: Date.now(), hopLimit: 3, payload: bytes('x'), ...over };
    return sigFor(by.identity.algorithm).signAsync(signedContent(fields), by.identity.secretKey).then((signature) => encodeEnvelope(fields, signature));
  };
  const reasons = async (node: ControlPlane, batch: Uint8Array[]) => (await node.receive(batch)).receipts.map((r) => ({ status: r.status, reason: r.reason }));

  it('answers a replay of an applied envelope as a duplicate before verifying it, even with a broken signature', async () => {
    const bob = controlPlane(b!, all);
    const envelope = await controlPlane(a!, all).publish(EnvelopeKind.Gossip, bytes('x'));
    const broken = Uint8Array.from(envelope);
    broken[broken.length - 1]! ^= 1;
    await bob.receive(envelope);
    expect(await reasons(bob, [broken, new Uint8Array(2)])).toEqual([
      { status: 'rejected', reason: 'duplicate' },
      { status: 'rejected', reason: 'malformed' },
    ]);
  });

  it('refuses an envelope still in the window but no longer kept as a duplicate', async () => {
    const bob = controlPlane(b!, all, { limits: { keptPerOrigin: 1 } });
    const [first, second] = await Promise.all([1, 2].map((sequence) => signedBy(a!, { sequence })));
    await bob.receive([first!, second!]);
    const result = await bob.receive(first!);
    expect(result.receipts.map((r) => r.reason)).toEqual(['duplicate']);
    expect(result.outgoing).toEqual([]);
  });

  it('quarantines within a batch: the envelope after an equivocation is refused, a third twin announces nothing new', async () => {
    const bob = controlPlane(b!, all);
    const events: string[] = [];
    bob.on('equivocation', (evidence) => events.push(evidence.origin));
    const batch = await Promise.all([
      signedBy(a!, { sequence: 5, payload: bytes('one') }),
      signedBy(a!, { sequence: 5, payload: bytes('two') }),
      signedBy(a!, { sequence: 5, payload: bytes('three') }),
      signedBy(a!, { sequence: 6 }),
    ]);
    const result = await bob.receive(batch);
    expect(result.receipts.map((r) => r.reason ?? r.status)).toEqual(['accepted', 'equivocation', 'equivocation', 'quarantined']);
    expect(events).toEqual(['v0']);
    // The first envelope forwarded, and one evidence envelope of bob's.
    expect(result.outgoing.map((out) => [parseEnvelope(out).origin, parseEnvelope(out).kind])).toEqual([
      ['v0', EnvelopeKind.Gossip],
      ['v1', EnvelopeKind.Evidence],
    ]);
  });

  it("applies others' evidence without announcing its own, and refuses evidence against an untrusted origin", async () => {
    const wall = Date.now();
    const carol = controlPlane(c!, all, { wallClock: () => wall });
    const twins = await Promise.all([bytes('one'), bytes('two')].map((payload) => signedBy(a!, { sequence: 9, payload })));
    const evidence = await controlPlane(b!, all).publish(EnvelopeKind.Evidence, encodeEvidence({ origin: 'v0', sequence: 9, first: twins[0]!, second: twins[1]! }));
    const result = await carol.receive(evidence);
    expect(result.receipts[0]!.status).toBe('accepted');
    expect(carol.isQuarantined('v0')).toBe(true);
    // Only bob's evidence, forwarded one hop further.
    expect(result.outgoing.map((out) => parseEnvelope(out).origin)).toEqual(['v1']);
    // Nor does carol sign evidence of her own: her next envelope is her first (sequences start at wall-clock ms × 1000).
    expect(parseEnvelope(await carol.publish(EnvelopeKind.Gossip, bytes('next'))).sequence).toBe(wall * 1000 + 1);
    const strangers = await Promise.all([bytes('one'), bytes('two')].map((payload) => signedBy(stranger!, { origin: 'v3', sequence: 9, payload })));
    const against = await controlPlane(b!, all).publish(EnvelopeKind.Evidence, encodeEvidence({ origin: 'v3', sequence: 9, first: strangers[0]!, second: strangers[1]! }));
    const refused = await carol.receive(against);
    expect(refused.receipts.map((r) => r.reason)).toEqual(['unknown_origin']);
    expect(refused.outgoing).toEqual([]);
    // A payload that is no evidence: the parser's error is counted as malformed.
    const garbage = await controlPlane(b!, all).publish(EnvelopeKind.Evidence, Uint8Array.of(0, 0, 0, 9));
    expect((await carol.receive(garbage)).receipts.map((r) => [r.status, r.reason])).toEqual([['rejected', 'malformed']]);
    expect(await counter(carol.metrics.registry, 'pqc_gossip_rejected_total', { reason: 'malformed' })).toBe(1);
  });

  it('forwards nothing of an envelope at its last hop', async () => {
    const envelope = await controlPlane(a!, all, { limits: { hopLimit: 1 } }).publish(EnvelopeKind.Gossip, bytes('x'));
    const result = await controlPlane(b!, all).receive(envelope);
    expect(result.receipts[0]!.status).toBe('accepted');
    expect(result.outgoing).toEqual([]);
  });

  it('allows a skew of exactly maxClockSkewMs, and counts as reachable within exactly withinMs', async () => {
    const wall = 5_000_000;
    const clock = manualClock();
    const bob = controlPlane(b!, all, { clock, wallClock: () => wall + 1000, limits: { maxClockSkewMs: 1000 } });
    const [onEdge, beyond] = await Promise.all([signedBy(a!, { timestamp: wall }), signedBy(c!, { timestamp: wall - 1 })]);
    expect((await bob.receive([onEdge!, beyond!])).receipts.map((r) => r.reason ?? r.status)).toEqual(['accepted', 'skew']);
    // Signed 1000 ms before bob's wall clock: heard at clock.at - 1000.
    clock.at += 1000;
    expect([...bob.reachable(2000)].sort()).toEqual(['v0', 'v1']);
    clock.at += 1;
    expect([...bob.reachable(2000)]).toEqual(['v1']);
  });
});
