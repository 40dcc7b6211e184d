import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { PqcError, type PqcErrorCode } from '../errors.js';

/**
 * Policy as code: a deployment config (policy/deployment.schema.json) checked against a
 * declarative policy (policy/production.policy.json, itself checked against
 * policy/policy.schema.json). A rule is data: a JSON pointer, an optional condition and one
 * requirement from the vocabulary in OPERATORS. Nothing here knows a rule by its id, so the
 * policy can move to another engine (Rego) rule by rule, the vocabulary becoming its helpers.
 */

type Scalar = boolean | number | string | null;

/** Each requirement's operand (policy/policy.schema.json says what each one means). */
interface Vocabulary {
  equals: Scalar;
  oneOf: Scalar[];
  max: number;
  allIn: Scalar[];
  containsFileNamed: string;
  definesAlerts: { file: string; alerts: string[] };
  byzantineQuorum: { validators: string };
}

/** One operator and its operand: `{ "max": 3600 }`. */
export type Requirement = { [K in keyof Vocabulary]: { [P in K]: Vocabulary[P] } }[keyof Vocabulary];

export interface PolicyRule {
  id: string;
  description: string;
  /** RFC 6901 pointer into the deployment config. */
  path: string;
  /** The rule applies only while the value at `when.path` meets `when.requirement`. */
  when?: { path: string; requirement: Requirement };
  requirement: Requirement;
  fix: string;
}

export interface DeploymentPolicy {
  id: string;
  description: string;
  rules: PolicyRule[];
}

/** One violated rule, or one structural error of the config (rule "schema"). */
export interface PolicyFinding {
  rule: string;
  path: string;
  expected: string;
  /** Absent when nothing is there (a missing key). */
  found?: unknown;
  fix: string;
}

/** A rule that could not be evaluated, and why; it is not a finding. */
export interface UncheckedRule {
  rule: string;
  path: string;
  reason: string;
}

export interface PolicyReport {
  policy: string;
  rules: number;
  compliant: boolean;
  findings: PolicyFinding[];
  unchecked: UncheckedRule[];
}

export interface LoadedPolicy {
  policy: DeploymentPolicy;
  validateConfig: ValidateFunction;
}

const POLICY_DIR = fileURLToPath(new URL('../../policy/', import.meta.url));
export const POLICY_FILES = {
  policy: path.join(POLICY_DIR, 'production.policy.json'),
  policySchema: path.join(POLICY_DIR, 'policy.schema.json'),
  deploymentSchema: path.join(POLICY_DIR, 'deployment.schema.json'),
};

// --- JSON pointers -------------------------------------------------------------------------

function segments(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function escapeSegment(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * The value at `pointer`, undefined when there is none (JSON has no undefined). Own properties
 * and in-range indices only: "/__proto__" or "/constructor" find nothing.
 */
function valueAt(document: unknown, pointer: string): unknown {
  let current = document;
  for (const segment of segments(pointer)) {
    if (Array.isArray(current) && /^(0|[1-9]\d*)$/.test(segment) && Number(segment) < current.length) {
      current = current[Number(segment)];
    } else if (current !== null && typeof current === 'object' && !Array.isArray(current) && Object.hasOwn(current, segment)) {
      current = (current as Record<string, unknown>)[segment];
    } else {
      return undefined;
    }
  }
  return current;
}

/** One pointer at or under the other: an error at either makes the value at the other unreliable. */
function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

// --- the vocabulary ------------------------------------------------------------------------

interface Context {
  config: unknown;
  /** Relative file paths in the config are relative to its directory. */
  configDir: string;
}

type Outcome =
  | { ok: true; unchecked?: string }
  /** `at` extends the rule's path to the part that failed; `found` replaces the value there. */
  | { ok: false; at?: string; found?: unknown };

interface Operator<T> {
  describe(operand: T, context: Context): string;
  check(value: unknown, operand: T, context: Context): Outcome;
  /** Pointers the operand names, besides the rule's own path. */
  reads?(operand: T): string[];
}

const show = (values: readonly Scalar[]) => values.map((v) => JSON.stringify(v)).join(', ');
const fileName = (entry: string) => entry.split(/[\\/]/).pop();
const ALERT_LINE = /^\s*(?:-\s+)?alert:\s*(["']?)([^"'\s#]+)\1\s*(?:#.*)?$/gm;

const OPERATORS: { [K in keyof Vocabulary]: Operator<Vocabulary[K]> } = {
  equals: {
    describe: (operand) => JSON.stringify(operand),
    check: (value, operand) => ({ ok: value === operand }),
  },
  oneOf: {
    describe: (operand) => (operand.length === 1 ? show(operand) : `one of ${show(operand)}`),
    check: (value, operand) => ({ ok: operand.includes(value as Scalar) }),
  },
  max: {
    describe: (operand) => `at most ${operand}`,
    check: (value, operand) => ({ ok: typeof value === 'number' && value <= operand }),
  },
  allIn: {
    describe: (operand) => `only entries from ${show(operand)}`,
    check: (value, operand) => ({ ok: Array.isArray(value) && value.every((entry) => operand.includes(entry as Scalar)) }),
  },
  containsFileNamed: {
    describe: (operand) => `an entry whose file name is ${operand}`,
    check: (value, operand) => ({ ok: Array.isArray(value) && value.some((entry) => typeof entry === 'string' && fileName(entry) === operand) }),
  },
  // The one operator that reads files: the rule files on this machine are the policy's
  // second input (in Rego, data beside the config), and one that is not here is not a finding.
  definesAlerts: {
    describe: ({ file, alerts }) => `a ${file} defining ${alerts.join(', ')}`,
    check: (value, { file, alerts }, { configDir }) => {
      if (!Array.isArray(value)) return { ok: true };
      const absent: string[] = [];
      for (const [index, entry] of value.entries()) {
        if (typeof entry !== 'string' || fileName(entry) !== file) continue;
        const resolved = path.resolve(configDir, entry);
        let text: string;
        try {
          text = readFileSync(resolved, 'utf8');
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'ENOTDIR') {
            absent.push(resolved);
            continue;
          }
          return { ok: false, at: `/${index}`, found: `${resolved} is unreadable (${code ?? (error as Error).message})` };
        }
        const defined = new Set([...text.matchAll(ALERT_LINE)].map((match) => match[2]));
        const lacking = alerts.filter((alert) => !defined.has(alert));
        if (lacking.length > 0) return { ok: false, at: `/${index}`, found: `${resolved} lacks ${lacking.join(', ')}` };
      }
      if (absent.length === 0) return { ok: true };
      return { ok: true, unchecked: `alerts not checked: ${absent.join(', ')} ${absent.length === 1 ? 'is' : 'are'} not on this machine` };
    },
  },
  byzantineQuorum: {
    // n is an integer: a rule is evaluated only when none of the values it reads has a schema finding.
    describe: ({ validators }, { config }) => {
      const n = valueAt(config, validators) as number;
      const least = Math.floor((2 * n) / 3) + 1;
      return `${least === n ? n : `from ${least} to ${n}`}: more than two thirds of the ${n} validators (${validators})`;
    },
    check: (value, { validators }, { config }) => {
      const n = valueAt(config, validators) as number;
      return { ok: Number.isInteger(value) && (value as number) > (2 * n) / 3 && (value as number) <= n };
    },
    reads: ({ validators }) => [validators],
  },
};

function operatorOf(requirement: Requirement): [Operator<unknown>, unknown] {
  const [name, operand] = Object.entries(requirement)[0]!;
  return [OPERATORS[name as keyof typeof OPERATORS] as Operator<unknown>, operand];
}

function evaluate(requirement: Requirement, pointer: string, context: Context): Outcome & { expected: string; value: unknown } {
  const [operator, operand] = operatorOf(requirement);
  const value = valueAt(context.config, pointer);
  return { ...operator.check(value, operand, context), expected: operator.describe(operand, context), value };
}

function pointersOf(rule: PolicyRule): string[] {
  const reads = (requirement: Requirement) => {
    const [operator, operand] = operatorOf(requirement);
    return operator.reads?.(operand) ?? [];
  };
  return [rule.path, ...reads(rule.requirement), ...(rule.when ? [rule.when.path, ...reads(rule.when.requirement)] : [])];
}

// --- loading -------------------------------------------------------------------------------

function readJson(file: string, what: string, code: PqcErrorCode): unknown {
  let text: string;
  try {
    // Stryker disable next-line StringLiteral: without an encoding readFileSync gives a Buffer, which JSON.parse reads through its toString(), UTF-8 as well
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PqcError(code, `cannot read ${what} ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PqcError(code, `${what} ${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

function createAjv() {
  // allErrors: every structural problem is a finding, not only the first one.
  return new Ajv2020({ allErrors: true, verbose: true, allowUnionTypes: true });
}

/** Whether the deployment schema has a property at `pointer` (through objects' properties and arrays' items). */
function schemaHas(schema: unknown, pointer: string): boolean {
  let current = schema as { properties?: Record<string, unknown>; items?: unknown };
  for (const segment of segments(pointer)) {
    if (current.properties && Object.hasOwn(current.properties, segment)) current = current.properties[segment] as typeof current;
    else if (current.items && /^(0|[1-9]\d*)$/.test(segment)) current = current.items as typeof current;
    else return false;
  }
  return true;
}

/**
 * The shipped policy, or `file`'s, checked against policy.schema.json and against the
 * deployment schema (every pointer must name a config key); ERR_PQC_INVALID_POLICY otherwise.
 */
export function loadPolicy(file: string = POLICY_FILES.policy): LoadedPolicy {
  const ajv = createAjv();
  const policy = readJson(file, 'the policy', 'ERR_PQC_INVALID_POLICY');
  const validatePolicy = ajv.compile(readJson(POLICY_FILES.policySchema, 'the policy schema', 'ERR_PQC_INVALID_POLICY') as object);
  if (!validatePolicy(policy)) {
    throw new PqcError('ERR_PQC_INVALID_POLICY', `the policy ${file} does not match policy.schema.json: ${ajv.errorsText(validatePolicy.errors)}`);
  }
  const deploymentSchema = readJson(POLICY_FILES.deploymentSchema, 'the deployment schema', 'ERR_PQC_INVALID_POLICY') as object;
  const { rules } = policy as DeploymentPolicy;
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const rule of rules) {
    if (seen.has(rule.id)) problems.push(`rule id ${rule.id} is used twice`);
    seen.add(rule.id);
    for (const pointer of pointersOf(rule)) {
      if (!schemaHas(deploymentSchema, pointer)) problems.push(`rule ${rule.id} names ${pointer}, which is not a key of the deployment config`);
    }
  }
  if (problems.length > 0) throw new PqcError('ERR_PQC_INVALID_POLICY', `the policy ${file} is inconsistent: ${problems.join('; ')}`);
  return { policy: policy as DeploymentPolicy, validateConfig: ajv.compile(deploymentSchema) };
}

/** A config file's contents; ERR_PQC_INVALID_CONFIGURATION saying whether it is unreadable or not JSON. */
export function readDeploymentConfig(file: string): unknown {
  return readJson(file, 'the config', 'ERR_PQC_INVALID_CONFIGURATION');
}

// --- checking ------------------------------------------------------------------------------

function schemaFinding(error: ErrorObject): PolicyFinding {
  const properties = (error.parentSchema as { properties?: Record<string, { description?: string }> } | undefined)?.properties ?? {};
  const at = error.instancePath;
  switch (error.keyword) {
    case 'required': {
      const key = (error.params as { missingProperty: string }).missingProperty;
      const about = properties[key]?.description;
      return { rule: 'schema', path: `${at}/${escapeSegment(key)}`, expected: 'a value (the key is required)', fix: `add ${JSON.stringify(key)}${about ? ` (${about})` : ''}` };
    }
    case 'additionalProperties': {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      return {
        rule: 'schema',
        path: `${at}/${escapeSegment(key)}`,
        expected: 'no such key',
        found: (error.data as Record<string, unknown> | undefined)?.[key],
        fix: `remove ${JSON.stringify(key)}; the keys here are ${Object.keys(properties).join(', ')}`,
      };
    }
    case 'enum': {
      const allowed = show((error.params as { allowedValues: Scalar[] }).allowedValues);
      return { rule: 'schema', path: at, expected: `one of ${allowed}`, found: error.data, fix: `use one of ${allowed}` };
    }
    case 'type': {
      const type = String((error.params as { type: string | string[] }).type);
      const article = /^[aeiou]/.test(type) ? 'an' : 'a';
      return { rule: 'schema', path: at, expected: `a value of type ${type}`, found: error.data, fix: `make ${at || 'the config'} ${article} ${type}` };
    }
    default:
      return { rule: 'schema', path: at, expected: `a value that ${error.message}`, found: error.data, fix: `change ${at || 'the config'}: it ${error.message}` };
  }
}

let shippedPolicy: LoadedPolicy | undefined;

/**
 * Every structural error of `config` (rule "schema"), then one finding per violated rule. A
 * rule whose values have a structural error is unchecked rather than judged on a value of the
 * wrong shape; a rule whose `when` does not hold does not apply. Without `policy`, the shipped
 * one, loaded and compiled on the first call only.
 */
export function checkDeployment(config: unknown, { configDir, policy = (shippedPolicy ??= loadPolicy()) }: { configDir: string; policy?: LoadedPolicy }): PolicyReport {
  const context: Context = { config, configDir };
  const findings = policy.validateConfig(config) ? [] : policy.validateConfig.errors!.map(schemaFinding);
  const unchecked: UncheckedRule[] = [];
  for (const rule of policy.policy.rules) {
    const broken = pointersOf(rule).find((pointer) => findings.some((finding) => overlaps(finding.path, pointer)));
    if (broken !== undefined) {
      unchecked.push({ rule: rule.id, path: rule.path, reason: `the config has a schema finding at ${broken || 'its root'}` });
      continue;
    }
    let condition = '';
    if (rule.when) {
      const applies = evaluate(rule.when.requirement, rule.when.path, context);
      if (!applies.ok) continue;
      condition = ` (while ${rule.when.path} is ${applies.expected})`;
    }
    const outcome = evaluate(rule.requirement, rule.path, context);
    if (outcome.ok) {
      if (outcome.unchecked) unchecked.push({ rule: rule.id, path: rule.path, reason: outcome.unchecked });
      continue;
    }
    findings.push({
      rule: rule.id,
      path: `${rule.path}${outcome.at ?? ''}`,
      expected: `${outcome.expected}${condition}`,
      found: 'found' in outcome ? outcome.found : outcome.value,
      fix: rule.fix,
    });
  }
  return { policy: policy.policy.id, rules: policy.policy.rules.length, compliant: findings.length === 0, findings, unchecked };
}

/** `policy check`'s text: a verdict, then each finding with its fix, then what went unchecked. */
export function formatPolicyReport(report: PolicyReport, configFile: string): string {
  const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  const where = (pointer: string) => pointer || '(the config)';
  const lines = [
    `policy   ${report.policy} (${count(report.rules, 'rule')})`,
    `config   ${configFile}`,
    `verdict  ${report.compliant ? 'COMPLIANT' : `NOT COMPLIANT (${count(report.findings.length, 'finding')})`}`,
  ];
  if (report.findings.length > 0) {
    lines.push('', 'findings:');
    for (const f of report.findings) {
      const found = f.found === undefined ? 'nothing' : JSON.stringify(f.found);
      lines.push(`  - ${f.rule} at ${where(f.path)}: expected ${f.expected}, found ${found}`, `    fix: ${f.fix}`);
    }
  }
  if (report.unchecked.length > 0) {
    lines.push('', 'unchecked:', ...report.unchecked.map((u) => `  - ${u.rule} at ${where(u.path)}: ${u.reason}`));
  }
  return lines.join('\n');
}
