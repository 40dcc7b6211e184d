import { createHash } from 'node:crypto';
import { Registry } from 'prom-client';
import { PqcError } from '../errors.js';
import { pqcMetrics, type PqcMetrics } from '../metrics.js';
import { sigFor, verifyAll } from '../mesh/signatures.js';
import { parsePublicKeys, type MeshIdentity, type PublicKeys } from '../mesh/identity.js';
import { WireReader, WireWriter } from '../mesh/wire.js';
import { refuse, refusalOf, ControlPlaneError } from './refusal.js';

/** The critical events that need a quorum certificate. */
export const DECISION_KINDS = ['key_revocation', 'membership_change', 'policy_change', 'validator_set_change'] as const;
export type DecisionKind = (typeof DECISION_KINDS)[number];

export interface ValidatorSet {
  epoch: number;
  validators: PublicKeys[];
}

/** A critical decision, bound to its slot, its epoch and the validator set that certifies it. */
export interface Decision {
  kind: DecisionKind;
  /** What the decision is about (e.g. "revoke:node-7"): one accepted decision per slot and epoch. */
  slot: string;
  epoch: number;
  validatorSetHash: Uint8Array;
  payload: Uint8Array;
}

export interface Vote {
  signer: string;
  signature: Uint8Array;
}

/**
 * Two certified decisions for one slot and epoch: the two certificates, whose votes any node
 * can check, and the validators that signed both (at least f + 1 if the set was honest enough).
 */
export interface ConflictEvidence {
  slot: string;
  epoch: number;
  first: Uint8Array;
  second: Uint8Array;
  signedBoth: string[];
  /** SHA-256 of the second decision's bytes. */
  secondDigest: string;
}

/** The one slot of validator-set changes: two changes in one epoch conflict. */
export const VALIDATOR_SET_SLOT = 'validators';
/** Past validator sets kept, for the conflicts late certificates reveal. */
const KEPT_ERAS = 4;

interface Era {
  set: ValidatorSet;
  hash: Uint8Array;
  threshold: number;
}

const encoder = new TextEncoder();
const VOTE_LABEL = encoder.encode('x0tta6bl4-cp/1 decision\0');
const MAX_DECISION_PAYLOAD = 32 * 1024;
const MAX_VALIDATORS = 256;

/** BFT's threshold: the least number of votes any two of which share an honest validator when at most f = ⌊(n−1)/3⌋ lie: 2f+1 for n = 3f+1. */
export function quorumThreshold(n: number): number {
  return Math.floor((2 * n) / 3) + 1;
}

/** The canonical encoding (sorted by node id) of a set with no node named twice and no key under two names. */
export function encodeValidatorSet(set: ValidatorSet): Uint8Array {
  requireDistinct(set.validators);
  // Stryker disable next-line EqualityOperator: node ids are distinct here, so `<=` is `<`; `>=` (reversed order) is also disabled by this, and the canonical-order test would catch it.
  const sorted = [...set.validators].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
  const writer = new WireWriter().u32(set.epoch).u16(sorted.length);
  for (const v of sorted) writer.short(encoder.encode(v.nodeId)).short(encoder.encode(v.sigAlgorithm)).long(v.sigPublicKey);
  return writer.finish();
}

export function parseValidatorSet(bytes: Uint8Array): ValidatorSet {
  const wire = new WireReader(bytes, 'a validator set');
  const epoch = wire.u32();
  const count = wire.u16();
  if (count === 0 || count > MAX_VALIDATORS) refuse('malformed', `a validator set of ${count} validators`);
  const validators: PublicKeys[] = [];
  for (let i = 0; i < count; i++) {
    const nodeId = wire.text('a node id', 1, 255);
    const sigAlgorithm = wire.text('an algorithm', 1, 32);
    const sigPublicKey = Uint8Array.from(wire.long('a key', 1, 4096));
    try {
      validators.push(parsePublicKeys({ nodeId, sigAlgorithm, sigPublicKey }));
    } catch (error) {
      refuse('malformed', `validator ${i} of the set: ${(error as Error).message}`);
    }
  }
  wire.end();
  requireDistinct(validators);
  return { epoch, validators };
}

/** One vote per validator: no node named twice, no key under two names. */
function requireDistinct(validators: PublicKeys[]): void {
  if (new Set(validators.map((v) => v.nodeId)).size !== validators.length) refuse('malformed', 'a validator set that names a node twice');
  if (new Set(validators.map((v) => v.keyId)).size !== validators.length) refuse('malformed', 'a validator set that lists one key under two names');
}

export function validatorSetHash(set: ValidatorSet): Uint8Array {
  return new Uint8Array(createHash('sha256').update(encodeValidatorSet(set)).digest());
}

export function encodeDecision(d: Decision): Uint8Array {
  const kind = DECISION_KINDS.indexOf(d.kind);
  if (kind < 0) throw new PqcError('ERR_PQC_INVALID_INPUT', `a decision kind must be one of ${DECISION_KINDS.join(', ')}`);
  return new WireWriter()
    .u8(kind)
    .short(encoder.encode(d.slot))
    .u32(d.epoch)
    .raw(d.validatorSetHash)
    .u32(d.payload.length)
    .raw(d.payload)
    .finish();
}

export function parseDecision(bytes: Uint8Array): Decision {
  const wire = new WireReader(bytes, 'a decision');
  const kind = DECISION_KINDS[wire.u8()];
  if (!kind) refuse('malformed', 'a decision of unknown kind');
  const slot = wire.text('the slot', 1, 255);
  const epoch = wire.u32();
  const validatorSetHash = wire.bytesOf(32, 'the validator-set hash');
  const length = wire.u32();
  if (length > MAX_DECISION_PAYLOAD) refuse('malformed', 'a decision payload too large');
  const payload = wire.bytesOf(length, 'the payload');
  wire.end();
  return { kind, slot, epoch, validatorSetHash, payload };
}

/** A validator's vote: its signature over the label and the exact decision bytes. */
export async function signVote(decisionBytes: Uint8Array, identity: MeshIdentity, signer: string): Promise<Vote> {
  return { signer, signature: await sigFor(identity.algorithm).signAsync(voteData(decisionBytes), identity.secretKey) };
}

const voteData = (decisionBytes: Uint8Array) => {
  const out = new Uint8Array(VOTE_LABEL.length + decisionBytes.length);
  out.set(VOTE_LABEL);
  out.set(decisionBytes, VOTE_LABEL.length);
  return out;
};

/** decision ‖ votes: u32 len ‖ decision ‖ u16 count ‖ (u8 len ‖ signer ‖ u16 len ‖ signature)* */
export function encodeCertificate(decisionBytes: Uint8Array, votes: Vote[]): Uint8Array {
  const writer = new WireWriter().u32(decisionBytes.length).raw(decisionBytes).u16(votes.length);
  for (const vote of votes) writer.short(encoder.encode(vote.signer)).long(vote.signature);
  return writer.finish();
}

export function parseCertificate(bytes: Uint8Array): { decisionBytes: Uint8Array; decision: Decision; votes: Vote[] } {
  if (!(bytes instanceof Uint8Array)) refuse('malformed', 'a certificate must be a Uint8Array');
  const wire = new WireReader(bytes, 'a certificate');
  const length = wire.u32();
  if (length > MAX_DECISION_PAYLOAD + 512) refuse('malformed', 'a decision too large');
  const decisionBytes = wire.bytesOf(length, 'the decision');
  const count = wire.u16();
  if (count > MAX_VALIDATORS) refuse('malformed', `a certificate of ${count} votes`);
  const votes: Vote[] = [];
  for (let i = 0; i < count; i++) votes.push({ signer: wire.text('a signer', 1, 255), signature: wire.long('a signature', 1, 4627) });
  wire.end();
  return { decisionBytes, decision: parseDecision(decisionBytes), votes };
}

/**
 * Validates quorum certificates for critical events against the current validator set: the
 * decision's epoch and validator-set hash, no duplicate or unknown signers, at least
 * `threshold` votes, every vote's signature (one pooled batch), and no conflict with a
 * decision already accepted for the same slot and epoch (a conflicting pair is kept as
 * evidence). An accepted `validator_set_change` (certified by the old set) installs the new set.
 *
 * It validates; it does not order proposals: that is the caller's consensus (Raft, a BFT
 * engine). Its guarantee assumes fewer than f + 1 Byzantine validators in each set.
 */
export class QuorumValidator {
  readonly metrics: PqcMetrics;
  /** The current epoch's set and the few before it: late certificates of a past epoch can still reveal a conflict. */
  readonly #eras = new Map<number, Era>();
  #epoch: number;
  readonly #thresholdOverride: number | undefined;
  readonly #accepted = new Map<string, { digest: string; bytes: Uint8Array; certificate: Uint8Array; signers: string[] }>();
  readonly #conflicts: ConflictEvidence[] = [];

  constructor(options: { validatorSet: ValidatorSet; threshold?: number; registry?: Registry }) {
    this.metrics = pqcMetrics(options.registry ?? new Registry());
    this.#thresholdOverride = options.threshold;
    this.#epoch = options.validatorSet.epoch;
    this.#eras.set(this.#epoch, this.#era(options.validatorSet));
  }

  get validatorSet(): ValidatorSet {
    return this.#current.set;
  }

  get threshold(): number {
    return this.#current.threshold;
  }

  get #current(): Era {
    return this.#eras.get(this.#epoch)!;
  }

  get conflicts(): readonly ConflictEvidence[] {
    return this.#conflicts;
  }

  /** The accepted decision's bytes for a slot in an epoch, if any. */
  acceptedDecision(slot: string, epoch: number): Uint8Array | undefined {
    return this.#accepted.get(`${epoch}\0${slot}`)?.bytes;
  }

  /** Every accepted decision as `epoch/slot → decision hex`, for comparing nodes. */
  acceptedSummary(): Record<string, string> {
    return Object.fromEntries([...this.#accepted].map(([key, { digest }]) => [key.replace('\0', '/'), digest]));
  }

  /** Validates and accepts a certificate; throws a ControlPlaneError (counted) for a refused one. */
  async accept(certificate: Uint8Array): Promise<Decision> {
    try {
      const { decision, decisionBytes, votes } = await this.#validate(certificate);
      const key = `${decision.epoch}\0${decision.slot}`;
      const digest = createHash('sha256').update(decisionBytes).digest('hex');
      const earlier = this.#accepted.get(key);
      const signers = votes.map((vote) => vote.signer);
      if (earlier && earlier.digest !== digest) {
        // One entry per conflicting decision, however its votes are reordered or re-signed; its digest covers its slot and epoch.
        if (!this.#conflicts.some((c) => c.secondDigest === digest)) {
          const signedBoth = signers.filter((signer) => earlier.signers.includes(signer));
          this.#conflicts.push({ slot: decision.slot, epoch: decision.epoch, first: earlier.certificate, second: certificate, signedBoth, secondDigest: digest });
        }
        refuse('conflict', `a second certified decision for slot ${decision.slot} in epoch ${decision.epoch}: more than f validators signed both`);
      }
      if (!earlier) {
        if (decision.epoch !== this.#epoch) refuse('wrong_validator_set', `a new decision for past epoch ${decision.epoch}; the validator set is at ${this.#epoch}`);
        // A set change is checked whole before anything is recorded: a refused one must not take its slot.
        const next = decision.kind === 'validator_set_change' ? this.#nextSet(decision) : undefined;
        this.#accepted.set(key, { digest, bytes: decisionBytes, certificate, signers });
        if (next) {
          this.#epoch = next.set.epoch;
          this.#eras.set(next.set.epoch, next);
          for (const epoch of this.#eras.keys()) if (epoch < this.#epoch - KEPT_ERAS) this.#eras.delete(epoch);
        }
      }
      this.metrics.certificateAccepted.inc();
      return decision;
    } catch (error) {
      this.metrics.certificateRejected.inc({ reason: refusalOf(error) });
      throw error instanceof PqcError ? error : new ControlPlaneError('malformed', String((error as Error)?.message ?? error));
    }
  }

  async #validate(certificate: Uint8Array) {
    const parsed = parseCertificate(certificate);
    const { decision, votes } = parsed;
    // The slot of set changes is theirs alone, so that two changes in one epoch conflict.
    if ((decision.kind === 'validator_set_change') !== (decision.slot === VALIDATOR_SET_SLOT)) {
      refuse('malformed', `the slot "${VALIDATOR_SET_SLOT}" is for validator-set changes, and they use no other`);
    }
    const era = this.#eras.get(decision.epoch);
    if (!era) refuse('wrong_validator_set', `a decision for epoch ${decision.epoch}; the validator set is at ${this.#epoch}`);
    if (!Buffer.from(decision.validatorSetHash).equals(Buffer.from(era.hash))) refuse('wrong_validator_set', 'a decision bound to another validator set');
    const signers = new Set<string>();
    const keys: PublicKeys[] = [];
    for (const vote of votes) {
      if (signers.has(vote.signer)) refuse('duplicate_signer', `${vote.signer} signed the certificate twice`);
      signers.add(vote.signer);
      const key = era.set.validators.find((v) => v.nodeId === vote.signer);
      if (!key) refuse('unknown_signer', `${vote.signer} is not a validator of epoch ${decision.epoch}`);
      keys.push(key);
    }
    if (votes.length < era.threshold) refuse('insufficient_quorum', `${votes.length} votes, ${era.threshold} needed of ${era.set.validators.length}`);
    const data = voteData(parsed.decisionBytes);
    const valid = await verifyAll(keys.map((key, i) => ({ data, signature: votes[i]!.signature, algorithm: key.sigAlgorithm, publicKey: key.sigPublicKey })));
    const bad = valid.indexOf(false);
    if (bad >= 0) refuse('forged', `${votes[bad]!.signer}'s vote does not verify`);
    return parsed;
  }

  #nextSet(decision: Decision): Era {
    const set = parseValidatorSet(decision.payload);
    if (set.epoch !== this.#epoch + 1) refuse('wrong_validator_set', `a new validator set must be for epoch ${this.#epoch + 1}`);
    try {
      return this.#era(set);
    } catch (error) {
      return refuse('wrong_validator_set', (error as Error).message);
    }
  }

  #era(set: ValidatorSet): Era {
    return { set, hash: validatorSetHash(set), threshold: this.#thresholdFor(set) };
  }

  #thresholdFor(set: ValidatorSet): number {
    const n = set.validators.length;
    const threshold = this.#thresholdOverride ?? quorumThreshold(n);
    if (!Number.isInteger(threshold) || threshold < quorumThreshold(n) || threshold > n) {
      throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', `a quorum threshold for ${n} validators must be from ${quorumThreshold(n)} (2f+1) to ${n}, got ${String(threshold)}`);
    }
    return threshold;
  }
}
