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
  signVote,
  validatorSetHash,
  type Decision,
  type ValidatorSet,
} from '../../lib/control-plane/index.js';
import { publicKeys } from '../../lib/mesh/identity.js';
import { counter } from '../mesh/support.js';
import { expectCode } from '../support/errors.js';
import { members, type Member } from './support.js';

await ready();

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
