import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import {
  ControlPlane,
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
  type Envelope,
  type ValidatorSet,
  type Vote,
} from '../../lib/control-plane/index.js';
import { ControlPlaneGossip, controlPlaneGossipsubOptions, envelopeMessageId, GOSSIP_VERDICTS } from '../../lib/libp2p/index.js';
import { counter } from '../mesh/support.js';
import { environment } from '../support/environment.js';
import { libp2pPeers, LIBP2P_SKIP, startNode, type Libp2pPeer } from './support.js';

await ready();

type Libp2p = Awaited<ReturnType<typeof startNode>>;
interface Pubsub {
  getSubscribers(topic: string): { toString(): string }[];
  getScore(peerId: string): number;
  publish(topic: string, data: Uint8Array): Promise<unknown>;
}

const TOPIC = '/x0tta6bl4/control-plane/1';
/** A bound on every wait: the run must end, quorum or not. */
const DEADLINE_MS = 60_000;
// Seven nodes in one process verify each other's heartbeats (WebAssembly ML-DSA on CI): a rate a
// loaded 2-core machine keeps up with.
const HEARTBEAT_MS = 1000;
/** Heard within this long counts as reachable (several heartbeats and gossipsub's hops). */
const WINDOW_MS = 5000;

async function until(what: string, condition: () => boolean, deadline = DEADLINE_MS): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** One validator: a libp2p node, its control plane over gossipsub, and the quorum rules of test/control-plane's honest node. */
class Validator {
  readonly applied: Envelope[] = [];
  readonly votes = new Map<string, Map<string, Vote>>();
  readonly certificates: Uint8Array[] = [];
  readonly #votedFor = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly peer: Libp2pPeer,
    readonly node: Libp2p,
    readonly plane: ControlPlane,
    readonly gossip: ControlPlaneGossip,
    readonly quorum: QuorumValidator,
    readonly set: ValidatorSet,
  ) {
    plane.on('envelope', (envelope) => {
      this.applied.push(envelope);
      void this.#onEnvelope(envelope);
    });
  }

  get id(): string {
    return this.peer.peerId.toString();
  }

  get pubsub(): Pubsub {
    return (this.node.services as unknown as { pubsub: Pubsub }).pubsub;
  }

  hasQuorum(): boolean {
    return this.plane.reachable(WINDOW_MS).size >= quorumThreshold(this.set.validators.length);
  }

  startHeartbeats(): void {
    this.#timer = setInterval(() => void this.gossip.publish(EnvelopeKind.Heartbeat, new Uint8Array(0)).catch(() => undefined), HEARTBEAT_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Proposes a decision: gossips it and votes for it, unless it voted for another of the slot. */
  async propose(decision: Uint8Array): Promise<void> {
    await this.gossip.publish(EnvelopeKind.Gossip, decision);
    await this.#vote(decision);
  }

  accepted(slot: string): Uint8Array | undefined {
    return this.quorum.acceptedDecision(slot, 0);
  }

  /** Anti-entropy after a heal: the certificates this node accepted, published again. */
  async republishCertificates(): Promise<void> {
    for (const certificate of this.certificates) await this.gossip.publish(EnvelopeKind.Certificate, certificate);
  }

  async #onEnvelope(envelope: Envelope): Promise<void> {
    if (envelope.kind === EnvelopeKind.Gossip) await this.#vote(envelope.payload);
    if (envelope.kind === EnvelopeKind.Vote) {
      const { decisionBytes, votes } = parseCertificate(envelope.payload);
      if (votes.length === 1 && votes[0]!.signer === envelope.origin) await this.#count(decisionBytes, votes[0]!);
    }
    if (envelope.kind === EnvelopeKind.Certificate) await this.#accept(envelope.payload);
  }

  async #vote(decision: Uint8Array): Promise<void> {
    let slot: string;
    try {
      slot = parseDecision(decision).slot;
    } catch {
      return; // gossip that proposes nothing
    }
    if (this.#votedFor.has(slot)) return;
    this.#votedFor.add(slot);
    const vote = await signVote(decision, this.peer.identity, this.id);
    await this.gossip.publish(EnvelopeKind.Vote, encodeCertificate(decision, [vote]));
    await this.#count(decision, vote);
  }

  async #count(decision: Uint8Array, vote: Vote): Promise<void> {
    const key = Buffer.from(decision).toString('hex');
    const votes = this.votes.get(key) ?? new Map<string, Vote>();
    this.votes.set(key, votes.set(vote.signer, vote));
    if (votes.size !== quorumThreshold(this.set.validators.length)) return;
    const certificate = encodeCertificate(decision, [...votes.values()]);
    if (await this.#accept(certificate)) await this.gossip.publish(EnvelopeKind.Certificate, certificate);
  }

  async #accept(certificate: Uint8Array): Promise<boolean> {
    const { decision } = parseCertificate(certificate);
    if (this.accepted(decision.slot)) return false;
    try {
      await this.quorum.accept(certificate);
    } catch {
      return false; // refused and counted by the validator
    }
    this.certificates.push(certificate);
    return true;
  }
}

describe.skipIf(LIBP2P_SKIP !== undefined)(`the control plane over gossipsub on the ${environment.backend} backend${LIBP2P_SKIP ? ` (skipped: ${LIBP2P_SKIP})` : ''}`, async () => {
  const { gossipsub } = await import('@libp2p/gossipsub');
  const validators: Validator[] = [];
  afterAll(async () => {
    for (const v of validators) v.stop();
    await Promise.all(validators.map((v) => v.node.stop()));
    await Promise.all(validators.map((v) => v.peer.mesh.close()));
  });

  async function network(count: number, blocked: Map<string, Set<string>>) {
    const { peers, directory } = await libp2pPeers(count);
    const set: ValidatorSet = { epoch: 0, validators: [...directory.values()] };
    const made = await Promise.all(
      peers.map(async (peer) => {
        const blockedHere = new Set<string>();
        blocked.set(peer.peerId.toString(), blockedHere);
        const node = await startNode(peer, {
          blocked: blockedHere,
          services: { pubsub: gossipsub({ ...controlPlaneGossipsubOptions(), heartbeatInterval: 200 }) },
        });
        const registry = new Registry();
        const plane = new ControlPlane({ nodeId: peer.peerId.toString(), identity: peer.identity, trust: (id) => directory.get(id), registry });
        const gossip = new ControlPlaneGossip({ controlPlane: plane, pubsub: (node.services as unknown as { pubsub: never }).pubsub });
        gossip.start();
        return new Validator(peer, node, plane, gossip, new QuorumValidator({ validatorSet: set, registry }), set);
      }),
    );
    validators.push(...made);
    for (const [i, from] of made.entries()) for (const to of made.slice(i + 1)) await from.node.dial(to.node.getMultiaddrs()[0]!);
    await until('every node sees every other subscribed', () => made.every((v) => v.pubsub.getSubscribers(TOPIC).length === count - 1));
    return { validators: made, set };
  }

  it('maps every refusal to a gossipsub verdict: reject only what no honest forwarder passes on', () => {
    expect(Object.entries(GOSSIP_VERDICTS).filter(([, verdict]) => verdict === 'reject').map(([reason]) => reason).slice(0, 3)).toEqual(['malformed', 'unknown_origin', 'forged']);
    for (const reason of ['skew', 'stale', 'duplicate', 'quarantined', 'equivocation'] as const) expect(GOSSIP_VERDICTS[reason]).toBe('ignore');
  });

  it('carries signed envelopes to every node of a 5-node mesh, ids from the envelope, and punishes a forger', async () => {
    const { validators: nodes } = await network(5, new Map());
    const [origin, forger, ...others] = nodes as [Validator, Validator, ...Validator[]];
    const bytes = await origin.gossip.publish(EnvelopeKind.Gossip, new TextEncoder().encode('route: 10.0.0.0/8 via node 0'));
    const { digest } = parseEnvelope(bytes);
    await until('every other node applied the envelope', () => nodes.slice(1).every((v) => v.applied.some((e) => e.digest === digest)));
    expect(Buffer.from(envelopeMessageId({ data: bytes })).toString('hex')).toBe(digest);

    // The forger, a trusted libp2p peer, publishes the envelope with its payload changed: the
    // signature no longer verifies. Each neighbour refuses it and gossipsub lowers the forger's score.
    const forged = Uint8Array.from(bytes);
    forged[Buffer.from(bytes).indexOf('10.0.0.0')]! ^= 1;
    const refusedBefore = await Promise.all(others.map((v) => counter(v.plane.metrics.registry, 'pqc_gossip_rejected_total', { reason: 'forged' })));
    await forger.pubsub.publish(TOPIC, forged);
    await until('the forger’s neighbours refused the forgery', () => others.every((v) => v.pubsub.getScore(forger.id) < 0));
    const refusedAfter = await Promise.all(others.map((v) => counter(v.plane.metrics.registry, 'pqc_gossip_rejected_total', { reason: 'forged' })));
    expect(refusedAfter.map((n, i) => n - refusedBefore[i]!)).toEqual(others.map(() => 1));
    // Nobody applied it, nobody forwarded it (each honest node saw it once, from the forger), and honest peers keep their scores.
    for (const v of nodes) expect(v.applied.filter((e) => e.digest !== digest && e.origin === origin.id)).toEqual([]);
    for (const v of others) expect(v.pubsub.getScore(origin.id)).toBeGreaterThanOrEqual(0);
    for (const v of nodes) v.stop();
  }, 60_000);

  it('split brain over a real 7-node libp2p mesh: partition 5|2, quorum only in the majority, one decision after the heal', async () => {
    const blocked = new Map<string, Set<string>>();
    const { validators: nodes, set } = await network(7, blocked);
    // 7 validators: f = 2, a threshold of 5, which only the majority reaches.
    const majority = nodes.slice(0, 5);
    const minority = nodes.slice(5);
    const started = performance.now();
    for (const v of nodes) v.startHeartbeats();
    await until('every node has a quorum', () => nodes.every((v) => v.hasQuorum()));

    // Partition: the gater refuses new connections across, and the open ones are closed (the gater does not close them).
    for (const a of majority) {
      for (const b of minority) {
        blocked.get(a.id)!.add(b.id);
        blocked.get(b.id)!.add(a.id);
        await a.node.hangUp(b.peer.peerId);
      }
    }
    await until('the minority loses its quorum', () => minority.every((v) => !v.hasQuorum()));
    // Both sides propose for one slot; gossip still flows inside each side.
    const decision = (payload: string) =>
      encodeDecision({ kind: 'membership_change', slot: 'membership', epoch: 0, validatorSetHash: validatorSetHash(set), payload: new TextEncoder().encode(payload) });
    const ours = decision('admit node 6');
    const theirs = decision('admit node 7');
    await majority[0]!.propose(ours);
    await minority[0]!.propose(theirs);
    await until('the majority certifies', () => majority.every((v) => v.accepted('membership') !== undefined));
    await until('the minority heard each other’s votes', () => minority.every((v) => (v.votes.get(Buffer.from(theirs).toString('hex'))?.size ?? 0) === minority.length));
    for (const v of majority) expect(v.hasQuorum(), v.id).toBe(true);
    for (const v of minority) {
      expect(v.hasQuorum(), v.id).toBe(false);
      expect(v.accepted('membership'), `${v.id} certified in a minority`).toBeUndefined();
    }

    // Heal: lift the gater, reconnect, and the majority publishes what it certified again.
    for (const set of blocked.values()) set.clear();
    for (const a of majority) for (const b of minority) await a.node.dial(b.node.getMultiaddrs()[0]!);
    await until('every node sees every other subscribed again', () => nodes.every((v) => v.pubsub.getSubscribers(TOPIC).length === nodes.length - 1));
    for (const v of majority) await v.republishCertificates();
    await until('every node accepted the one decision', () => nodes.every((v) => v.accepted('membership') !== undefined));
    await until('every node has a quorum again', () => nodes.every((v) => v.hasQuorum()));
    const chosen = nodes.map((v) => Buffer.from(v.accepted('membership')!).toString('hex'));
    expect(new Set(chosen)).toEqual(new Set([Buffer.from(ours).toString('hex')]));
    for (const v of nodes) expect(v.quorum.conflicts).toHaveLength(0);
    // Every connection of the run was ours.
    for (const v of nodes) for (const connection of v.node.getConnections()) expect(connection.encryption).toBe('/x0tta6bl4-pq/1.0.0');
    console.log(`[libp2p] split brain over 7 libp2p nodes: partition, certify, heal and converge in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }, 400_000);
});
