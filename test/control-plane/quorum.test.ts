import { describe, expect, it } from 'vitest';
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
} from '../../lib/control-plane/index.js';
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
