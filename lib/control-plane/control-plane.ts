import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { PqcError } from '../errors.js';
import { pqcMetrics, type PqcMetrics } from '../metrics.js';
import { systemClock, type Clock } from '../policy/clock.js';
import type { MeshIdentity, PublicKeys } from '../mesh/identity.js';
import { requireNodeId } from '../mesh/identity.js';
import { BoundedMap } from '../mesh/limits.js';
import { ReplayWindow } from '../mesh/replay-window.js';
import {
  encodeEnvelope,
  EnvelopeKind,
  forwarded,
  MAX_HOP_LIMIT,
  maxPayload,
  parseEnvelope,
  signedContent,
  type Envelope,
  type EnvelopeFields,
} from './envelope.js';
import { encodeEvidence, evidenceSignedData, parseEvidence, type EquivocationEvidence } from './evidence.js';
import { refusalOf, type ControlRefusal } from './refusal.js';
import { sigFor, verifyAll } from '../mesh/signatures.js';

export interface ControlPlaneLimits {
  /** Envelopes timestamped further than this from our clock are refused as skewed. Default 120 000 ms. */
  maxClockSkewMs: number;
  /** Sequence numbers this far below an origin's highest are stale (RFC 6479 window; 4064 by default). */
  windowBlocks: number;
  /** Envelopes kept per origin for equivocation checks (default 256) and origins tracked (default 4096). */
  keptPerOrigin: number;
  maxOrigins: number;
  /** Hop limit of the envelopes this node publishes (default 6, at most 16). */
  hopLimit: number;
}

export const DEFAULT_CONTROL_PLANE_LIMITS: ControlPlaneLimits = {
  maxClockSkewMs: 120_000,
  windowBlocks: 128,
  keptPerOrigin: 256,
  maxOrigins: 4096,
  hopLimit: 6,
};

export interface ControlPlaneOptions {
  nodeId: string;
  /** The node's ML-DSA identity (the same as its PQMeshSecurity's). */
  identity: MeshIdentity;
  /** The trust store: an origin's keys, or undefined for an origin we do not know. */
  trust: (nodeId: string) => PublicKeys | undefined;
  registry?: Registry;
  clock?: Clock;
  /** Wall-clock milliseconds for timestamps (default Date.now). */
  wallClock?: () => number;
  epoch?: number;
  limits?: Partial<ControlPlaneLimits>;
}

export interface Receipt {
  status: 'accepted' | 'rejected';
  reason?: ControlRefusal;
  envelope?: Envelope;
}

export interface Received {
  /** One per envelope given, in order. */
  receipts: Receipt[];
  /** What to send on to the neighbours: accepted envelopes one hop further, and our own evidence. */
  outgoing: Uint8Array[];
}

export interface ControlPlaneEvents {
  /** Every accepted envelope, evidence included. */
  envelope: [Envelope];
  equivocation: [EquivocationEvidence];
}

interface OriginState {
  window: ReplayWindow;
  /** Accepted envelopes by sequence number, the most recent `keptPerOrigin`. */
  kept: BoundedMap<number, Envelope>;
}

/**
 * One node's view of the signed control plane: transport-agnostic (bytes in, bytes out).
 * `publish` signs an envelope; `receive` checks envelopes cheapest first — size, version and
 * fields, known origin, quarantine, timestamp skew, sequence window — and verifies the
 * signatures last, all of a batch in one pooled `verifyMany`. Accepted envelopes are applied
 * once and forwarded within their hop limit. An origin that signs two envelopes with one
 * sequence number is quarantined and the pair is kept and gossiped as evidence.
 */
export class ControlPlane extends EventEmitter<ControlPlaneEvents> {
  readonly nodeId: string;
  readonly metrics: PqcMetrics;
  epoch: number;
  readonly #identity: MeshIdentity;
  readonly #trust: (nodeId: string) => PublicKeys | undefined;
  readonly #clock: Clock;
  readonly #wallClock: () => number;
  readonly #limits: ControlPlaneLimits;
  readonly #origins: BoundedMap<string, OriginState>;
  readonly #quarantined = new Map<string, EquivocationEvidence>();
  readonly #lastHeard = new Map<string, number>();
  #sequence = 0;

  constructor(options: ControlPlaneOptions) {
    super();
    this.nodeId = requireNodeId(options.nodeId);
    this.#identity = options.identity;
    this.#trust = options.trust;
    this.#clock = options.clock ?? systemClock;
    this.#wallClock = options.wallClock ?? Date.now;
    this.epoch = options.epoch ?? 0;
    this.#limits = { ...DEFAULT_CONTROL_PLANE_LIMITS, ...options.limits };
    if (!(Number.isInteger(this.#limits.hopLimit) && this.#limits.hopLimit >= 1 && this.#limits.hopLimit <= MAX_HOP_LIMIT)) {
      throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', `hopLimit must be from 1 to ${MAX_HOP_LIMIT}`);
    }
    const blocks = this.#limits.windowBlocks;
    // RFC 6479's ring is indexed by masking: its size must be a power of two.
    if (!(Number.isInteger(blocks) && blocks >= 2 && blocks <= 65_536 && (blocks & (blocks - 1)) === 0)) {
      throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', `windowBlocks must be a power of two from 2 to 65536, got ${String(blocks)}`);
    }
    this.#origins = new BoundedMap(this.#limits.maxOrigins);
    this.metrics = pqcMetrics(options.registry ?? new Registry());
    // The next sequence numbers start from the wall clock: a restarted node must not reuse its old ones.
    this.#sequence = this.#wallClock() * 1000;
  }

  /** Signs and encodes an envelope of `kind`; the bytes go to every neighbour. */
  async publish(kind: EnvelopeKind, payload: Uint8Array): Promise<Uint8Array> {
    if (!(payload instanceof Uint8Array) || payload.length > maxPayload(kind)) {
      throw new PqcError('ERR_PQC_INVALID_INPUT', `a payload must be a Uint8Array of at most ${maxPayload(kind)} bytes for its kind`);
    }
    const fields: EnvelopeFields = {
      kind,
      origin: this.nodeId,
      sequence: ++this.#sequence,
      epoch: this.epoch,
      timestamp: Math.floor(this.#wallClock()),
      hopLimit: this.#limits.hopLimit,
      payload,
    };
    const signature = await sigFor(this.#identity.algorithm).signAsync(signedContent(fields), this.#identity.secretKey);
    return encodeEnvelope(fields, signature);
  }

  isQuarantined(nodeId: string): boolean {
    return this.#quarantined.has(nodeId);
  }

  /** The quarantined origins and the evidence against each. */
  get quarantine(): ReadonlyMap<string, EquivocationEvidence> {
    return this.#quarantined;
  }

  /**
   * Origins heard from (any accepted envelope) within `withinMs`, this node included, quarantined
   * ones not, by when each envelope was signed: `withinMs` must allow for the clock skew between nodes.
   */
  reachable(withinMs: number): Set<string> {
    const now = this.#clock.now();
    const heard = new Set([this.nodeId]);
    for (const [origin, at] of this.#lastHeard) if (now - at <= withinMs && !this.#quarantined.has(origin)) heard.add(origin);
    return heard;
  }

  /** Checks and applies a batch of envelopes; never throws for what a peer sent. */
  async receive(batch: Uint8Array | Uint8Array[]): Promise<Received> {
    const items = Array.isArray(batch) ? batch : [batch];
    // Stryker disable next-line ArrowFunction,ObjectLiteral,StringLiteral: a placeholder; every index is written below (malformed, refused by the precheck, or after verification) before it is read.
    const receipts: Receipt[] = items.map(() => ({ status: 'rejected' }));
    const candidates: { index: number; envelope: Envelope; keys: PublicKeys }[] = [];
    items.forEach((bytes, index) => {
      let envelope: Envelope;
      try {
        envelope = parseEnvelope(bytes);
      } catch {
        receipts[index] = { status: 'rejected', reason: 'malformed' };
        return;
      }
      const checked = this.#precheck(envelope);
      if (typeof checked === 'string') receipts[index] = { status: 'rejected', reason: checked, envelope };
      else candidates.push({ index, envelope, keys: checked });
    });
    const valid = await this.#verify(candidates.map(({ envelope, keys }) => ({ data: envelope.signed, signature: envelope.signature, keys })));
    const outgoing: Uint8Array[] = [];
    for (const [k, { index, envelope }] of candidates.entries()) {
      try {
        const applied = valid[k] ? await this.#apply(envelope) : { outgoing: [], refusal: 'forged' as const };
        outgoing.push(...applied.outgoing);
        receipts[index] = applied.refusal ? { status: 'rejected', reason: applied.refusal, envelope } : { status: 'accepted', envelope };
      } catch (error) {
        receipts[index] = { status: 'rejected', reason: refusalOf(error), envelope };
      }
    }
    for (const receipt of receipts) {
      if (receipt.status === 'accepted') this.metrics.gossipAccepted.inc();
      else this.metrics.gossipRejected.inc({ reason: receipt.reason! });
    }
    return { receipts, outgoing };
  }

  /**
   * The cheap checks, before any signature: the origin's keys, or why not. Answered, not thrown:
   * a flood of duplicates must cost less than the signatures it spares.
   */
  #precheck(envelope: Envelope): PublicKeys | ControlRefusal {
    if (envelope.origin === this.nodeId) return 'duplicate';
    const keys = this.#trust(envelope.origin);
    if (!keys) return 'unknown_origin';
    if (this.#quarantined.has(envelope.origin)) return 'quarantined';
    if (Math.abs(this.#wallClock() - envelope.timestamp) > this.#limits.maxClockSkewMs) return 'skew';
    if (envelope.epoch < this.epoch) return 'stale';
    const state = this.#origins.get(envelope.origin);
    const seen = state?.window.check(envelope.sequence);
    if (seen === 'too_old') return 'stale';
    if (seen === 'replay' && state!.kept.get(envelope.sequence)?.digest === envelope.digest) return 'duplicate';
    return keys;
  }

  /**
   * Applies a verified envelope, or refuses it (an equivocating one: its origin is quarantined
   * and our evidence goes out). Runs one envelope at a time, after the batch's verification, so
   * that two halves of an equivocation in one batch are caught too.
   */
  async #apply(envelope: Envelope): Promise<{ outgoing: Uint8Array[]; refusal?: ControlRefusal }> {
    let state = this.#origins.get(envelope.origin);
    if (!state) this.#origins.set(envelope.origin, (state = { window: new ReplayWindow(this.#limits.windowBlocks), kept: new BoundedMap(this.#limits.keptPerOrigin) }));
    const earlier = state.kept.get(envelope.sequence);
    if (earlier && earlier.digest !== envelope.digest) {
      const announced = await this.#quarantine({ origin: envelope.origin, sequence: envelope.sequence, first: earlier.bytes, second: envelope.bytes });
      return { outgoing: announced ? [announced] : [], refusal: 'equivocation' };
    }
    // Quarantined by an earlier envelope of this batch: the precheck let it through.
    if (this.#quarantined.has(envelope.origin)) return { outgoing: [], refusal: 'quarantined' };
    // Twice in one batch, or still in the window but no longer kept.
    if (earlier || state.window.check(envelope.sequence) !== 'ok') return { outgoing: [], refusal: 'duplicate' };
    if (envelope.kind === EnvelopeKind.Evidence) {
      const refusal = await this.#onEvidence(envelope);
      if (refusal) return { outgoing: [], refusal };
    }
    state.window.accept(envelope.sequence);
    state.kept.set(envelope.sequence, envelope);
    // An envelope shows that its origin was there when it signed it, not when it arrived: a late or
    // replayed one (new to us, so not refused as a duplicate) must not make its origin look reachable now.
    const heardAt = this.#clock.now() - Math.max(0, this.#wallClock() - envelope.timestamp);
    // Stryker disable next-line EqualityOperator: with `>=`, an equal time is set again, which changes nothing.
    if (heardAt > (this.#lastHeard.get(envelope.origin) ?? -Infinity)) this.#lastHeard.set(envelope.origin, heardAt);
    this.#notify('envelope', envelope);
    const next = forwarded(envelope);
    return { outgoing: next ? [next] : [] };
  }

  /** Evidence from another node: checked on its own (both signatures), then the accused is quarantined; or why not (a malformed pair throws). */
  async #onEvidence(envelope: Envelope): Promise<ControlRefusal | undefined> {
    const pair = parseEvidence(envelope.payload);
    const accused = this.#trust(pair[0].origin);
    if (!accused) return 'unknown_origin';
    const [first, second] = evidenceSignedData(pair);
    const valid = await this.#verify([
      { data: first, signature: pair[0].signature, keys: accused },
      { data: second, signature: pair[1].signature, keys: accused },
    ]);
    if (!valid[0] || !valid[1]) return 'forged';
    await this.#quarantine({ origin: pair[0].origin, sequence: pair[0].sequence, first: pair[0].bytes, second: pair[1].bytes }, false);
    return undefined;
  }

  /** Quarantines the origin, keeps the evidence and (when we found it) returns it as an envelope to gossip. */
  async #quarantine(evidence: EquivocationEvidence, announce = true): Promise<Uint8Array | undefined> {
    if (this.#quarantined.has(evidence.origin)) return undefined;
    this.#quarantined.set(evidence.origin, evidence);
    this.#notify('equivocation', evidence);
    return announce ? this.publish(EnvelopeKind.Evidence, encodeEvidence(evidence)) : undefined;
  }

  /** An applied envelope stays applied (and its receipt says so) whatever a listener does. */
  #notify<K extends keyof ControlPlaneEvents>(event: K, ...args: ControlPlaneEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: ControlPlaneEvents[K]) => boolean)(event, ...args);
    } catch {
      // a listener's failure is the listener's; the control plane's state is already consistent
    }
  }

  #verify(items: { data: Uint8Array; signature: Uint8Array; keys: PublicKeys }[]): Promise<boolean[]> {
    return verifyAll(items.map(({ data, signature, keys }) => ({ data, signature, algorithm: keys.sigAlgorithm, publicKey: keys.sigPublicKey })));
  }
}
