import { info as backendInfo, type Info as BackendInfo } from '../backend.js';
import { policyVariables, readPolicy } from './environment.js';
import { assessBackend } from './readiness.js';

export interface Diagnosis extends BackendInfo {
  /** Production mode; an invalid X0TTA6BL4_PRODUCTION counts as production. */
  production: boolean;
  /** Every policy variable: raw value, value in force, default, effect, error. */
  policy: Record<string, { raw: string | null; value: boolean | number | null; default: boolean | number; effect: string; error: string | null }>;
  /** The backend-selection variables, as set. */
  backendVariables: Record<string, string | null>;
  ready: boolean;
  /** What keeps the node from being ready, each with its fix. */
  problems: string[];
  warnings: string[];
}

export const BACKEND_VARIABLES = ['X0TTA6BL4_PQC_BACKEND', 'X0TTA6BL4_LIBOQS_PATH'];

/** `x0tta6bl4-pqc doctor`: the start-up checks, reported instead of enforced. */
export function diagnose(): Diagnosis {
  const env = process.env;
  const backend = backendInfo();
  const variables = policyVariables(env);
  const problems = variables.flatMap((variable) => (variable.error ? [variable.error] : []));
  const warnings: string[] = [];
  // Stryker disable next-line ConditionalExpression: X0TTA6BL4_PRODUCTION is POLICY_VARIABLES' first entry, so a predicate that is always true finds it too
  const productionVariable = variables.find((variable) => variable.name === 'X0TTA6BL4_PRODUCTION')!;
  let production = productionVariable.value !== false;

  if (problems.length === 0) {
    const policy = readPolicy(env);
    production = policy.production;
    const readiness = assessBackend(policy, backend);
    problems.push(...readiness.problems.map((problem) => problem.message));
    warnings.push(...readiness.warnings);
    const ttl = `${policy.fallbackTtlSeconds} s`;
    if (policy.disablePqc) {
      (policy.production ? problems : warnings).push(
        `X0TTA6BL4_DISABLE_PQC=true: start-up enters classical-only fallback mode and shuts the node down after ${ttl}; unset it to run with PQC`,
      );
    }
    if (policy.production && policy.allowMockPqc) {
      problems.push('X0TTA6BL4_ALLOW_MOCK_PQC=true lifts the ban on the mock KEM, which has no security: unset it in production');
    }
  }

  return {
    ...backend,
    production,
    policy: Object.fromEntries(
      variables.map(({ name, raw, value, default: fallback, effect, error }) => [
        name,
        { raw: raw ?? null, value: value ?? null, default: fallback, effect, error },
      ]),
    ),
    backendVariables: Object.fromEntries(BACKEND_VARIABLES.map((name) => [name, env[name] ?? null])),
    ready: problems.length === 0,
    problems,
    warnings,
  };
}

const yesNo = (value: boolean) => (value ? 'yes' : 'no');

// The WebAssembly build enables dozens of schemes; the standard ones are what an operator checks.
function algorithms(names: string[]): string {
  if (names.length <= 6) return names.length ? names.join(', ') : 'none';
  const standard = names.filter((name) => /^ML-(KEM|DSA)-/.test(name));
  return `${names.length} enabled, including ${standard.join(', ')} (--json lists all)`;
}

/** The human-readable report; `extra` rows (from layers above) go before the verdict. */
export function formatDiagnosis(d: Diagnosis, extra: [string, string][] = []): string {
  const rows: [string, string][] = [
    ['backend', d.backend],
    ['liboqs', d.liboqs ? `${d.liboqs.version} (${d.liboqs.path})` : d.wasm ? `WebAssembly ${d.wasm.package} ${d.wasm.version}` : 'none'],
    ['KEMs', algorithms(d.kems)],
    ['signatures', algorithms(d.sigs)],
    [
      'capabilities',
      `ML-KEM key pair from seed: ${yesNo(d.capabilities.kemKeypairDerand)}, ` +
        `encapsulation from seed: ${yesNo(d.capabilities.kemEncapsDerand)}, ` +
        `signature context: ${yesNo(d.capabilities.sigContext)}`,
    ],
    ['production', yesNo(d.production)],
    ...Object.entries(d.policy).map(([name, v]): [string, string] => [
      name,
      `${v.raw === null ? '(unset)' : JSON.stringify(v.raw)} -> ${v.value === null ? 'INVALID' : String(v.value)} (default ${String(v.default)})`,
    ]),
    ...Object.entries(d.backendVariables).map(([name, raw]): [string, string] => [name, raw === null ? '(unset)' : JSON.stringify(raw)]),
    ...extra,
    ['verdict', d.ready ? 'READY' : 'NOT READY'],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
  const list = (title: string, items: string[]) =>
    items.length ? [``, `${title}:`, ...items.map((item) => `  - ${item.replaceAll('\n', '\n    ')}`)] : [];
  return [...lines, ...list('problems', d.problems), ...list('warnings', d.warnings)].join('\n');
}
