export { ControlPlane, DEFAULT_CONTROL_PLANE_LIMITS, type ControlPlaneOptions, type ControlPlaneLimits, type Receipt, type Received } from './control-plane.js';
export { EnvelopeKind, parseEnvelope, MAX_PAYLOAD, type Envelope } from './envelope.js';
export type { EquivocationEvidence } from './evidence.js';
export {
  QuorumValidator,
  quorumThreshold,
  signVote,
  encodeCertificate,
  parseCertificate,
  encodeDecision,
  parseDecision,
  encodeValidatorSet,
  parseValidatorSet,
  validatorSetHash,
  DECISION_KINDS,
  type Decision,
  type DecisionKind,
  type ValidatorSet,
  type Vote,
  type ConflictEvidence,
} from './quorum.js';
export { CONTROL_REFUSALS, ControlPlaneError, type ControlRefusal } from './refusal.js';
