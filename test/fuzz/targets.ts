import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { PqcError } from '../../lib/errors.js';
import {
  ControlPlane,
  EnvelopeKind,
  QuorumValidator,
  encodeCertificate,
  encodeDecision,
  encodeValidatorSet,
  parseCertificate,
  parseDecision,
  parseEnvelope,
  parseValidatorSet,
  signVote,
  validatorSetHash,
  type Decision,
} from '../../lib/control-plane/index.js';
import { encodeEnvelope, signedContent } from '../../lib/control-plane/envelope.js';
import { encodeEvidence, parseEvidence } from '../../lib/control-plane/evidence.js';
import { sigFor } from '../../lib/mesh/signatures.js';
import { InitiatorHandshake, Responder } from '../../lib/mesh/handshake.js';
import {
  encodeAbort,
  encodeRehandshake,
  encodeRetry,
  initiatorSessionOf,
  MessageType,
  messageType,
  parseAbort,
  parseAuth,
  parseInitHello,
  parseRehandshake,
  parseRespHello,
  parseRetry,
} from '../../lib/mesh/messages.js';
import { DEFAULT_REKEY_LIMITS, RecordLayer } from '../../lib/mesh/record-layer.js';
import { checkDeployment, formatPolicyReport, loadPolicy, POLICY_FILES, readDeploymentConfig } from '../../lib/policy/policy-check.js';
import { members } from '../control-plane/support.js';
import { fullHandshake, parties } from '../mesh/support.js';
import { projectRoot } from '../support/environment.js';
import { mutate, mutation, sameBytes, type Mutation } from './mutation.js';

/** A broken property: a crash (an error that is not a PqcError), an authentication, a wrong reason. */
export class Violation extends Error {}

/**
 * One fuzz target: `setup` makes its valid messages (from real handshakes, envelopes and
 * certificates) and returns `execute`, which runs one input and says what happened (the
 * outcome: the refusal's reason and message, numbers elided), or throws a Violation.
 */
export interface FuzzTarget<I = Mutation> {
  name: string;
  /** What must hold, in one sentence. */
  holds: string;
  input: fc.Arbitrary<I>;
  /**
   * Executions in the default suite's seeded slice and in `npm run fuzz`. The long budget goes
   * where an execution is cheap: a bare parser takes about 0.1–0.3 ms, a handshake target runs a
   * real handshake up to the changed message (the RespAuth one all of it, two ML-DSA signatures:
   * ~20 ms on a loaded machine), a policy file compiles its two JSON schemas with ajv (~40 ms), a
   * config file is written and read back (~4 ms). docs/reliability.md has the time per execution.
   */
  runs: { short: number; long: number };
  setup(): Promise<(input: I) => Promise<string>>;
}

const describeError = (error: unknown) => String((error as Error)?.stack ?? error);
const outcome = (kind: string, message = '') => `${kind}${message ? `: ${message.replace(/\d+/g, '#').slice(0, 80)}` : ''}`;

/** The outcome of a refusal, which must be a PqcError whose reason (or code) is one of `allowed`. */
function refusal(error: unknown, allowed: readonly string[], what: string): string {
  if (!(error instanceof PqcError)) throw new Violation(`${what} threw something that is not a PqcError: ${describeError(error)}`);
  const reason = (error as { reason?: string }).reason ?? error.code;
  if (!allowed.includes(reason)) throw new Violation(`${what} was refused as ${reason} (${error.code}: ${error.message}); expected one of ${allowed.join(', ')}`);
  return outcome(`refused ${reason}`, error.message);
}

// --- the handshake: one message of a real handshake changed, the rest run by honest peers ---------

/**
 * Reasons a changed message may end a handshake with. An InitHello or RespHello can pass the
 * parsers and still be refused at key confirmation (the transcripts differ); the Auth messages
 * are sealed, so their changes end at the seal. Never 'bad_signature': a changed message that
 * opened its seal would be a forgery of AES-GCM.
 */
const HANDSHAKE_REASONS: readonly (readonly string[])[] = [
  ['malformed', 'unknown_peer', 'reflection', 'replay', 'downgrade', 'unsupported_suite', 'invalid_key', 'kem_error', 'decaps_failure'],
  ['malformed', 'downgrade', 'invalid_key', 'kem_error', 'decaps_failure'],
  ['malformed', 'replay', 'decaps_failure'],
  ['malformed', 'decaps_failure'],
];
const HANDSHAKE_MESSAGES = ['InitHello', 'RespHello', 'InitAuth', 'RespAuth'];

function isAbort(bytes: Uint8Array, reason: string): boolean {
  try {
    return parseAbort(bytes).reason === reason;
  } catch {
    return false;
  }
}

function handshakeTarget(index: number): FuzzTarget {
  const name = HANDSHAKE_MESSAGES[index]!;
  return {
    name: `handshake-${name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase()}`,
    holds: `a changed ${name} never completes a handshake; it is refused with a handshake reason (${HANDSHAKE_REASONS[index]!.join(', ')}) or ignored`,
    input: mutation,
    runs: { short: 12, long: index === 3 ? 3_000 : 6_000 },
    setup: async () => {
      const [alice, bob] = await parties(['alice', 'bob']);
      return async (m) => {
        const handshake = await InitiatorHandshake.start(alice!.ctx, bob!.keys);
        const responder = new Responder(bob!.ctx, () => undefined);
        const origin = {};
        const genuine: Uint8Array[] = [];
        let message = handshake.hello;
        let delivered = message;
        let changed = false;
        let authenticatedAfter = 0;
        try {
          for (let i = 0; ; i++) {
            genuine.push(message);
            delivered = i === index ? mutate([message, ...genuine], { ...m, seed: 0 }) : message;
            if (i === index) changed = !sameBytes(delivered, message);
            const step = i % 2 === 0 ? await responder.receive(delivered, origin) : await handshake.receive(delivered);
            if (step.session && i >= index) authenticatedAfter++;
            if (!step.reply) break;
            if (i >= 5) throw new Violation('a handshake went on past its four messages');
            message = step.reply;
          }
        } catch (error) {
          if (error instanceof Violation) throw error;
          if (!changed) throw new Violation(`the unchanged handshake failed: ${describeError(error)}`);
          // An Abort is unauthenticated by design (advisory): one made by the change may name any reason.
          const reason = (error as { reason?: string }).reason;
          if (reason && isAbort(delivered, reason)) return outcome(`aborted ${reason}`);
          return refusal(error, HANDSHAKE_REASONS[index]!, `the handshake with a changed ${name}`);
        } finally {
          handshake.abort();
          responder.close();
        }
        if (changed && authenticatedAfter > 0) throw new Violation(`a changed ${name} completed the handshake`);
        if (!changed && authenticatedAfter !== (index === 3 ? 1 : 2)) throw new Violation('the unchanged handshake did not complete');
        return changed ? outcome('ignored') : outcome('completed');
      };
    },
  };
}

// --- channel records ------------------------------------------------------------------------------

const RECORD_REASONS = ['malformed', 'key_desync', 'replay', 'forged'];

const recordTarget: FuzzTarget = {
  name: 'channel-record',
  holds: `a changed record never opens; it is refused as ${RECORD_REASONS.join(', ')}; a genuine one opens once`,
  input: mutation,
  runs: { short: 200, long: 150_000 },
  setup: async () => {
    const [alice, bob] = await parties(['alice', 'bob']);
    const { initiator, responder } = await fullHandshake(alice!, new Responder(bob!.ctx, () => undefined), bob!.keys);
    const now = () => performance.now();
    const sender = new RecordLayer(initiator, DEFAULT_REKEY_LIMITS, now);
    const receiver = new RecordLayer(responder, DEFAULT_REKEY_LIMITS, now);
    let executions = 0;
    return async (m) => {
      // Now and then both sides rotate (the same chain key on both), so that epochs change.
      if (++executions % 512 === 0) {
        const [secret, publicKey, ciphertext] = [randomBytes(32), randomBytes(32), randomBytes(32)];
        sender.install(sender.nextChainKey(secret, publicKey, ciphertext));
        receiver.install(receiver.nextChainKey(secret, publicKey, ciphertext));
      }
      const plaintexts = [randomBytes(m.steps.length * 9), randomBytes(40)];
      const seeds = [sender.seal(MessageType.Data, plaintexts[0]!), sender.seal(MessageType.RekeyInit, plaintexts[1]!)];
      const bytes = mutate(seeds, m);
      const genuine = seeds.findIndex((seed) => sameBytes(seed, bytes));
      let opened;
      try {
        opened = receiver.open(bytes);
      } catch (error) {
        if (genuine >= 0) throw new Violation(`a genuine record was refused: ${describeError(error)}`);
        return refusal(error, RECORD_REASONS, 'a changed record');
      }
      if (genuine < 0) throw new Violation('a changed record opened');
      if (!sameBytes(opened.plaintext, plaintexts[genuine]!)) throw new Violation('a genuine record opened to another plaintext');
      return outcome('opened');
    };
  },
};

// --- the control plane: envelopes and certificates from real control planes ------------------------

async function controlPlaneSeeds() {
  const all = await members(4);
  const [v0, v1, v2] = all as [(typeof all)[0], (typeof all)[0], (typeof all)[0]];
  const wall = Date.now();
  const trusted = new Map(all.map((m) => [m.nodeId, m.keys]));
  const plane = (member: typeof v0) => new ControlPlane({ nodeId: member.nodeId, identity: member.identity, trust: (id) => trusted.get(id), wallClock: () => wall });
  const publisher = plane(v0);
  const set = { epoch: 0, validators: all.map((m) => m.keys) };
  const decision = (d: Omit<Decision, 'epoch' | 'validatorSetHash'>) => encodeDecision({ ...d, epoch: 0, validatorSetHash: validatorSetHash(set) });
  const decisions = [
    decision({ kind: 'key_revocation', slot: 'revoke:v3', payload: Buffer.from('v3 key compromised') }),
    decision({ kind: 'validator_set_change', slot: 'validators', payload: encodeValidatorSet({ epoch: 1, validators: all.slice(0, 3).map((m) => m.keys) }) }),
  ];
  const vote = (bytes: Uint8Array, signers: typeof all) => Promise.all(signers.map((m) => signVote(bytes, m.identity, m.nodeId)));
  const certificates = [
    encodeCertificate(decisions[0]!, await vote(decisions[0]!, all.slice(0, 3))),
    encodeCertificate(decisions[1]!, await vote(decisions[1]!, all)),
  ];
  // Equivocation evidence: v2 signed two envelopes with one sequence number.
  const sig = sigFor(v2.identity.algorithm);
  const twin = async (payload: string) => {
    const fields = { kind: EnvelopeKind.Gossip, origin: v2.nodeId, sequence: 7, epoch: 0, timestamp: wall, hopLimit: 3, payload: Buffer.from(payload) };
    return encodeEnvelope(fields, await sig.signAsync(signedContent(fields), v2.identity.secretKey));
  };
  const evidence = encodeEvidence({ origin: v2.nodeId, sequence: 7, first: await twin('leader is v2'), second: await twin('leader is v0') });
  const envelopes = [
    await publisher.publish(EnvelopeKind.Gossip, Buffer.from('route 10.0.0.0/8 via v0')),
    await publisher.publish(EnvelopeKind.Heartbeat, new Uint8Array(0)),
    await publisher.publish(EnvelopeKind.Vote, certificates[0]!.subarray(0, 64)),
    await publisher.publish(EnvelopeKind.Certificate, certificates[0]!),
    await publisher.publish(EnvelopeKind.Evidence, evidence),
  ];
  return { receiver: () => plane(v1), set, decisions, certificates, evidence, envelopes, validatorSets: [encodeValidatorSet(set), parseDecision(decisions[1]!).payload] };
}
let controlPlaneSeedsOnce: ReturnType<typeof controlPlaneSeeds> | undefined;
const seedsOfControlPlane = () => (controlPlaneSeedsOnce ??= controlPlaneSeeds());

const ENVELOPE_REASONS = ['malformed', 'forged', 'unknown_origin', 'skew', 'stale', 'duplicate'];

const envelopeTarget: FuzzTarget = {
  name: 'control-plane-envelope',
  holds: `a changed envelope is never applied unless only its hop limit (outside the signature) changed; it is refused as ${ENVELOPE_REASONS.join(', ')}`,
  input: mutation,
  runs: { short: 40, long: 30_000 },
  setup: async () => {
    const { receiver, envelopes } = await seedsOfControlPlane();
    const digests = envelopes.map((e) => parseEnvelope(e).digest);
    return async (m) => {
      const bytes = mutate(envelopes, m);
      const plane = receiver();
      let receipt;
      try {
        [receipt] = (await plane.receive(bytes)).receipts;
      } catch (error) {
        throw new Violation(`ControlPlane.receive threw: ${describeError(error)}`);
      }
      if (receipt!.status === 'accepted') {
        if (!digests.includes(receipt!.envelope!.digest)) throw new Violation('a changed envelope was accepted');
        return outcome('accepted (signed content unchanged)');
      }
      if (envelopes.some((e) => sameBytes(e, bytes))) throw new Violation(`a genuine envelope was refused as ${receipt!.reason}`);
      if (!ENVELOPE_REASONS.includes(receipt!.reason!)) throw new Violation(`a changed envelope was refused as ${receipt!.reason}`);
      return outcome(`refused ${receipt!.reason}`);
    };
  },
};

const CERTIFICATE_REASONS = ['malformed', 'wrong_validator_set', 'duplicate_signer', 'unknown_signer', 'insufficient_quorum', 'forged'];

const certificateTarget: FuzzTarget = {
  name: 'quorum-certificate',
  holds: `a changed certificate is accepted only for the decision its validators signed; otherwise refused as ${CERTIFICATE_REASONS.join(', ')}`,
  input: mutation,
  runs: { short: 30, long: 20_000 },
  setup: async () => {
    const { set, certificates, decisions } = await seedsOfControlPlane();
    return async (m) => {
      const bytes = mutate(certificates, m);
      let accepted;
      try {
        accepted = await new QuorumValidator({ validatorSet: set }).accept(bytes);
      } catch (error) {
        if (certificates.some((c) => sameBytes(c, bytes))) throw new Violation(`a genuine certificate was refused: ${describeError(error)}`);
        return refusal(error, CERTIFICATE_REASONS, 'a changed certificate');
      }
      if (!decisions.some((d) => sameBytes(d, parseCertificate(bytes).decisionBytes))) throw new Violation(`a changed decision was accepted: ${accepted.kind} ${accepted.slot}`);
      return outcome('accepted (decision unchanged)');
    };
  },
};

// --- parsers on their own: any bytes give a value or a 'malformed' PqcError ----------------------

function parserTarget(name: string, parsers: ((bytes: Uint8Array) => unknown)[], seeds: () => Promise<Uint8Array[]>): FuzzTarget {
  return {
    name,
    holds: 'any bytes parse or are refused with a PqcError of code ERR_PQC_MALFORMED_MESSAGE, never another error',
    input: mutation,
    runs: { short: 400, long: 150_000 },
    setup: async () => {
      const valid = await seeds();
      return async (m) => {
        const bytes = mutate(valid, m);
        const outcomes: string[] = [];
        for (const parse of parsers) {
          try {
            parse(bytes);
            outcomes.push('parsed');
          } catch (error) {
            if (!(error instanceof PqcError) || error.code !== 'ERR_PQC_MALFORMED_MESSAGE') {
              throw new Violation(`${parse.name || name} threw ${error instanceof PqcError ? error.code : 'something that is not a PqcError'}: ${describeError(error)}`);
            }
            outcomes.push(outcome('malformed', error.message));
          }
        }
        return outcomes.join(' | ');
      };
    },
  };
}

async function handshakeMessages(): Promise<Uint8Array[]> {
  const [alice, bob] = await parties(['alice', 'bob']);
  const { messages } = await fullHandshake(alice!, new Responder(bob!.ctx, () => undefined), bob!.keys);
  const sessionI = initiatorSessionOf(messages.initHello)!;
  return [...Object.values(messages), encodeRetry({ sessionI, selected: 3 }), encodeAbort({ sessionI, reason: 'downgrade' }), encodeRehandshake()];
}

const handshakeParsers = [
  messageType,
  parseInitHello,
  parseRetry,
  parseRespHello,
  function parseInitAuth(bytes: Uint8Array) {
    return parseAuth(bytes, MessageType.InitAuth);
  },
  function parseRespAuth(bytes: Uint8Array) {
    return parseAuth(bytes, MessageType.RespAuth);
  },
  parseAbort,
  parseRehandshake,
  initiatorSessionOf,
];

// --- policy files -----------------------------------------------------------------------------

const EXAMPLE_CONFIG = path.join(projectRoot, 'policy', 'examples', 'production.json');

const scratchDirs: string[] = [];

/** Removes the folders the file targets wrote their inputs to (parsers.test.ts, after all). */
export function removeScratch(): void {
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

function scratch(): (text: Uint8Array) => string {
  const dir = mkdtempSync(path.join(tmpdir(), 'x0tta6bl4-pqc-fuzz-'));
  scratchDirs.push(dir);
  return (bytes) => {
    const file = path.join(dir, 'input.json');
    writeFileSync(file, bytes);
    return file;
  };
}

/** A report, and its text, for any config: checkDeployment never throws for what a config holds. */
function checkConfig(config: unknown, policy: ReturnType<typeof loadPolicy>): string {
  try {
    const report = checkDeployment(config, { configDir: path.dirname(EXAMPLE_CONFIG), policy });
    formatPolicyReport(report, 'input.json');
    return report.compliant ? 'compliant' : `findings: ${[...new Set(report.findings.map((f) => f.rule))].sort().join(', ')}`;
  } catch (error) {
    throw new Violation(`checkDeployment threw for a config: ${describeError(error)}`);
  }
}

const policyFileTarget: FuzzTarget = {
  name: 'policy-file',
  holds: 'a changed policy file loads (and then checks a config without throwing) or is refused with ERR_PQC_INVALID_POLICY',
  input: mutation,
  runs: { short: 10, long: 1_000 },
  setup: async () => {
    const seed = readFileSync(POLICY_FILES.policy);
    const write = scratch();
    const config = readDeploymentConfig(EXAMPLE_CONFIG);
    return async (m) => {
      let policy;
      try {
        policy = loadPolicy(write(mutate([seed], m)));
      } catch (error) {
        if (!(error instanceof PqcError) || error.code !== 'ERR_PQC_INVALID_POLICY') throw new Violation(`loadPolicy threw ${describeError(error)}`);
        // JSON.parse quotes the input around the error: one outcome, not one per input.
        return outcome('refused', error.message.replace(/^the policy \S+ /, '').replace(/^is not valid JSON: .*/s, 'is not valid JSON'));
      }
      return `loaded, ${checkConfig(config, policy)}`;
    };
  },
};

const deploymentFileTarget: FuzzTarget = {
  name: 'deployment-config',
  holds: 'a changed config file is refused with ERR_PQC_INVALID_CONFIGURATION when it is not JSON, and otherwise checked without throwing',
  input: mutation,
  runs: { short: 100, long: 15_000 },
  setup: async () => {
    const seed = readFileSync(EXAMPLE_CONFIG);
    const write = scratch();
    const policy = loadPolicy();
    return async (m) => {
      let config;
      try {
        config = readDeploymentConfig(write(mutate([seed], m)));
      } catch (error) {
        if (!(error instanceof PqcError) || error.code !== 'ERR_PQC_INVALID_CONFIGURATION') throw new Violation(`readDeploymentConfig threw ${describeError(error)}`);
        return outcome('not JSON');
      }
      return checkConfig(config, policy);
    };
  },
};

/** The example config with the value at one of its paths replaced by any JSON value (or the whole config replaced). */
const valueMutation = fc.record({ at: fc.nat(), value: fc.jsonValue({ maxDepth: 3 }) });

const deploymentValuesTarget: FuzzTarget<{ at: number; value: unknown }> = {
  name: 'deployment-values',
  holds: 'a config with any JSON value at any of its paths is checked without throwing',
  input: valueMutation,
  runs: { short: 150, long: 40_000 },
  setup: async () => {
    const example = JSON.parse(readFileSync(EXAMPLE_CONFIG, 'utf8')) as Record<string, unknown>;
    const policy = loadPolicy();
    const paths: string[][] = [[]];
    const walk = (node: unknown, at: string[]) => {
      if (node === null || typeof node !== 'object') return;
      for (const [key, child] of Object.entries(node)) {
        paths.push([...at, key]);
        walk(child, [...at, key]);
      }
    };
    walk(example, []);
    return async ({ at, value }) => {
      const where = paths[at % paths.length]!;
      if (where.length === 0) return checkConfig(value, policy);
      const config = structuredClone(example);
      const parent = where.slice(0, -1).reduce<Record<string, unknown>>((node, key) => node[key] as Record<string, unknown>, config);
      parent[where.at(-1)!] = value;
      return checkConfig(config, policy);
    };
  },
};

export const TARGETS: FuzzTarget<any>[] = [
  ...[0, 1, 2, 3].map(handshakeTarget),
  recordTarget,
  envelopeTarget,
  certificateTarget,
  parserTarget('parse-handshake-messages', handshakeParsers, handshakeMessages),
  parserTarget('parse-envelope', [parseEnvelope], async () => (await seedsOfControlPlane()).envelopes),
  parserTarget('parse-certificate', [parseCertificate], async () => (await seedsOfControlPlane()).certificates),
  parserTarget('parse-decision', [parseDecision], async () => (await seedsOfControlPlane()).decisions),
  parserTarget('parse-validator-set', [parseValidatorSet], async () => (await seedsOfControlPlane()).validatorSets),
  parserTarget('parse-evidence', [parseEvidence], async () => [(await seedsOfControlPlane()).evidence]),
  policyFileTarget,
  deploymentFileTarget,
  deploymentValuesTarget,
];
