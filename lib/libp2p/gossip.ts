import { createHash } from 'node:crypto';
import type { GossipSub, GossipsubOpts, Message, TopicValidatorResult } from '@libp2p/gossipsub';
import type { PeerId } from '@libp2p/interface';
import type { ControlPlane } from '../control-plane/control-plane.js';
import type { EnvelopeKind } from '../control-plane/envelope.js';
import { parseEnvelope } from '../control-plane/envelope.js';
import type { ControlRefusal } from '../control-plane/refusal.js';
import { PqcError } from '../errors.js';

/** The gossipsub topic the control plane's envelopes travel on unless told otherwise. */
export const CONTROL_PLANE_TOPIC = '/x0tta6bl4/control-plane/1';

// TopicValidatorResult's values, so that this module does not load @libp2p/gossipsub itself.
const ACCEPT = 'accept' as TopicValidatorResult;
const IGNORE = 'ignore' as TopicValidatorResult;
const REJECT = 'reject' as TopicValidatorResult;

/**
 * What gossipsub does with an envelope we refused. Reject (the forwarder's score drops) where
 * no honest node would have passed it on — it does not parse, its signature does not verify, its
 * origin is not in the trust store (the cluster's trust lists are one configuration). Ignore
 * where an honest forwarder can be behind us: a late, skewed or repeated envelope, one of a
 * quarantined origin or the second half of an equivocation it could not yet know about.
 */
export const GOSSIP_VERDICTS: Readonly<Record<ControlRefusal, TopicValidatorResult>> = {
  malformed: REJECT,
  unknown_origin: REJECT,
  forged: REJECT,
  quarantined: IGNORE,
  skew: IGNORE,
  stale: IGNORE,
  duplicate: IGNORE,
  equivocation: IGNORE,
  // Certificate refusals come from QuorumValidator, not from an envelope's receipt.
  wrong_validator_set: REJECT,
  duplicate_signer: REJECT,
  unknown_signer: REJECT,
  insufficient_quorum: REJECT,
  conflict: REJECT,
};

/**
 * A gossipsub message's id: the envelope's digest (SHA-256 of what its origin signed, so the
 * hop limit, which is not signed, does not make two ids of one envelope, and two envelopes
 * that equivocate have two). Bytes that are no envelope get the hash of the bytes.
 */
export function envelopeMessageId(message: Pick<Message, 'data'>): Uint8Array {
  try {
    return Buffer.from(parseEnvelope(message.data).digest, 'hex');
  } catch {
    return createHash('sha256').update(message.data).digest();
  }
}

/**
 * The gossipsub options the control plane needs: gossipsub's own signing off (our ML-DSA
 * envelope is the authentication, and a libp2p signature would tie each message to a
 * classical key), message ids from the envelope, publishing with no peer on the topic (a node
 * cut off by a partition still heartbeats), and peer scores for `topic` in which each message
 * our validator rejects costs its sender 100 (squared per repeat: one forgery takes a peer past
 * gossipsub's default graylist threshold of -80), while a quiet topic costs nobody anything (a
 * control plane is quiet between heartbeats). Spread them into `gossipsub({...})`.
 */
export function controlPlaneGossipsubOptions(topic = CONTROL_PLANE_TOPIC): Pick<GossipsubOpts, 'globalSignaturePolicy' | 'msgIdFn' | 'allowPublishToZeroTopicPeers'> & {
  scoreParams: Partial<GossipsubOpts['scoreParams']>;
} {
  return {
    globalSignaturePolicy: 'StrictNoSign',
    msgIdFn: envelopeMessageId,
    allowPublishToZeroTopicPeers: true,
    scoreParams: {
      topics: {
        [topic]: {
          topicWeight: 1,
          timeInMeshWeight: 0.01,
          timeInMeshQuantum: 1000,
          timeInMeshCap: 3600,
          firstMessageDeliveriesWeight: 1,
          firstMessageDeliveriesDecay: 0.5,
          firstMessageDeliveriesCap: 100,
          meshMessageDeliveriesWeight: 0,
          meshMessageDeliveriesDecay: 0.5,
          meshMessageDeliveriesCap: 100,
          meshMessageDeliveriesThreshold: 1,
          meshMessageDeliveriesWindow: 10,
          meshMessageDeliveriesActivation: 5000,
          meshFailurePenaltyWeight: 0,
          meshFailurePenaltyDecay: 0.5,
          invalidMessageDeliveriesWeight: -100,
          invalidMessageDeliveriesDecay: 0.5,
        },
      },
    },
  };
}

export interface ControlPlaneGossipOptions {
  controlPlane: ControlPlane;
  /** The node's gossipsub service, made with controlPlaneGossipsubOptions(). */
  pubsub: GossipSub;
  topic?: string;
}

/**
 * The control plane's signed envelopes as gossipsub messages: gossipsub disseminates, our
 * checks (signature, trust, anti-replay, equivocation) are the topic validator, and what the
 * control plane accepts it has applied. Evidence we find against an equivocator goes out on
 * the topic too; the envelopes' own hop limits are left to gossipsub's mesh.
 */
export class ControlPlaneGossip {
  readonly topic: string;
  readonly #plane: ControlPlane;
  readonly #pubsub: GossipSub;

  constructor(options: ControlPlaneGossipOptions) {
    this.#plane = options.controlPlane;
    this.#pubsub = options.pubsub;
    this.topic = options.topic ?? CONTROL_PLANE_TOPIC;
    if (this.#pubsub.globalSignaturePolicy !== 'StrictNoSign') {
      throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', "gossipsub must not sign messages: make it with controlPlaneGossipsubOptions() (globalSignaturePolicy 'StrictNoSign')");
    }
  }

  /** Subscribes, with our verification as the topic's validator. */
  start(): void {
    this.#pubsub.topicValidators.set(this.topic, (from, message) => this.#validate(from, message));
    this.#pubsub.subscribe(this.topic);
  }

  stop(): void {
    this.#pubsub.unsubscribe(this.topic);
    this.#pubsub.topicValidators.delete(this.topic);
  }

  /** Signs an envelope of `kind` and publishes it; resolves with its bytes. */
  async publish(kind: EnvelopeKind, payload: Uint8Array): Promise<Uint8Array> {
    const bytes = await this.#plane.publish(kind, payload);
    await this.#send(bytes);
    return bytes;
  }

  async #validate(_from: PeerId, message: Message): Promise<TopicValidatorResult> {
    const { receipts, outgoing } = await this.#plane.receive(message.data);
    for (const bytes of outgoing) {
      // Only our own evidence: gossipsub forwards the accepted envelope itself.
      if (parseEnvelope(bytes).origin === this.#plane.nodeId) this.#send(bytes).catch(() => undefined);
    }
    const receipt = receipts[0]!;
    return receipt.status === 'accepted' ? ACCEPT : GOSSIP_VERDICTS[receipt.reason ?? 'malformed'];
  }

  async #send(bytes: Uint8Array): Promise<void> {
    await this.#pubsub.publish(this.topic, bytes);
  }
}
