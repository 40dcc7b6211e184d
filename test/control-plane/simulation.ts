import { createHash } from 'node:crypto';
import {
  ControlPlaneError,
  DEFAULT_CONTROL_PLANE_LIMITS,
  EnvelopeKind,
  QuorumValidator,
  encodeCertificate,
  encodeDecision,
  parseCertificate,
  parseDecision,
  parseEnvelope,
  quorumThreshold,
  signVote,
  validatorSetHash,
  type ControlPlane,
  type ControlRefusal,
  type Envelope,
  type ValidatorSet,
  type Vote,
} from '../../lib/control-plane/index.js';
import { encodeEnvelope, signedContent } from '../../lib/control-plane/envelope.js';
import { encodeEvidence } from '../../lib/control-plane/evidence.js';
import type { Clock } from '../../lib/policy/clock.js';
import { Sig } from '../../lib/sig.js';
import { controlPlane, type Member } from './support.js';

/**
 * A deterministic discrete-event simulation of the control plane, for split-brain tests: real
 * ControlPlanes and QuorumValidators with real ML-DSA signatures, on a virtual clock, over a
 * link layer whose every drop, delay, duplicate and reorder comes from one seeded PRNG — so a
 * run takes no real time waiting and replays exactly from its seed.
 */

/** mulberry32: 32 bits of state, the same sequence on every platform. */
export class Random {
  #state: number;

  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer from `min` to `max`, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

interface Timer {
  at: number;
  callback: () => unknown;
  cancelled: boolean;
}

/**
 * The virtual clock every ControlPlane is given, and the event queue the network runs on.
 * Callbacks run one at a time in time order (ties in the order scheduled), each awaited before
 * the next: the real asynchrony of signing and verifying cannot reorder anything.
 */
export class Scheduler implements Clock {
  #now = 0;
  readonly #queue: Timer[] = [];

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => unknown, ms: number): Timer {
    const timer = { at: this.#now + Math.max(0, ms), callback, cancelled: false };
    let low = 0;
    let high = this.#queue.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#queue[middle]!.at <= timer.at) low = middle + 1;
      else high = middle;
    }
    this.#queue.splice(low, 0, timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    (handle as Timer).cancelled = true;
  }

  /** Runs every callback due by `time`, then stands the clock at `time`. */
  async runUntil(time: number): Promise<void> {
    while (this.#queue.length > 0 && this.#queue[0]!.at <= time) {
      const timer = this.#queue.shift()!;
      this.#now = timer.at;
      if (!timer.cancelled) await timer.callback();
    }
    this.#now = Math.max(this.#now, time);
  }
}

export interface LinkConditions {
  /** Probabilities that a message is lost, and that it arrives twice. */
  drop: number;
  duplicate: number;
  /** The delay of a message, from and to (ms). */
  delay: [number, number];
  /** Probability that a message is held up to `reorderDelay` ms more, so that later ones overtake it. */
  reorder: number;
  reorderDelay: number;
}

/** A node as the network sees it: an id and a handler for a batch of arriving bytes. */
export interface Endpoint {
  readonly nodeId: string;
  deliver(batch: Uint8Array[]): Promise<void>;
}

/** Arrivals land on this grid (ms), so that messages arriving together are handed over as one batch, as one socket read would. */
const ARRIVAL_GRID = 5;

/**
 * The link layer between every pair of nodes (a full mesh): per message it drops, delays,
 * duplicates and reorders as the PRNG decides. A partition splits the nodes into groups; a
 * message between groups is lost when it arrives — or, with probability `late`, held and
 * delivered after the heal (a late message rejoining).
 */
export class Network {
  readonly stats = { sent: 0, dropped: 0, duplicated: 0, held: 0 };
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #inboxes = new Map<string, Uint8Array[]>();
  #groupOf: Map<string, number> | undefined;
  #late = 0;
  #held: { from: string; to: string; bytes: Uint8Array }[] = [];

  constructor(
    readonly random: Random,
    readonly scheduler: Scheduler,
    readonly conditions: LinkConditions,
  ) {}

  attach(endpoint: Endpoint): void {
    this.#endpoints.set(endpoint.nodeId, endpoint);
    this.#inboxes.set(endpoint.nodeId, []);
  }

  get nodeIds(): string[] {
    return [...this.#endpoints.keys()];
  }

  partition(groups: string[][], late = 0): void {
    this.#groupOf = new Map(groups.flatMap((group, index) => group.map((id) => [id, index] as const)));
    this.#late = late;
  }

  heal(): void {
    this.#groupOf = undefined;
    for (const { from, to, bytes } of this.#held.splice(0)) this.#schedule(from, to, bytes);
  }

  connected(a: string, b: string): boolean {
    return this.#groupOf === undefined || this.#groupOf.get(a) === this.#groupOf.get(b);
  }

  /** To every neighbour: flooding, the only routing there is. */
  broadcast(from: string, bytes: Uint8Array): void {
    for (const to of this.#endpoints.keys()) if (to !== from) this.send(from, to, bytes);
  }

  send(from: string, to: string, bytes: Uint8Array): void {
    this.stats.sent++;
    if (this.random.chance(this.conditions.drop)) {
      this.stats.dropped++;
      return;
    }
    this.#schedule(from, to, bytes);
    if (this.random.chance(this.conditions.duplicate)) {
      this.stats.duplicated++;
      this.#schedule(from, to, bytes);
    }
  }

  #schedule(from: string, to: string, bytes: Uint8Array): void {
    const { delay, reorder, reorderDelay } = this.conditions;
    const wait = this.random.int(delay[0], delay[1]) + (this.random.chance(reorder) ? this.random.int(1, reorderDelay) : 0);
    const now = this.scheduler.now();
    const at = Math.ceil((now + wait) / ARRIVAL_GRID) * ARRIVAL_GRID;
    this.scheduler.setTimeout(() => this.#arrive(from, to, bytes), at - now);
  }

  #arrive(from: string, to: string, bytes: Uint8Array): void {
    // The partition is checked on arrival: what was in flight when it formed is cut off too.
    if (!this.connected(from, to)) {
      if (this.random.chance(this.#late)) {
        this.stats.held++;
        this.#held.push({ from, to, bytes });
      } else {
        this.stats.dropped++;
      }
      return;
    }
    const inbox = this.#inboxes.get(to)!;
    inbox.push(bytes);
    // The drain is queued after every arrival already due now, so they all land in its batch.
    if (inbox.length === 1) this.scheduler.setTimeout(() => this.#endpoints.get(to)!.deliver(inbox.splice(0)), 0);
  }
}

/** Wall time at the start of every run: fixed, so that timestamps and sequence numbers replay too. */
export const WALL_START = Date.UTC(2025, 0, 1);
/** Heartbeat period, and the window in which a validator heard from counts as reachable. */
export const TICK = 100;
export const WINDOW = 250;

/** The first byte of a Gossip payload: a beacon (non-critical chatter) or a proposal of a decision. */
const BEACON = 0;
const PROPOSAL = 1;

const digestOf = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const tagged = (tag: number, body: Uint8Array) => Uint8Array.of(tag, ...body);
const text = (value: string) => new TextEncoder().encode(value);

export interface ForgedDelivery {
  receiver: string;
  /** The origin the forgery claims, and whether the receiver had quarantined it before the batch and after. */
  origin: string;
  quarantinedBefore: boolean;
  quarantinedAfter: boolean;
  reason: ControlRefusal | undefined;
}

/** What the nodes share: the clock, the network, who is who, and the log of the Byzantine nodes' forgeries. */
export class World {
  readonly scheduler = new Scheduler();
  readonly network: Network;
  readonly validatorSet: ValidatorSet;
  readonly threshold: number;
  readonly wallClock = () => WALL_START + this.scheduler.now();
  /** Every forged envelope made, by the bytes sent, and the digests of their signed content. */
  readonly forged = new WeakSet<Uint8Array>();
  readonly forgedDigests = new Set<string>();
  /** Each delivery of a forgery to an honest node, with the refusal given. */
  readonly forgedDeliveries: ForgedDelivery[] = [];
  /** Decisions only Byzantine nodes vote for: none may ever be accepted. */
  readonly byzantineDecisions = new Set<string>();
  /** Well-signed envelopes carrying a certificate of made-up votes, by digest: each one an honest node applies is a refused certificate. */
  readonly fakeCertificates = new Set<string>();
  readonly byzantineIds: Set<string>;

  constructor(
    readonly random: Random,
    conditions: LinkConditions,
    readonly members: Member[],
    byzantineIds: string[],
  ) {
    this.network = new Network(random, this.scheduler, conditions);
    this.validatorSet = { epoch: 0, validators: members.map((m) => m.keys) };
    this.threshold = quorumThreshold(members.length);
    this.byzantineIds = new Set(byzantineIds);
  }

  decision(slot: string, payload: string): Uint8Array {
    return encodeDecision({ kind: 'membership_change', slot, epoch: this.validatorSet.epoch, validatorSetHash: validatorSetHash(this.validatorSet), payload: text(payload) });
  }

  recordForgery(bytes: Uint8Array): Uint8Array {
    this.forged.add(bytes);
    this.forgedDigests.add(parseEnvelope(bytes).digest);
    return bytes;
  }
}

abstract class Node implements Endpoint {
  readonly plane: ControlPlane;

  constructor(
    readonly member: Member,
    readonly world: World,
  ) {
    this.plane = controlPlane(member, world.members, { clock: world.scheduler, wallClock: world.wallClock });
    world.network.attach(this);
  }

  get nodeId(): string {
    return this.member.nodeId;
  }

  async heartbeat(): Promise<void> {
    this.world.network.broadcast(this.nodeId, await this.plane.publish(EnvelopeKind.Heartbeat, new Uint8Array(0)));
  }

  abstract deliver(batch: Uint8Array[]): Promise<void>;
}

/**
 * An honest validator. Its protocol for a critical decision lives here, not in lib (the
 * library validates certificates; ordering proposals is the embedder's consensus): it votes
 * for the first proposal it sees for a slot and never for another, gossips the vote, builds a
 * certificate when it holds a threshold of votes for one decision, and accepts certificates
 * through its QuorumValidator. It keeps what it accepted for anti-entropy, which is what lets
 * the two sides of a healed partition catch up on each other.
 */
export class HonestNode extends Node {
  readonly quorum: QuorumValidator;
  /** Times each envelope (by digest) was applied: never more than once. */
  readonly applied = new Map<string, number>();
  /** Beacons heard: origin → the wall times they were sent at. */
  readonly beacons = new Map<string, number[]>();
  readonly #store: Uint8Array[] = [];
  readonly #votedFor = new Set<string>();
  readonly #votes = new Map<string, Map<string, Vote>>();
  readonly #certified = new Set<string>();

  constructor(member: Member, world: World) {
    super(member, world);
    this.quorum = new QuorumValidator({ validatorSet: world.validatorSet, registry: this.plane.metrics.registry });
    this.plane.on('envelope', (envelope) => this.applied.set(envelope.digest, (this.applied.get(envelope.digest) ?? 0) + 1));
  }

  /** Whether this node hears from a threshold of validators within the window. */
  hasQuorum(): boolean {
    const validators = new Set(this.world.validatorSet.validators.map((v) => v.nodeId));
    return [...this.plane.reachable(WINDOW)].filter((id) => validators.has(id)).length >= this.world.threshold;
  }

  async beacon(): Promise<void> {
    await this.#publish(EnvelopeKind.Gossip, tagged(BEACON, new Uint8Array(0)));
  }

  async propose(decisionBytes: Uint8Array): Promise<void> {
    await this.#publish(EnvelopeKind.Gossip, tagged(PROPOSAL, decisionBytes));
    await this.#onProposal(decisionBytes);
  }

  /**
   * Push anti-entropy: everything kept goes to one neighbour picked at random, who floods on
   * what is new to it. What it holds already costs it a parse, no signature check.
   */
  resync(): void {
    const { random, network } = this.world;
    const peer = random.pick(network.nodeIds.filter((id) => id !== this.nodeId));
    for (const bytes of this.#store) network.send(this.nodeId, peer, bytes);
  }

  async deliver(batch: Uint8Array[]): Promise<void> {
    const forgeries = batch.map((bytes, i) => (this.world.forged.has(bytes) ? { i, origin: parseEnvelope(bytes).origin } : undefined)).filter((f) => f !== undefined);
    const before = forgeries.map(({ origin }) => this.plane.isQuarantined(origin));
    const { receipts, outgoing } = await this.plane.receive(batch);
    forgeries.forEach(({ i, origin }, k) => {
      this.world.forgedDeliveries.push({ receiver: this.nodeId, origin, quarantinedBefore: before[k]!, quarantinedAfter: this.plane.isQuarantined(origin), reason: receipts[i]!.reason });
    });
    for (const bytes of outgoing) {
      // Our own evidence against an equivocator is kept for anti-entropy; forwarded copies are kept as received, below.
      if (parseEnvelope(bytes).origin === this.nodeId) this.#store.push(bytes);
      this.world.network.broadcast(this.nodeId, bytes);
    }
    for (const { status, envelope } of receipts) if (status === 'accepted') await this.#onEnvelope(envelope!);
  }

  async #onEnvelope(envelope: Envelope): Promise<void> {
    // Heartbeats say only "I am here"; an old one carries nothing worth catching up on.
    if (envelope.kind !== EnvelopeKind.Heartbeat) this.#store.push(envelope.bytes);
    if (envelope.kind === EnvelopeKind.Gossip && envelope.payload[0] === BEACON) {
      this.beacons.set(envelope.origin, [...(this.beacons.get(envelope.origin) ?? []), envelope.timestamp]);
    } else if (envelope.kind === EnvelopeKind.Gossip && envelope.payload[0] === PROPOSAL) {
      await this.#onProposal(envelope.payload.subarray(1));
    } else if (envelope.kind === EnvelopeKind.Vote) {
      const { decisionBytes, votes } = parseCertificate(envelope.payload);
      // A vote counts for the envelope's origin only: the envelope's signature says who sent it.
      if (votes.length === 1 && votes[0]!.signer === envelope.origin) await this.#onVote(decisionBytes, votes[0]!);
    } else if (envelope.kind === EnvelopeKind.Certificate) {
      await this.#onCertificate(envelope.payload);
    }
  }

  async #onProposal(decisionBytes: Uint8Array): Promise<void> {
    const { slot, epoch } = parseDecision(decisionBytes);
    const key = `${epoch}/${slot}`;
    // One vote per slot and epoch: with at most f liars, two certificates would need an honest validator to vote twice.
    if (this.#votedFor.has(key)) return;
    this.#votedFor.add(key);
    const vote = await signVote(decisionBytes, this.member.identity, this.nodeId);
    await this.#publish(EnvelopeKind.Vote, encodeCertificate(decisionBytes, [vote]));
    await this.#onVote(decisionBytes, vote);
  }

  async #onVote(decisionBytes: Uint8Array, vote: Vote): Promise<void> {
    const decision = digestOf(decisionBytes);
    if (this.#certified.has(decision)) return;
    const votes = this.#votes.get(decision) ?? new Map<string, Vote>();
    this.#votes.set(decision, votes.set(vote.signer, vote));
    if (votes.size < this.world.threshold) return;
    const certificate = encodeCertificate(decisionBytes, [...votes.values()]);
    if (await this.#onCertificate(certificate)) await this.#publish(EnvelopeKind.Certificate, certificate);
  }

  /** Runs a certificate through the validator, once per decision; true when it was accepted now. */
  async #onCertificate(certificate: Uint8Array): Promise<boolean> {
    const decision = digestOf(parseCertificate(certificate).decisionBytes);
    if (this.#certified.has(decision)) return false;
    try {
      await this.quorum.accept(certificate);
    } catch (error) {
      // A refusal is counted by the validator (pqc_certificate_rejected_total); anything else is a bug.
      if (error instanceof ControlPlaneError) return false;
      throw error;
    }
    this.#certified.add(decision);
    return true;
  }

  async #publish(kind: EnvelopeKind, payload: Uint8Array): Promise<void> {
    const bytes = await this.plane.publish(kind, payload);
    this.#store.push(bytes);
    this.world.network.broadcast(this.nodeId, bytes);
  }
}

/**
 * A Byzantine validator: it heartbeats like anyone, forwards only half of what it should,
 * votes for every proposal it sees and for a decision of its own, and each tick may replay old
 * envelopes, forge (a broken signature, another node's signature lifted onto new content, a
 * certificate of fake votes, evidence framing an honest node) and equivocate (two envelopes
 * with one sequence number, to the two halves of the network).
 */
export class ByzantineNode extends Node {
  /** Pairs of digests it signed with one sequence number. */
  readonly equivocations: [string, string][] = [];
  readonly #captured: Uint8Array[] = [];
  /** Genuine envelopes of honest nodes, whose signatures it lifts. */
  readonly #honest: Envelope[] = [];
  readonly #sig = new Sig('ML-DSA-65');
  readonly #voted = new Set<string>();
  readonly #own: Uint8Array;
  readonly #proposals: Uint8Array[] = [];
  /** Hand-made envelopes take sequence numbers just below its ControlPlane's, inside every receiver's window. */
  #sequence = WALL_START * 1000 - 2000;

  constructor(member: Member, world: World, contestedSlot: string) {
    super(member, world);
    this.#own = world.decision(contestedSlot, `admit ${member.nodeId}'s accomplice`);
    world.byzantineDecisions.add(digestOf(this.#own));
  }

  async deliver(batch: Uint8Array[]): Promise<void> {
    this.#captured.push(...batch);
    const { receipts, outgoing } = await this.plane.receive(batch);
    for (const bytes of outgoing) if (this.world.random.chance(0.5)) this.world.network.broadcast(this.nodeId, bytes);
    for (const { status, envelope } of receipts) {
      if (status !== 'accepted') continue;
      if (!this.world.byzantineIds.has(envelope!.origin)) this.#honest.push(envelope!);
      if (envelope!.kind !== EnvelopeKind.Gossip || envelope!.payload[0] !== PROPOSAL) continue;
      const proposal = envelope!.payload.slice(1);
      this.#proposals.push(proposal);
      await this.#vote(proposal);
      await this.#vote(this.#own);
    }
  }

  /** One tick of mischief, each kind with its own probability. */
  async act(): Promise<void> {
    this.replay();
    const { random } = this.world;
    if (random.chance(0.35)) await random.pick([() => this.#badSignature(), () => this.#liftedSignature(), () => this.#fakeCertificate(), () => this.#framingEvidence()])();
    if (random.chance(0.25)) await this.#equivocate();
  }

  /** A few old envelopes, to random nodes: refused as duplicates by whoever saw them, news to whoever missed them. */
  replay(): void {
    const { random, network } = this.world;
    for (let i = 0; i < 3 && this.#captured.length > 0; i++) network.send(this.nodeId, random.pick(network.nodeIds.filter((id) => id !== this.nodeId)), random.pick(this.#captured));
  }

  async #vote(decisionBytes: Uint8Array): Promise<void> {
    const digest = digestOf(decisionBytes);
    if (this.#voted.has(digest)) return;
    this.#voted.add(digest);
    const vote = await signVote(decisionBytes, this.member.identity, this.nodeId);
    this.world.network.broadcast(this.nodeId, await this.plane.publish(EnvelopeKind.Vote, encodeCertificate(decisionBytes, [vote])));
  }

  async #badSignature(): Promise<void> {
    const bytes = Uint8Array.from(await this.plane.publish(EnvelopeKind.Gossip, tagged(BEACON, text('forged'))));
    bytes[bytes.length - 1 - this.world.random.int(0, 1000)]! ^= 1 << this.world.random.int(0, 7);
    this.world.network.broadcast(this.nodeId, this.world.recordForgery(bytes));
  }

  /** A genuine envelope of an honest node with its signature kept and its content changed: the claimed origin's key refuses it. */
  async #liftedSignature(): Promise<void> {
    const real = this.#honestCaptured();
    if (!real) return;
    const kind = this.world.random.pick([EnvelopeKind.Gossip, EnvelopeKind.Vote]);
    const payload = kind === EnvelopeKind.Vote ? encodeCertificate(this.#own, [{ signer: real.origin, signature: real.signature }]) : tagged(BEACON, text('lifted'));
    this.world.network.broadcast(this.nodeId, this.world.recordForgery(encodeEnvelope({ ...real, kind, payload }, real.signature)));
  }

  /** Its own decision with a threshold of votes it made up: a well-signed envelope, a certificate no validator accepts. */
  async #fakeCertificate(): Promise<void> {
    const { random, validatorSet, threshold } = this.world;
    const mine = await signVote(this.#own, this.member.identity, this.nodeId);
    const signers = random.shuffle(validatorSet.validators.map((v) => v.nodeId)).slice(0, threshold);
    const votes = signers.map((signer) => ({ signer, signature: mine.signature }));
    if (random.chance(0.5)) votes.pop();
    const bytes = await this.plane.publish(EnvelopeKind.Certificate, encodeCertificate(this.#own, votes));
    this.world.fakeCertificates.add(parseEnvelope(bytes).digest);
    this.world.network.broadcast(this.nodeId, bytes);
  }

  /** "Evidence" that an honest node equivocated: its real envelope and a twin carrying the same signature. */
  async #framingEvidence(): Promise<void> {
    const real = this.#honestCaptured();
    if (!real) return;
    const twin = encodeEnvelope({ ...real, payload: text('the twin') }, real.signature);
    const evidence = encodeEvidence({ origin: real.origin, sequence: real.sequence, first: real.bytes, second: twin });
    this.world.network.broadcast(this.nodeId, this.world.recordForgery(await this.plane.publish(EnvelopeKind.Evidence, evidence)));
  }

  /** Two envelopes with one sequence number, each to half of the other nodes: a vote for a proposal and one for its own decision, or two beacons. */
  async #equivocate(): Promise<void> {
    const { random, network } = this.world;
    const proposal = this.#proposals.length > 0 && random.chance(0.5) ? random.pick(this.#proposals) : undefined;
    const kind: EnvelopeKind = proposal ? EnvelopeKind.Vote : EnvelopeKind.Gossip;
    const payloads = proposal
      ? await Promise.all([proposal, this.#own].map(async (d) => encodeCertificate(d, [await signVote(d, this.member.identity, this.nodeId)])))
      : [tagged(BEACON, text('one')), tagged(BEACON, text('two'))];
    const fields = { kind, origin: this.nodeId, sequence: ++this.#sequence, epoch: this.plane.epoch, timestamp: Math.floor(this.world.wallClock()), hopLimit: DEFAULT_CONTROL_PLANE_LIMITS.hopLimit };
    const pair = await Promise.all(
      payloads.map(async (payload) => encodeEnvelope({ ...fields, payload }, await this.#sig.signAsync(signedContent({ ...fields, payload }), this.member.identity.secretKey))),
    );
    this.equivocations.push([parseEnvelope(pair[0]!).digest, parseEnvelope(pair[1]!).digest]);
    const others = random.shuffle(network.nodeIds.filter((id) => id !== this.nodeId));
    others.forEach((to, i) => network.send(this.nodeId, to, pair[i < others.length / 2 ? 0 : 1]!));
  }

  #honestCaptured(): Envelope | undefined {
    return this.#honest.length > 0 ? this.world.random.pick(this.#honest) : undefined;
  }
}

/** The slot both sides of the partition propose for, and one decided before the partition. */
export const CONTESTED = 'membership';
export const WARMUP = 'warmup';

/** The schedule, in ticks: partition, heal, last heartbeat (then anti-entropy until quiescent). */
export const PARTITION_AT = 3;
export const HEAL_AT = 9;
const LAST_HEARTBEAT = 13;
/** An anti-entropy round outlasts the longest delay; a run is quiescent after QUIET rounds in which nothing new was applied. */
const ROUND = 150;
const QUIET = 3;
const MAX_ROUNDS = 30;

export interface SplitBrainOptions {
  seed: number;
  members: Member[];
  /** The partition: group sizes (members dealt at random) or the groups' node ids. */
  groups: number[] | string[][];
  /** The Byzantine validators: how many (chosen at random) or which. */
  byzantine: number | string[];
  /** Probability that a message across the partition arrives after the heal instead of never (random by default). */
  late?: number;
}

export interface QuorumCheck {
  nodeId: string;
  group: number;
  time: number;
  hasQuorum: boolean;
}

export interface SplitBrainRun {
  world: World;
  groups: string[][];
  late: number;
  honest: HonestNode[];
  byzantine: ByzantineNode[];
  /** Every honest node's view each tick from a window after the partition until the heal. */
  duringPartition: QuorumCheck[];
  /** At the heal: each honest node's accepted decisions and the beacons it had heard. */
  acceptedAtHeal: Map<string, Record<string, string>>;
  beaconsAtHeal: Map<string, Map<string, number[]>>;
  /** Each honest node's view a window after the heal. */
  quorumAfterHeal: Map<string, boolean>;
  quiescent: boolean;
  /** Groups, Byzantine nodes, link conditions and traffic, for a failure message. */
  summary: string;
}

/**
 * One seeded run: all connected for the first decision; a partition, in which each group's
 * first honest validator proposes a conflicting decision for one slot; a heal; heartbeats for
 * a while; then anti-entropy rounds until nothing new is applied anywhere.
 */
export async function runSplitBrain(options: SplitBrainOptions): Promise<SplitBrainRun> {
  const random = new Random(options.seed);
  const ids = options.members.map((m) => m.nodeId);
  const conditions: LinkConditions = {
    drop: random.next() * 0.15,
    duplicate: random.next() * 0.1,
    delay: [1, random.int(5, 40)],
    reorder: random.next() * 0.2,
    reorderDelay: 60,
  };
  const late = options.late ?? (random.chance(0.5) ? random.next() : 0);
  const groups = typeof options.groups[0] === 'number' ? deal(random.shuffle(ids), options.groups as number[]) : (options.groups as string[][]);
  const byzantineIds = typeof options.byzantine === 'number' ? random.shuffle(ids).slice(0, options.byzantine) : options.byzantine;

  const world = new World(random, conditions, options.members, byzantineIds);
  const honest = options.members.filter((m) => !world.byzantineIds.has(m.nodeId)).map((m) => new HonestNode(m, world));
  const byzantine = byzantineIds.map((id) => new ByzantineNode(options.members.find((m) => m.nodeId === id)!, world, CONTESTED));
  const everyone = [...honest, ...byzantine];
  const { scheduler, network } = world;
  const run: SplitBrainRun = {
    world,
    groups,
    late,
    honest,
    byzantine,
    duringPartition: [],
    acceptedAtHeal: new Map(),
    beaconsAtHeal: new Map(),
    quorumAfterHeal: new Map(),
    quiescent: false,
    summary: '',
  };

  for (let tick = 0; tick <= LAST_HEARTBEAT; tick++) {
    await scheduler.runUntil(tick * TICK);
    if ((tick - PARTITION_AT) * TICK > WINDOW && tick < HEAL_AT) {
      for (const node of honest) run.duringPartition.push({ nodeId: node.nodeId, group: groups.findIndex((g) => g.includes(node.nodeId)), time: tick * TICK, hasQuorum: node.hasQuorum() });
    }
    if (tick === LAST_HEARTBEAT) for (const node of honest) run.quorumAfterHeal.set(node.nodeId, node.hasQuorum());
    if (tick === PARTITION_AT) network.partition(groups, late);
    if (tick === HEAL_AT) {
      for (const node of honest) {
        run.acceptedAtHeal.set(node.nodeId, node.quorum.acceptedSummary());
        run.beaconsAtHeal.set(node.nodeId, new Map([...node.beacons].map(([origin, times]) => [origin, [...times]])));
      }
      network.heal();
    }
    for (const node of everyone) await node.heartbeat();
    for (const node of honest) await node.beacon();
    for (const node of byzantine) await node.act();
    if (tick === 0) await honest[0]!.propose(world.decision(WARMUP, 'v1'));
    if (tick === PARTITION_AT) {
      for (const [index, group] of groups.entries()) {
        const proposer = honest.find((node) => group.includes(node.nodeId));
        await proposer?.propose(world.decision(CONTESTED, `admit n${index}`));
      }
    }
  }

  const progress = () => honest.reduce((sum, node) => sum + node.applied.size + node.plane.quarantine.size, 0);
  let quiet = 0;
  for (let round = 0; round < MAX_ROUNDS && quiet < QUIET; round++) {
    const before = progress();
    for (const node of honest) node.resync();
    for (const node of byzantine) node.replay();
    await scheduler.runUntil(scheduler.now() + ROUND);
    quiet = progress() === before ? quiet + 1 : 0;
  }
  run.quiescent = quiet >= QUIET;
  const { drop, duplicate, delay, reorder } = conditions;
  const { sent, dropped, duplicated, held } = network.stats;
  run.summary =
    `groups ${groups.map((g) => g.join(',')).join(' | ')}; Byzantine ${byzantineIds.join(',')}; ` +
    `drop ${drop.toFixed(3)}, duplicate ${duplicate.toFixed(3)}, delay ${delay.join('-')} ms, reorder ${reorder.toFixed(3)}, late ${late.toFixed(3)}; ` +
    `${sent} sent, ${dropped} dropped, ${duplicated} duplicated, ${held} held`;
  return run;
}

function deal(ids: string[], sizes: number[]): string[][] {
  let next = 0;
  return sizes.map((size) => ids.slice(next, (next += size)));
}
