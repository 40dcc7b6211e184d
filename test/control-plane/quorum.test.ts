import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { ready } from '../../lib/index.js';
import {
  encodeCertificate,
  encodeDecision,
  encodeValidatorSet,
  parseCertificate,
  parseDecision,
  parseValidatorSet,
  QuorumValidator,
  quorumThreshold,
  signVote,
  validatorSetHash,
  type Decision,
  type ValidatorSet,
  ControlPlaneError,
} from '../../lib/control-plane/index.js';
import { publicKeys } from '../../lib/mesh/identity.js';
import { counter } from '../mesh/support.js';
import { expectCode } from '../support/errors.js';
import { environment } from '../support/environment.js';
import { members, type Member } from './support.js';

await ready();

const rejection = (promise: Promise<unknown>) => promise.then(() => 'accepted', (e: { reason?: string }) => e.reason);

describe(`quorum certificates on the ${environment.backend} backend`, async () => {
  const validators = await members(7);
  const set: ValidatorSet = { epoch: 0, validators: validators.map((v) => v.keys) };
  const decision = (slot: string, payload: string, over: Partial<Decision> = {}): Uint8Array =>
    encodeDecision({ kind: 'key_revocation', slot, epoch: 0, validatorSetHash: validatorSetHash(set), payload: new TextEncoder().encode(payload), ...over });
  const certify = async (bytes: Uint8Array, signers: Member[]) =>
    encodeCertificate(bytes, await Promise.all(signers.map((v) => signVote(bytes, v.identity, v.nodeId))));

  it('needs 2f+1 of n = 3f+1 by default', () => {
    expect([4, 7, 16, 31].map(quorumThreshold)).toEqual([3, 5, 11, 21]);
    expect(new QuorumValidator({ validatorSet: set }).threshold).toBe(5);
    expect(() => new QuorumValidator({ validatorSet: set, threshold: 4 })).toThrow(expect.objectContaining({ code: 'ERR_PQC_INVALID_CONFIGURATION' }));
  });

  it('accepts a decision with a quorum of valid votes, and refuses every kind of bad certificate', async () => {
    const quorum = new QuorumValidator({ validatorSet: set });
    const revoke = decision('revoke:v6', 'v6');
    expect((await quorum.accept(await certify(revoke, validators.slice(0, 5)))).slot).toBe('revoke:v6');
    // Accepting the same decision again is harmless.
    await quorum.accept(await certify(revoke, validators.slice(2, 7)));
    const other = decision('revoke:v5', 'v5');
    const [outsider] = await members(1, 'x');
    const fourVotes = await certify(other, validators.slice(0, 4));
    const duplicate = encodeCertificate(other, await Promise.all([0, 0, 1, 2, 3].map((i) => signVote(other, validators[i]!.identity, validators[i]!.nodeId))));
    const unknown = encodeCertificate(other, [
      ...(await Promise.all(validators.slice(0, 4).map((v) => signVote(other, v.identity, v.nodeId)))),
      await signVote(other, outsider!.identity, outsider!.nodeId),
    ]);
    const votes = await Promise.all(validators.slice(0, 5).map((v) => signVote(other, v.identity, v.nodeId)));
    const forged = encodeCertificate(other, votes.map((vote, i) => (i === 2 ? { ...vote, signature: votes[3]!.signature } : vote)));
    const wrongSet = await certify(decision('revoke:v4', 'v4', { validatorSetHash: new Uint8Array(32) }), validators.slice(0, 5));
    const wrongEpoch = await certify(decision('revoke:v4', 'v4', { epoch: 1 }), validators.slice(0, 5));
    const results = await Promise.all([fourVotes, duplicate, unknown, forged, wrongSet, wrongEpoch, new Uint8Array(3)].map((c) => rejection(quorum.accept(c))));
    expect(results).toEqual(['insufficient_quorum', 'duplicate_signer', 'unknown_signer', 'forged', 'wrong_validator_set', 'wrong_validator_set', 'malformed']);
    expect(quorum.acceptedDecision('revoke:v5', 0)).toBeUndefined();
    expect(await counter(quorum.metrics.registry, 'pqc_certificate_rejected_total')).toBe(7);
    expect(await counter(quorum.metrics.registry, 'pqc_certificate_accepted_total')).toBe(2);
  });

  it('refuses a conflicting certified decision for the same slot and epoch, keeping the pair as evidence', async () => {
    const quorum = new QuorumValidator({ validatorSet: set });
    const first = decision('membership', 'admit v7');
    const second = decision('membership', 'admit v8');
    await quorum.accept(await certify(first, validators.slice(0, 5)));
    // Only possible if at least f + 1 validators sign both (here v2, v3, v4 of the 5 + 5 votes).
    expect(await rejection(quorum.accept(await certify(second, validators.slice(2, 7))))).toBe('conflict');
    expect(quorum.conflicts).toHaveLength(1);
    expect(Buffer.from(quorum.acceptedDecision('membership', 0)!).equals(Buffer.from(first))).toBe(true);
  });

  it('moves to a new validator set only on a change certified by the old set', async () => {
    const quorum = new QuorumValidator({ validatorSet: set });
    const joiners = await members(3, 'n');
    const next: ValidatorSet = { epoch: 1, validators: [...validators, ...joiners].map((v) => v.keys) };
    const change = encodeDecision({ kind: 'validator_set_change', slot: 'validators', epoch: 0, validatorSetHash: validatorSetHash(set), payload: encodeValidatorSet(next) });
    // Certified by the newcomers only: not enough of the old set.
    expect(await rejection(quorum.accept(encodeCertificate(change, await Promise.all(joiners.map((v) => signVote(change, v.identity, v.nodeId))))))).toBe('unknown_signer');
    await quorum.accept(await certify(change, validators.slice(0, 5)));
    expect(quorum.validatorSet.epoch).toBe(1);
    expect(quorum.threshold).toBe(quorumThreshold(10));
    // Epoch-0 certificates are now refused; epoch-1 ones need the new set's 7 of 10.
    expect(await rejection(quorum.accept(await certify(decision('revoke:v1', 'v1'), validators.slice(0, 5))))).toBe('wrong_validator_set');
    const inNext = encodeDecision({ kind: 'policy_change', slot: 'policy', epoch: 1, validatorSetHash: validatorSetHash(next), payload: new Uint8Array(1) });
    const all = [...validators, ...joiners];
    expect(await rejection(quorum.accept(encodeCertificate(inNext, await Promise.all(all.slice(0, 6).map((v) => signVote(inNext, v.identity, v.nodeId))))))).toBe('insufficient_quorum');
    expect((await quorum.accept(encodeCertificate(inNext, await Promise.all(all.slice(0, 7).map((v) => signVote(inNext, v.identity, v.nodeId)))))).kind).toBe('policy_change');
  });
});

describe('quorum edge cases', async () => {
  const validators = await members(4, 'q');
  const set: ValidatorSet = { epoch: 0, validators: validators.map((v) => v.keys) };
  const certifyWith = async (bytes: Uint8Array, signers: Member[]) =>
    encodeCertificate(bytes, await Promise.all(signers.map((v) => signVote(bytes, v.identity, v.nodeId))));
  const change = (next: ValidatorSet, slot = 'validators') =>
    encodeDecision({ kind: 'validator_set_change', slot, epoch: 0, validatorSetHash: validatorSetHash(set), payload: encodeValidatorSet(next) });

  it('refuses a set change its fixed threshold cannot serve, without switching sets or taking the slot', async () => {
    const quorum = new QuorumValidator({ validatorSet: set, threshold: 3 });
    const bigger = await members(6, 'b');
    const tooBig: ValidatorSet = { epoch: 1, validators: [...validators, ...bigger].map((v) => v.keys) };
    expect(await rejection(quorum.accept(await certifyWith(change(tooBig), validators.slice(0, 3))))).toBe('wrong_validator_set');
    expect([quorum.validatorSet.epoch, quorum.threshold]).toEqual([0, 3]);
    const fine: ValidatorSet = { epoch: 1, validators: [...validators.slice(0, 3)].map((v) => v.keys) };
    expect((await quorum.accept(await certifyWith(change(fine), validators.slice(0, 3)))).kind).toBe('validator_set_change');
    expect(quorum.validatorSet.epoch).toBe(1);
  });

  it('makes two set changes in one epoch conflict, and keeps checkable evidence once, naming who signed both', async () => {
    const quorum = new QuorumValidator({ validatorSet: set });
    const a: ValidatorSet = { epoch: 1, validators: validators.slice(0, 3).map((v) => v.keys) };
    const b: ValidatorSet = { epoch: 1, validators: validators.slice(1, 4).map((v) => v.keys) };
    expect(await rejection(quorum.accept(await certifyWith(change(a, 'other-slot'), validators.slice(0, 3))))).toBe('malformed');
    const second = await certifyWith(change(b), validators.slice(1, 4));
    await quorum.accept(await certifyWith(change(a), validators.slice(0, 3)));
    // The set moved to epoch 1, but the old set is kept: a second epoch-0 change is seen as the conflict it is.
    expect(await rejection(quorum.accept(second))).toBe('conflict');
    expect(quorum.conflicts).toHaveLength(1);
    expect(quorum.validatorSet.validators.map((v) => v.nodeId)).toEqual(['q0', 'q1', 'q2']);
    // A new decision for a past epoch is refused; other kinds cannot take the set changes' slot.
    const late = encodeDecision({ kind: 'policy_change', slot: 'policy', epoch: 0, validatorSetHash: validatorSetHash(set), payload: new Uint8Array(1) });
    expect(await rejection(quorum.accept(await certifyWith(late, validators.slice(0, 3))))).toBe('wrong_validator_set');
    const squatter = encodeDecision({ kind: 'policy_change', slot: 'validators', epoch: 0, validatorSetHash: validatorSetHash(set), payload: new Uint8Array(1) });
    expect(await rejection(new QuorumValidator({ validatorSet: set }).accept(await certifyWith(squatter, validators.slice(0, 3))))).toBe('malformed');
    // Within one epoch, two certified decisions for one slot conflict, kept once however the votes are arranged.
    const other = new QuorumValidator({ validatorSet: set });
    const d1 = encodeDecision({ kind: 'policy_change', slot: 'policy', epoch: 0, validatorSetHash: validatorSetHash(set), payload: new Uint8Array([1]) });
    const d2 = encodeDecision({ kind: 'policy_change', slot: 'policy', epoch: 0, validatorSetHash: validatorSetHash(set), payload: new Uint8Array([2]) });
    await other.accept(await certifyWith(d1, validators.slice(0, 3)));
    const conflicting = await certifyWith(d2, validators.slice(1, 4));
    expect(await rejection(other.accept(conflicting))).toBe('conflict');
    expect(await rejection(other.accept(await certifyWith(d2, [validators[3]!, validators[1]!, validators[2]!])))).toBe('conflict');
    expect(other.conflicts).toHaveLength(1);
    expect(other.conflicts[0]!.signedBoth.sort()).toEqual(['q1', 'q2']);
    // The evidence is the two certificates: a fresh validator accepts each on its own.
    const judge = new QuorumValidator({ validatorSet: set });
    expect((await judge.accept(other.conflicts[0]!.first)).slot).toBe('policy');
  });

  it('refuses a validator set that lists one key under two names, and unknown decision kinds', async () => {
    const twice: ValidatorSet = { epoch: 0, validators: [...set.validators, { ...set.validators[0]!, nodeId: 'alias' } as never] };
    expect(() => new QuorumValidator({ validatorSet: twice })).toThrow(expect.objectContaining({ code: 'ERR_PQC_MALFORMED_MESSAGE' }));
    expect(() => encodeDecision({ kind: 'nonsense' as never, slot: 's', epoch: 0, validatorSetHash: new Uint8Array(32), payload: new Uint8Array(0) })).toThrow(
      expect.objectContaining({ code: 'ERR_PQC_INVALID_INPUT' }),
    );
  });
});

describe('the certificate parsers refuse what is not theirs with ERR_PQC_MALFORMED_MESSAGE', async () => {
  // Found by test/fuzz: a name field that is not UTF-8 threw a TypeError, and a validator set
  // with an unknown algorithm ERR_PQC_INVALID_INPUT, from the exported parsers.
  const [v0] = await members(1);
  const set: ValidatorSet = { epoch: 0, validators: [v0!.keys] };
  const notUtf8 = Uint8Array.of(0xc3, 0x28);
  const decision = (slot: Uint8Array) => {
    const bytes = encodeDecision({ kind: 'key_revocation', slot: 'x'.repeat(slot.length), epoch: 0, validatorSetHash: validatorSetHash(set), payload: new Uint8Array(0) });
    bytes.set(slot, 2);
    return bytes;
  };

  it('a slot, a signer or a node id that is not UTF-8', () => {
    expectCode(() => parseDecision(decision(notUtf8)), 'ERR_PQC_MALFORMED_MESSAGE');
    const certificate = encodeCertificate(decision(Uint8Array.of(0x41)), [{ signer: 'xx', signature: Uint8Array.of(1) }]);
    certificate.set(notUtf8, certificate.length - 5);
    expectCode(() => parseCertificate(certificate), 'ERR_PQC_MALFORMED_MESSAGE');
    const encoded = encodeValidatorSet(set);
    encoded.set(notUtf8, 7);
    expectCode(() => parseValidatorSet(encoded), 'ERR_PQC_MALFORMED_MESSAGE');
  });

  it('a validator whose algorithm or key is not an identity', () => {
    const encoded = encodeValidatorSet(set);
    // u32 epoch, u16 count, u8 len, "v0", u8 len, "ML-DSA-65": its "6" becomes 9.
    encoded[8 + v0!.nodeId.length + 'ML-DSA-'.length] = 0x39;
    expect(() => parseValidatorSet(encoded)).toThrow(expect.objectContaining({ code: 'ERR_PQC_MALFORMED_MESSAGE', message: expect.stringMatching(/ML-DSA-95/) }));
  });
});

/** What a refused promise carried: its reason and its message (README: the refusal's reason is the metric label). */
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => ({ reason: 'accepted', message: '' }),
    (e: { reason?: string; message: string }) => ({ reason: e.reason, message: e.message }),
  );
const malformed = (fn: () => unknown) => expectCode(fn, 'ERR_PQC_MALFORMED_MESSAGE').message;
const u32 = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const u16 = (n: number) => [n >>> 8, n & 0xff];

describe('the validator-set encoding', async () => {
  const validators = await members(7);
  const keys = validators.map((v) => v.keys);

  it('is canonical: the same set encodes (and hashes) the same in any order, sorted by node id', () => {
    const shuffled = [keys[3]!, keys[6]!, keys[0]!, keys[5]!, keys[1]!, keys[4]!, keys[2]!];
    const canonical = encodeValidatorSet({ epoch: 3, validators: keys });
    expect(Buffer.from(encodeValidatorSet({ epoch: 3, validators: shuffled })).equals(Buffer.from(canonical))).toBe(true);
    expect(Buffer.from(encodeValidatorSet({ epoch: 3, validators: [...keys].reverse() })).equals(Buffer.from(canonical))).toBe(true);
    expect(parseValidatorSet(encodeValidatorSet({ epoch: 3, validators: shuffled })).validators.map((v) => v.nodeId)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6']);
  });

  it('refuses a count of 0 or above 256, and names the field a short one lacks', () => {
    expect(malformed(() => parseValidatorSet(Uint8Array.of(...u32(0), ...u16(0))))).toBe('a validator set of 0 validators');
    expect(malformed(() => parseValidatorSet(Uint8Array.of(...u32(0), ...u16(257))))).toBe('a validator set of 257 validators');
    // 256 is allowed: the parser goes on to the first node id.
    expect(malformed(() => parseValidatorSet(Uint8Array.of(...u32(0), ...u16(256), 0)))).toBe('a validator set: a node id must be 1 to 255 bytes, got 0');
    expect(malformed(() => parseValidatorSet(Uint8Array.of(...u32(0), ...u16(1), 1, 0x76, 0)))).toBe('a validator set: an algorithm must be 1 to 32 bytes, got 0');
    const algorithm = new TextEncoder().encode(keys[0]!.sigAlgorithm);
    expect(malformed(() => parseValidatorSet(Uint8Array.of(...u32(0), ...u16(1), 1, 0x76, algorithm.length, ...algorithm, ...u16(0))))).toBe(
      'a validator set: a key must be 1 to 4096 bytes, got 0',
    );
  });

  it('refuses to encode or parse a set that names a node twice or lists a key twice', () => {
    const sameName = publicKeys('v0', validators[1]!.identity.algorithm, validators[1]!.identity.publicKey);
    const sameKey = publicKeys('alias', validators[0]!.identity.algorithm, validators[0]!.identity.publicKey);
    // Two one-validator encodings spliced into one set of two, as a peer could send it.
    const twoOf = (a: typeof sameName, b: typeof sameName) =>
      Uint8Array.of(...u32(0), ...u16(2), ...encodeValidatorSet({ epoch: 0, validators: [a] }).subarray(6), ...encodeValidatorSet({ epoch: 0, validators: [b] }).subarray(6));
    for (const [other, message] of [
      [sameName, 'a validator set that names a node twice'],
      [sameKey, 'a validator set that lists one key under two names'],
    ] as const) {
      expect(malformed(() => encodeValidatorSet({ epoch: 0, validators: [keys[0]!, other] }))).toBe(message);
      expect(malformed(() => parseValidatorSet(twoOf(keys[0]!, other)))).toBe(message);
      expect(malformed(() => new QuorumValidator({ validatorSet: { epoch: 0, validators: [keys[0]!, other] } }))).toBe(message);
    }
  });
});

describe('the decision and certificate parsers', () => {
  const hash = new Array<number>(32).fill(7);

  it('say which decision kinds there are, and refuse an unknown one', () => {
    expect(
      expectCode(() => encodeDecision({ kind: 'nonsense' as never, slot: 's', epoch: 0, validatorSetHash: new Uint8Array(32), payload: new Uint8Array(0) }), 'ERR_PQC_INVALID_INPUT').message,
    ).toBe('a decision kind must be one of key_revocation, membership_change, policy_change, validator_set_change');
    expect(malformed(() => parseDecision(Uint8Array.of(4)))).toBe('a decision of unknown kind');
  });

  it('name the decision field that is missing or out of bounds', () => {
    expect(malformed(() => parseDecision(Uint8Array.of(0, 0)))).toBe('a decision: the slot must be 1 to 255 bytes, got 0');
    expect(malformed(() => parseDecision(Uint8Array.of(0, 1, 0x73, ...u32(0), 1, 2, 3, 4, 5)))).toBe(
      'a decision is truncated: the validator-set hash needs 32 bytes, 5 left',
    );
    // 32 KiB of payload is the most a decision may carry.
    expect(malformed(() => parseDecision(Uint8Array.of(0, 1, 0x73, ...u32(0), ...hash, ...u32(32 * 1024 + 1))))).toBe('a decision payload too large');
    expect(malformed(() => parseDecision(Uint8Array.of(0, 1, 0x73, ...u32(0), ...hash, ...u32(32 * 1024))))).toBe(
      'a decision is truncated: the payload needs 32768 bytes, 0 left',
    );
  });

  it('refuse what is not a certificate, naming the field', () => {
    expect(malformed(() => parseCertificate('certificate' as never))).toBe('a certificate must be a Uint8Array');
    expect(malformed(() => parseCertificate(Uint8Array.of(...u32(0))))).toBe('a certificate is truncated: a 16-bit length needs 2 bytes, 0 left');
    // A decision may be at most its payload's 32 KiB plus 512 bytes of header.
    expect(malformed(() => parseCertificate(Uint8Array.of(...u32(32 * 1024 + 513))))).toBe('a decision too large');
    expect(malformed(() => parseCertificate(Uint8Array.of(...u32(32 * 1024 + 512))))).toBe('a certificate is truncated: the decision needs 33280 bytes, 0 left');
    expect(malformed(() => parseCertificate(Uint8Array.of(...u32(0), ...u16(257))))).toBe('a certificate of 257 votes');
    expect(malformed(() => parseCertificate(Uint8Array.of(...u32(0), ...u16(256), 0)))).toBe('a certificate: a signer must be 1 to 255 bytes, got 0');
    expect(malformed(() => parseCertificate(Uint8Array.of(...u32(0), ...u16(1), 1, 0x61, ...u16(0))))).toBe(
      'a certificate: a signature must be 1 to 4627 bytes, got 0',
    );
  });
});

describe('QuorumValidator refusals', async () => {
  const validators = await members(4, 'q');
  const [outsider] = await members(1, 'x');
  const set: ValidatorSet = { epoch: 0, validators: validators.map((v) => v.keys) };
  const decision = (over: Partial<Decision> = {}) =>
    encodeDecision({ kind: 'policy_change', slot: 'policy', epoch: 0, validatorSetHash: validatorSetHash(set), payload: Uint8Array.of(1), ...over });
  const certify = async (bytes: Uint8Array, signers: Member[]) =>
    encodeCertificate(bytes, await Promise.all(signers.map((v) => signVote(bytes, v.identity, v.nodeId))));
  const change = (from: ValidatorSet, next: ValidatorSet) =>
    encodeDecision({ kind: 'validator_set_change', slot: 'validators', epoch: from.epoch, validatorSetHash: validatorSetHash(from), payload: encodeValidatorSet(next) });

  it('explain each refusal, and count it under its reason', async () => {
    const registry = new Registry();
    const quorum = new QuorumValidator({ validatorSet: set, registry });
    const bytes = decision();
    const votes = await Promise.all(validators.map((v) => signVote(bytes, v.identity, v.nodeId)));
    const results = await Promise.all(
      [
        encodeCertificate(bytes, [votes[0]!, votes[0]!, votes[1]!]),
        encodeCertificate(bytes, [votes[0]!, await signVote(bytes, outsider!.identity, outsider!.nodeId), votes[1]!]),
        encodeCertificate(bytes, votes.slice(0, 2)),
        encodeCertificate(bytes, [votes[0]!, { ...votes[1]!, signature: votes[2]!.signature }, votes[2]!]),
        await certify(decision({ epoch: 5 }), validators.slice(0, 3)),
        await certify(decision({ validatorSetHash: new Uint8Array(32) }), validators.slice(0, 3)),
        await certify(decision({ slot: 'validators' }), validators.slice(0, 3)),
        'not bytes' as never,
      ].map((c) => refusal(quorum.accept(c))),
    );
    expect(results).toEqual([
      { reason: 'duplicate_signer', message: 'q0 signed the certificate twice' },
      { reason: 'unknown_signer', message: 'x0 is not a validator of epoch 0' },
      { reason: 'insufficient_quorum', message: '2 votes, 3 needed of 4' },
      { reason: 'forged', message: "q1's vote does not verify" },
      { reason: 'wrong_validator_set', message: 'a decision for epoch 5; the validator set is at 0' },
      { reason: 'wrong_validator_set', message: 'a decision bound to another validator set' },
      { reason: 'malformed', message: 'the slot "validators" is for validator-set changes, and they use no other' },
      { reason: 'malformed', message: 'a certificate must be a Uint8Array' },
    ]);
    const rejected = (reason: string) => counter(registry, 'pqc_certificate_rejected_total', { reason });
    expect(await Promise.all(['duplicate_signer', 'unknown_signer', 'insufficient_quorum', 'forged', 'wrong_validator_set', 'malformed'].map(rejected))).toEqual([1, 1, 1, 1, 2, 2]);
  });

  it('turns whatever a hostile input throws into a malformed refusal, never an untyped error', async () => {
    const quorum = new QuorumValidator({ validatorSet: set });
    const throwing = (thrown: unknown) => Object.defineProperty(new Uint8Array(8), 'length', { get: () => { throw thrown; } });
    const outcomes = await Promise.all(
      [new TypeError('length went away'), undefined].map((thrown) =>
        quorum.accept(throwing(thrown)).then(
          () => 'accepted',
          (e: Error & { code?: string; reason?: string }) => [e instanceof ControlPlaneError, e.code, e.reason, e.message],
        ),
      ),
    );
    expect(outcomes).toEqual([
      [true, 'ERR_PQC_MALFORMED_MESSAGE', 'malformed', 'length went away'],
      [true, 'ERR_PQC_MALFORMED_MESSAGE', 'malformed', 'undefined'],
    ]);
  });

  it('refuses a threshold above n, saying which thresholds a set allows', () => {
    expect(expectCode(() => new QuorumValidator({ validatorSet: set, threshold: 5 }), 'ERR_PQC_INVALID_CONFIGURATION').message).toBe(
      'a quorum threshold for 4 validators must be from 3 (2f+1) to 4, got 5',
    );
  });

  it('refuses a set change that skips an epoch, and keeps the current set', async () => {
    const quorum = new QuorumValidator({ validatorSet: set });
    const skipping = await certify(change(set, { epoch: 2, validators: set.validators }), validators.slice(0, 3));
    expect(await refusal(quorum.accept(skipping))).toEqual({ reason: 'wrong_validator_set', message: 'a new validator set must be for epoch 1' });
    expect(quorum.validatorSet.epoch).toBe(0);
    expect(quorum.acceptedDecision('validators', 0)).toBeUndefined();
  });

  it('records each distinct conflict once, per slot and per second decision', async () => {
    const quorum = new QuorumValidator({ validatorSet: set });
    await quorum.accept(await certify(decision(), validators.slice(0, 3)));
    await quorum.accept(await certify(decision({ slot: 'membership', kind: 'membership_change' }), validators.slice(0, 3)));
    const second = await certify(decision({ payload: Uint8Array.of(2) }), validators.slice(1, 4));
    expect(await refusal(quorum.accept(second))).toEqual({
      reason: 'conflict',
      message: 'a second certified decision for slot policy in epoch 0: more than f validators signed both',
    });
    await refusal(quorum.accept(second));
    await refusal(quorum.accept(await certify(decision({ payload: Uint8Array.of(3) }), validators.slice(1, 4))));
    await refusal(quorum.accept(await certify(decision({ slot: 'membership', kind: 'membership_change', payload: Uint8Array.of(2) }), validators.slice(1, 4))));
    expect(quorum.conflicts.map((c) => [c.slot, parseCertificate(c.second).decision.payload[0]])).toEqual([
      ['policy', 2],
      ['policy', 3],
      ['membership', 2],
    ]);
  });

  it('accepts a set change again once the set has moved on, and forgets sets more than four epochs old', async () => {
    const quorum = new QuorumValidator({ validatorSet: set });
    const sets = [0, 1, 2, 3, 4, 5].map((epoch): ValidatorSet => ({ epoch, validators: set.validators }));
    const firstChange = await certify(change(sets[0]!, sets[1]!), validators.slice(0, 3));
    await quorum.accept(firstChange);
    // Accepting the same certificate again is harmless, even though the set is now at epoch 1.
    expect((await quorum.accept(firstChange)).epoch).toBe(0);
    for (let epoch = 1; epoch < 5; epoch++) await quorum.accept(await certify(change(sets[epoch]!, sets[epoch + 1]!), validators.slice(0, 3)));
    expect(quorum.validatorSet.epoch).toBe(5);
    const late = (epoch: number) => certify(decision({ epoch, validatorSetHash: validatorSetHash(sets[epoch]!) }), validators.slice(0, 3));
    expect(await refusal(quorum.accept(await late(1)))).toEqual({ reason: 'wrong_validator_set', message: 'a new decision for past epoch 1; the validator set is at 5' });
    expect(await refusal(quorum.accept(await late(0)))).toEqual({ reason: 'wrong_validator_set', message: 'a decision for epoch 0; the validator set is at 5' });
  });
});
