import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PqcError, ready } from '../../lib/index.js';
import { EnvelopeKind, parseEnvelope } from '../../lib/control-plane/index.js';
import { encodeEnvelope, signedContent } from '../../lib/control-plane/envelope.js';
import { Sig } from '../../lib/sig.js';
import { counter } from '../mesh/support.js';
import { environment } from '../support/environment.js';
import { controlPlane, members } from './support.js';

await ready();
const bytes = (text: string) => new Uint8Array(Buffer.from(text));

describe(`signed gossip on the ${environment.backend} backend`, async () => {
  const [a, b, c, stranger] = await members(4);
  const all = [a!, b!, c!];

  it('accepts a signed envelope once, forwards it one hop lower, and refuses its replay', async () => {
    const alice = controlPlane(a!, all);
    const bob = controlPlane(b!, all);
    const envelope = await alice.publish(EnvelopeKind.Gossip, bytes('route 10.0.0.0/8 via a'));
    const seen: string[] = [];
    bob.on('envelope', (e) => seen.push(Buffer.from(e.payload).toString()));
    const first = await bob.receive(envelope);
    expect(first.receipts[0]).toMatchObject({ status: 'accepted' });
    expect(seen).toEqual(['route 10.0.0.0/8 via a']);
    expect(first.outgoing).toHaveLength(1);
    expect(parseEnvelope(first.outgoing[0]!).hopLimit).toBe(parseEnvelope(envelope).hopLimit - 1);
    // The forwarded copy is the same envelope: a duplicate, not applied twice.
    const again = await bob.receive([envelope, first.outgoing[0]!]);
    expect(again.receipts.map((r) => r.reason)).toEqual(['duplicate', 'duplicate']);
    expect(seen).toHaveLength(1);
    expect(await counter(bob.metrics.registry, 'pqc_gossip_accepted_total')).toBe(1);
    expect(await counter(bob.metrics.registry, 'pqc_gossip_rejected_total', { reason: 'duplicate' })).toBe(2);
  });

  it('refuses unknown origins, forgeries, skewed and stale envelopes before applying anything', async () => {
    const alice = controlPlane(a!, all);
    let wall = Date.now();
    const bob = controlPlane(b!, all, { wallClock: () => wall, limits: { windowBlocks: 2 } });
    const fromStranger = await controlPlane(stranger!, [...all, stranger!]).publish(EnvelopeKind.Gossip, bytes('hi'));
    const genuine = await alice.publish(EnvelopeKind.Gossip, bytes('genuine'));
    const forged = Uint8Array.from(genuine);
    forged[forged.length - 5]! ^= 1;
    const tampered = parseEnvelope(genuine);
    const changed = encodeEnvelope({ ...tampered, payload: bytes('changed') }, tampered.signature);
    const result = await bob.receive([fromStranger, forged, changed, new Uint8Array([1, 2, 3])]);
    expect(result.receipts.map((r) => r.reason)).toEqual(['unknown_origin', 'forged', 'forged', 'malformed']);
    expect(result.outgoing).toHaveLength(0);
    // Skew: an envelope from far in the future (or the past).
    wall += 10 * 60_000;
    expect((await bob.receive(await alice.publish(EnvelopeKind.Gossip, bytes('x')))).receipts[0]!.reason).toBe('skew');
    wall -= 10 * 60_000;
    // Stale: far below the origin's newest sequence number (a window of 32 here).
    const old = await alice.publish(EnvelopeKind.Gossip, bytes('old'));
    const later = [];
    for (let i = 0; i < 40; i++) later.push(await alice.publish(EnvelopeKind.Gossip, bytes(`n${i}`)));
    await bob.receive(later);
    expect((await bob.receive(old)).receipts[0]!.reason).toBe('stale');
  });

  it('catches equivocation: keeps the pair as evidence anyone can check, quarantines the origin, gossips the evidence', async () => {
    const bob = controlPlane(b!, all);
    const carol = controlPlane(c!, all);
    // a signs two different envelopes with one sequence number (a Byzantine origin).
    const sig = new Sig('ML-DSA-65');
    const fields = { kind: EnvelopeKind.Gossip, origin: 'v0', sequence: 7, epoch: 0, timestamp: Date.now(), hopLimit: 3 };
    const one = { ...fields, payload: bytes('leader is v0') };
    const two = { ...fields, payload: bytes('leader is v1') };
    const e1 = encodeEnvelope(one, await sig.signAsync(signedContent(one), a!.identity.secretKey));
    const e2 = encodeEnvelope(two, await sig.signAsync(signedContent(two), a!.identity.secretKey));
    const events: string[] = [];
    bob.on('equivocation', (evidence) => events.push(evidence.origin));
    const result = await bob.receive([e1, e2]);
    expect(result.receipts.map((r) => r.status)).toEqual(['accepted', 'rejected']);
    expect(result.receipts[1]!.reason).toBe('equivocation');
    expect(events).toEqual(['v0']);
    expect(bob.isQuarantined('v0')).toBe(true);
    expect((await bob.receive(await controlPlane(a!, all).publish(EnvelopeKind.Gossip, bytes('later')))).receipts[0]!.reason).toBe('quarantined');
    // The evidence travels as bob's own envelope; carol checks it herself and quarantines v0 too.
    const evidence = result.outgoing.find((out) => parseEnvelope(out).kind === EnvelopeKind.Evidence)!;
    expect((await carol.receive(evidence)).receipts[0]!.status).toBe('accepted');
    expect(carol.isQuarantined('v0')).toBe(true);
    expect(carol.quarantine.get('v0')!.sequence).toBe(7);
    // Evidence built from one real envelope and a forged twin convicts nobody.
    const dave = controlPlane(c!, all);
    const fake = await controlPlane(b!, all).publish(EnvelopeKind.Evidence, fakeEvidence(e1, two));
    expect((await dave.receive(fake)).receipts[0]!.reason).toBe('forged');
    expect(dave.isQuarantined('v0')).toBe(false);
  });

  it('never crashes and never accepts on random or mutated envelopes (fast-check)', async () => {
    const alice = controlPlane(a!, all);
    const samples = await Promise.all([bytes('x'), bytes('longer payload')].map((p) => alice.publish(EnvelopeKind.Gossip, p)));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 5000 }),
          fc.tuple(fc.constantFrom(...samples), fc.nat(), fc.integer({ min: 1, max: 255 })).map(([s, i, bits]) => {
            const m = Uint8Array.from(s);
            m[i % m.length]! ^= bits;
            return m;
          }),
          fc.tuple(fc.constantFrom(...samples), fc.nat()).map(([s, n]) => s.subarray(0, n % s.length)),
        ),
        async (input) => {
          const bob = controlPlane(b!, all);
          const { receipts } = await bob.receive(input);
          // A flip in the hop limit byte leaves a valid envelope; nothing else may pass.
          if (receipts[0]!.status === 'accepted') expect(samples.some((s) => s.length === input.length)).toBe(true);
          else expect(receipts[0]!.reason).toBeDefined();
        },
      ),
      { numRuns: 120, seed: 10 },
    );
    await expect(alice.publish(EnvelopeKind.Gossip, 'x' as never)).rejects.toBeInstanceOf(PqcError);
  });
});

function fakeEvidence(real: Uint8Array, other: object): Uint8Array {
  const forged = encodeEnvelope(other as never, parseEnvelope(real).signature);
  const out = Buffer.alloc(8 + real.length + forged.length);
  out.writeUInt32BE(real.length, 0);
  out.set(real, 4);
  out.writeUInt32BE(forged.length, 4 + real.length);
  out.set(forged, 8 + real.length);
  return out;
}

describe('gossip edge cases', async () => {
  const [a, b] = await members(2, 'e');
  const all = [a!, b!];
  const sig = new Sig('ML-DSA-65');
  const signed = async (fields: Parameters<typeof signedContent>[0] & { hopLimit: number }, key = a!.identity.secretKey) =>
    encodeEnvelope(fields, await sig.signAsync(signedContent(fields), key));
  const base = () => ({ kind: EnvelopeKind.Gossip, origin: 'e0', sequence: 1, epoch: 0, timestamp: Date.now(), hopLimit: 3, payload: bytes('x') });

  it('keeps a byte-order mark in an origin: it names another node, not e0', async () => {
    const bob = controlPlane(b!, all);
    const bom = await signed({ ...base(), origin: '\uFEFFe0' });
    expect((await bob.receive(bom)).receipts[0]!.reason).toBe('unknown_origin');
  });

  it('refuses hop limit 0 and envelopes of an older epoch; checks its window size', async () => {
    const bob = controlPlane(b!, all, { epoch: 2 });
    expect((await bob.receive(await signed({ ...base(), hopLimit: 0 }))).receipts[0]!.reason).toBe('malformed');
    expect((await bob.receive(await signed({ ...base(), epoch: 1 }))).receipts[0]!.reason).toBe('stale');
    expect((await bob.receive(await signed({ ...base(), epoch: 2 }))).receipts[0]!.status).toBe('accepted');
    expect(() => controlPlane(b!, all, { limits: { windowBlocks: 3 } })).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_CONFIGURATION' }));
  });

  it('stays consistent when a listener throws: applied, reported accepted, forwarded', async () => {
    const bob = controlPlane(b!, all);
    bob.on('envelope', () => {
      throw new Error('listener bug');
    });
    const result = await bob.receive(await signed(base()));
    expect(result.receipts[0]!.status).toBe('accepted');
    expect(result.outgoing).toHaveLength(1);
  });

  it('can publish evidence against an equivocator that used the largest payloads', async () => {
    const bob = controlPlane(b!, all);
    const big = (fill: number) => ({ ...base(), sequence: 9, payload: new Uint8Array(64 * 1024).fill(fill) });
    const result = await bob.receive([await signed(big(1)), await signed(big(2))]);
    expect(result.receipts[1]!.reason).toBe('equivocation');
    const evidence = result.outgoing.map(parseEnvelope).find((e) => e.kind === EnvelopeKind.Evidence);
    expect(evidence).toBeDefined();
  });
});

describe('envelope sizes', async () => {
  const [a, b] = await members(2, 's');
  it('carries a certificate of the largest size, and refuses an unknown kind with a PqcError', async () => {
    const alice = controlPlane(a!, [a!, b!]);
    const bob = controlPlane(b!, [a!, b!]);
    const certificate = await alice.publish(EnvelopeKind.Certificate, new Uint8Array(256 * 1024));
    expect((await bob.receive(certificate)).receipts[0]!.status).toBe('accepted');
    await expect(alice.publish(EnvelopeKind.Certificate, new Uint8Array(256 * 1024 + 1))).rejects.toMatchObject({ code: 'ERR_PQC_INVALID_INPUT' });
    await expect(alice.publish(99 as never, new Uint8Array(1))).rejects.toMatchObject({ code: 'ERR_PQC_INVALID_INPUT' });
  });
});
