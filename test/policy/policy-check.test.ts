import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { quorumThreshold } from '../../lib/control-plane/quorum.js';
import { IDENTITY_ALGORITHMS } from '../../lib/mesh/identity.js';
import { SUITE_NAMES, suiteByName } from '../../lib/mesh/suites.js';
import { MAX_FALLBACK_TTL_SECONDS, POLICY_VARIABLES } from '../../lib/policy/environment.js';
import {
  checkDeployment,
  formatPolicyReport,
  loadPolicy,
  POLICY_FILES,
  readDeploymentConfig,
  type PolicyFinding,
  type PolicyRule,
  type Requirement,
} from '../../lib/policy/policy-check.js';
import { expectCode } from '../support/errors.js';
import { runCli } from './support.js';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const EXAMPLE = path.join(root, 'policy', 'examples', 'production.json');
const RULES_FILE = path.join(root, 'prometheus', 'pqc.rules.yml');
const json = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as unknown;
const example = () => structuredClone(json(EXAMPLE)) as Record<string, any>;
const deploymentSchema = json(POLICY_FILES.deploymentSchema) as Record<string, any>;
const loaded = loadPolicy();
const { rules } = loaded.policy;

const scratch = mkdtempSync(path.join(tmpdir(), 'x0tta6bl4-pqc-policy-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let files = 0;
function scratchFile(name: string, text: string): string {
  const dir = path.join(scratch, String(files++));
  mkdirSync(dir);
  writeFileSync(path.join(dir, name), text);
  return path.join(dir, name);
}

const check = (config: unknown, configDir = path.dirname(EXAMPLE)) => checkDeployment(config, { configDir, policy: loaded });

function pointer(p: string): string[] {
  return p.split('/').slice(1);
}
function set(config: Record<string, any>, p: string, value: unknown) {
  const keys = pointer(p);
  const parent = keys.slice(0, -1).reduce((node, key) => node[key], config);
  parent[keys.at(-1)!] = value;
}
function get(config: Record<string, any>, p: string): any {
  return pointer(p).reduce((node, key) => node?.[key], config);
}
/** The deployment schema's subschema for a pointer: what values the config may hold there. */
function schemaAt(p: string): Record<string, any> {
  return pointer(p).reduce((node, key) => node.properties[key], deploymentSchema);
}

const alertsIn = (text: string) => [...text.matchAll(/^ {6}- alert: (\w+)$/gm)].map((m) => m[1]);

/**
 * For each operator of the vocabulary: how the test breaks a requirement at `p` in `config`,
 * and the finding that must result. Built from the requirement and the deployment schema, so
 * every rule of the policy gets its violation without a list of rules here.
 */
function violate(requirement: Requirement, p: string, config: Record<string, any>): { found: unknown; expected: string; at?: string } {
  const current = get(config, p);
  const [[name, operand]] = Object.entries(requirement) as [[string, any]];
  const outside = (allowed: unknown[], schema: Record<string, any>) => {
    const value = (schema.enum as unknown[] | undefined)?.find((candidate) => !allowed.includes(candidate));
    if (value === undefined) throw new Error(`the schema at ${p} allows nothing outside ${JSON.stringify(allowed)}`);
    return value;
  };
  const list = (values: unknown[]) => values.map((v) => JSON.stringify(v)).join(', ');
  switch (name) {
    case 'equals': {
      if (typeof operand !== 'boolean') throw new Error(`no violation for equals ${JSON.stringify(operand)}`);
      set(config, p, !operand);
      return { found: !operand, expected: JSON.stringify(operand) };
    }
    case 'oneOf': {
      const value = outside(operand, schemaAt(p));
      set(config, p, value);
      return { found: value, expected: operand.length === 1 ? list(operand) : `one of ${list(operand)}` };
    }
    case 'max': {
      expect(operand + 1).toBeLessThanOrEqual(schemaAt(p).maximum);
      set(config, p, operand + 1);
      return { found: operand + 1, expected: `at most ${operand}` };
    }
    case 'allIn': {
      const value = [...current, outside(operand, schemaAt(p).items)];
      set(config, p, value);
      return { found: value, expected: `only entries from ${list(operand)}` };
    }
    case 'containsFileNamed': {
      const value = (current as string[]).filter((entry) => path.basename(entry) !== operand);
      set(config, p, value);
      return { found: value, expected: `an entry whose file name is ${operand}` };
    }
    case 'definesAlerts': {
      // A real rule file with its last alert deleted.
      const last = operand.alerts.at(-1);
      const text = readFileSync(RULES_FILE, 'utf8').replace(new RegExp(`^ {6}- alert: ${last}\n(?: {8}.*\n|\n)*`, 'm'), '');
      expect(alertsIn(text)).toEqual(operand.alerts.slice(0, -1));
      const file = scratchFile(operand.file, text);
      set(config, p, [file]);
      return { found: `${file} lacks ${last}`, expected: `a ${operand.file} defining ${operand.alerts.join(', ')}`, at: '/0' };
    }
    case 'byzantineQuorum': {
      const n = get(config, operand.validators) as number;
      const least = Math.floor((2 * n) / 3) + 1;
      set(config, p, least - 1);
      return { found: least - 1, expected: `from ${least} to ${n}: more than two thirds of the ${n} validators (${operand.validators})` };
    }
    default:
      throw new Error(`the test has no violation for the operator ${name}: add one`);
  }
}

function expectedFinding(rule: PolicyRule, config: Record<string, any>): PolicyFinding {
  const { found, expected, at = '' } = violate(rule.requirement, rule.path, config);
  const when = rule.when ? ` (while ${rule.when.path} is ${violate(rule.when.requirement, rule.when.path, structuredClone(config)).expected})` : '';
  return { rule: rule.id, path: `${rule.path}${at}`, expected: `${expected}${when}`, found, fix: rule.fix };
}

describe('the policy files', () => {
  it('the policy validates against policy.schema.json', () => {
    const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true });
    const validate = ajv.compile(json(POLICY_FILES.policySchema) as object);
    expect(validate(json(POLICY_FILES.policy)), ajv.errorsText(validate.errors)).toBe(true);
    expect(rules.length).toBeGreaterThan(0);
  });

  it('the example config validates against deployment.schema.json and is compliant, its rule file checked', () => {
    const ajv = new Ajv2020({ allErrors: true });
    const validate = ajv.compile(deploymentSchema);
    expect(validate(json(EXAMPLE)), ajv.errorsText(validate.errors)).toBe(true);
    expect(check(example())).toEqual({ policy: 'x0tta6bl4-pqc/production', rules: rules.length, compliant: true, findings: [], unchecked: [] });
  });

  it('the config keys are the library’s: policy variables, TTL limit, suites, identity algorithms', () => {
    for (const key of Object.keys(POLICY_VARIABLES)) expect(deploymentSchema.required, key).toContain(key);
    expect(schemaAt('/fallbackTtlSeconds').maximum).toBe(MAX_FALLBACK_TTL_SECONDS);
    expect(schemaAt('/mesh/suites').items.enum).toEqual(SUITE_NAMES);
    expect(schemaAt('/mesh/identityAlgorithm').enum).toEqual(IDENTITY_ALGORITHMS);
  });

  it('the suites the policy allows are every post-quantum suite and no classical one', () => {
    const allowed = rules.flatMap((rule) => (rule.path === '/mesh/suites' && 'allIn' in rule.requirement ? rule.requirement.allIn : []));
    expect(allowed).toEqual(SUITE_NAMES.filter((name) => !suiteByName(name).classical));
  });

  it('the alerts the policy requires are those of prometheus/pqc.rules.yml', () => {
    const required = rules.flatMap((rule) => ('definesAlerts' in rule.requirement ? rule.requirement.definesAlerts.alerts : []));
    expect(required).toEqual(alertsIn(readFileSync(RULES_FILE, 'utf8')));
    expect(required).toHaveLength(6);
  });
});

describe('each rule, broken alone, is exactly one finding', () => {
  for (const rule of rules) {
    it(`${rule.id} (${rule.path})`, () => {
      const config = example();
      const finding = expectedFinding(rule, config);
      const report = check(config);
      expect(report.findings).toEqual([finding]);
      expect(report.compliant).toBe(false);
    });
  }

  for (const rule of rules.filter((candidate) => candidate.when)) {
    it(`${rule.id} does not apply while ${rule.when!.path} fails its condition`, () => {
      const config = example();
      violate(rule.requirement, rule.path, config);
      violate(rule.when!.requirement, rule.when!.path, config);
      expect(check(config).findings).toEqual([]);
    });
  }

  it('a quorum above the number of validators is a finding too', () => {
    const config = example();
    config.controlPlane.quorumThreshold = config.controlPlane.validators + 1;
    expect(check(config).findings.map((f) => [f.rule, f.found])).toEqual([['quorum', 5]]);
    for (const [n, t] of [[1, 1], [4, 3], [7, 5], [10, 7], [10, 10]]) {
      config.controlPlane = { validators: n, quorumThreshold: t };
      expect(check(config).compliant, `${t} of ${n}`).toBe(true);
    }
    config.controlPlane = { validators: 7, quorumThreshold: 4 };
    expect(check(config).findings[0]?.expected).toBe('from 5 to 7: more than two thirds of the 7 validators (/controlPlane/validators)');
  });

  it('the quorum the policy requires is the control plane’s quorumThreshold(n), up to n', () => {
    const config = example();
    for (let n = 1; n <= 64; n++) {
      const accepted = [];
      for (let t = 1; t <= n + 1; t++) {
        config.controlPlane = { validators: n, quorumThreshold: t };
        if (check(config).compliant) accepted.push(t);
      }
      expect(accepted, `n = ${n}`).toEqual(Array.from({ length: n - quorumThreshold(n) + 1 }, (_, i) => quorumThreshold(n) + i));
    }
  });

  it('the WebAssembly opt-in allows backend "wasm"', () => {
    expect(check({ ...example(), allowWasmPqc: true, backend: 'wasm' }).compliant).toBe(true);
  });
});

describe('rule files', () => {
  it('one that is not on this machine is unchecked, not a finding', () => {
    const config = example();
    config.prometheus.ruleFiles = ['/etc/prometheus/rules/pqc.rules.yml'];
    const report = check(config);
    expect(report.compliant).toBe(true);
    expect(report.unchecked).toEqual([
      { rule: 'alert-rules-complete', path: '/prometheus/ruleFiles', reason: 'alerts not checked: /etc/prometheus/rules/pqc.rules.yml is not on this machine' },
    ]);
  });

  it('a relative one is found from the config file’s directory', () => {
    const file = scratchFile('pqc.rules.yml', readFileSync(RULES_FILE, 'utf8'));
    const config = example();
    config.prometheus.ruleFiles = ['other.rules.yml', 'pqc.rules.yml'];
    expect(check(config, path.dirname(file))).toMatchObject({ compliant: true, unchecked: [] });
    expect(check(config, scratch).unchecked).toHaveLength(1);
  });

  it('one that cannot be read is a finding', () => {
    const dir = path.join(scratch, 'unreadable', 'pqc.rules.yml');
    mkdirSync(dir, { recursive: true });
    const config = example();
    config.prometheus.ruleFiles = [dir];
    expect(check(config).findings).toEqual([
      { rule: 'alert-rules-complete', path: '/prometheus/ruleFiles/0', expected: expect.stringContaining('defining'), found: `${dir} is unreadable (EISDIR)`, fix: expect.any(String) },
    ]);
  });
});

describe('structural errors are findings with rule id "schema"', () => {
  const schemaFindings = (config: unknown) => check(config).findings.filter((f) => f.rule === 'schema');

  it('a wrong type, an unknown key, a missing key, a value outside the enum or the range', () => {
    const config = example();
    config.allowMockPqc = 'false';
    config.mesh.suitez = [];
    delete config.controlPlane.validators;
    config.backend = 'mock';
    config.fallbackTtlSeconds = 0;
    const report = check(config);
    expect(report.findings).toEqual([
      { rule: 'schema', path: '/allowMockPqc', expected: 'a value of type boolean', found: 'false', fix: 'make /allowMockPqc a boolean' },
      { rule: 'schema', path: '/backend', expected: 'one of "native", "wasm", "auto"', found: 'mock', fix: 'use one of "native", "wasm", "auto"' },
      { rule: 'schema', path: '/fallbackTtlSeconds', expected: 'a value that must be > 0', found: 0, fix: 'change /fallbackTtlSeconds: it must be > 0' },
      { rule: 'schema', path: '/mesh/suitez', expected: 'no such key', found: [], fix: 'remove "suitez"; the keys here are suites, identityAlgorithm' },
      {
        rule: 'schema',
        path: '/controlPlane/validators',
        expected: 'a value (the key is required)',
        fix: 'add "validators" (n: the validators in the control plane\'s validator set)',
      },
    ]);
    // Each rule that reads a broken value is unchecked instead of judged; the others still run.
    expect(report.unchecked.map((u) => u.rule).sort()).toEqual(['fallback-ttl', 'native-backend', 'no-mock-pqc', 'quorum']);
    expect(report.compliant).toBe(false);
  });

  it('a TTL beyond what the variable accepts, duplicate suites, an empty suite list', () => {
    const config = example();
    config.fallbackTtlSeconds = MAX_FALLBACK_TTL_SECONDS + 1;
    config.mesh.suites = [];
    expect(schemaFindings(config).map((f) => [f.path, f.expected])).toEqual([
      ['/fallbackTtlSeconds', `a value that must be <= ${MAX_FALLBACK_TTL_SECONDS}`],
      ['/mesh/suites', 'a value that must NOT have fewer than 1 items'],
    ]);
    config.mesh.suites = ['XWING-MLDSA65', 'XWING-MLDSA65'];
    expect(schemaFindings(config).map((f) => f.path)).toContain('/mesh/suites');
  });

  it('a config that is not an object leaves every rule unchecked', () => {
    for (const config of [null, [], 'production', 42]) {
      const report = check(config);
      expect(report.findings).toEqual([{ rule: 'schema', path: '', expected: 'a value of type object', found: config, fix: 'make the config an object' }]);
      expect(report.unchecked).toHaveLength(rules.length);
    }
  });

  it('"__proto__" and "constructor" are unknown keys, not a way around the schema', () => {
    const config = JSON.parse(JSON.stringify(example()).replace('{', '{"__proto__": {"production": false}, "constructor": 1,')) as unknown;
    expect(schemaFindings(config).map((f) => f.path)).toEqual(['/__proto__', '/constructor']);
  });
});

/** A policy file: the shipped policy as `change` leaves it. */
function policyFile(change: (policy: Record<string, any>) => void): string {
  const policy = structuredClone(json(POLICY_FILES.policy)) as Record<string, any>;
  change(policy);
  return scratchFile('policy.json', JSON.stringify(policy));
}

describe('loading', () => {
  it('an invalid policy is ERR_PQC_INVALID_POLICY, saying what is wrong', () => {
    const cases: [(policy: Record<string, any>) => void, RegExp][] = [
      [(p) => (p.rules[0].requirement = { atLeast: 1 }), /does not match policy\.schema\.json/],
      [(p) => (p.rules[0].requirement = { equals: true, max: 3 }), /does not match policy\.schema\.json/],
      [(p) => (p.rules[0].id = 'schema'), /does not match policy\.schema\.json/],
      [(p) => (p.rules[0].path = 'production'), /does not match policy\.schema\.json/],
      [(p) => (p.rules[1].id = p.rules[0].id), /rule id production-mode is used twice/],
      [(p) => (p.rules[0].path = '/mesh/suite'), /rule production-mode names \/mesh\/suite, which is not a key of the deployment config/],
      [(p) => (p.rules.at(-1).requirement.byzantineQuorum.validators = '/validators'), /names \/validators, which is not a key/],
    ];
    for (const [change, message] of cases) {
      const error = expectCode(() => loadPolicy(policyFile(change)), 'ERR_PQC_INVALID_POLICY');
      expect(error.message).toMatch(message);
    }
    expect(expectCode(() => loadPolicy(scratchFile('policy.json', '{')), 'ERR_PQC_INVALID_POLICY').message).toMatch(/is not valid JSON/);
  });

  it('a config that cannot be read or is not JSON is ERR_PQC_INVALID_CONFIGURATION, saying which', () => {
    expect(expectCode(() => readDeploymentConfig(path.join(scratch, 'none.json')), 'ERR_PQC_INVALID_CONFIGURATION').message).toMatch(/^cannot read the config .*none\.json: ENOENT/);
    expect(expectCode(() => readDeploymentConfig(scratchFile('c.json', '{"production": tru}')), 'ERR_PQC_INVALID_CONFIGURATION').message).toMatch(/c\.json is not valid JSON: /);
  });
});

/** The `policy check` commands of README.md's Policy as code section, each with its output and the directory it runs in. */
function readmeExamples() {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Policy as code'), readme.indexOf('\n## ', readme.indexOf('### Policy as code')));
  const blocks = [...section.matchAll(/^```(json|console)\n([\s\S]*?)^```$/gm)].map(([, kind, body]) => ({ kind, body: body! }));
  return blocks.flatMap(({ kind, body }, index) => {
    if (kind !== 'console') return [];
    const [command, ...output] = body.split('\n');
    const args = /^\$ npx x0tta6bl4-pqc (policy check \S+)$/.exec(command!)![1]!.split(' ');
    // A config shown just above the command is the file it checks.
    const cwd = blocks[index - 1]?.kind === 'json' ? path.dirname(scratchFile(args[2]!, blocks[index - 1]!.body)) : root;
    return [{ command: command!, args, cwd, output: output.join('\n') }];
  });
}

describe('formatPolicyReport: the text of policy check', () => {
  it('is what README.md’s Policy as code section shows', () => {
    for (const { command, args, cwd, output } of readmeExamples()) {
      const file = args[2]!;
      const report = checkDeployment(readDeploymentConfig(path.resolve(cwd, file)), { configDir: path.dirname(path.resolve(cwd, file)), policy: loaded });
      expect(`${formatPolicyReport(report, file)}\n`, command).toBe(output);
    }
  });

  it('counts in the singular and plural, names the root "(the config)", and a missing value "nothing"', () => {
    const findings: PolicyFinding[] = [
      { rule: 'schema', path: '', expected: 'a value of type object', found: null, fix: 'make the config an object' },
      { rule: 'schema', path: '/a', expected: 'a value (the key is required)', fix: 'add "a"' },
    ];
    const unchecked = [
      { rule: 'r1', path: '', reason: 'the config has a schema finding at its root' },
      { rule: 'r2', path: '/b', reason: 'because' },
    ];
    expect(formatPolicyReport({ policy: 'p', rules: 1, compliant: false, findings, unchecked }, 'c.json').split('\n')).toEqual([
      'policy   p (1 rule)',
      'config   c.json',
      'verdict  NOT COMPLIANT (2 findings)',
      '',
      'findings:',
      '  - schema at (the config): expected a value of type object, found null',
      '    fix: make the config an object',
      '  - schema at /a: expected a value (the key is required), found nothing',
      '    fix: add "a"',
      '',
      'unchecked:',
      '  - r1 at (the config): the config has a schema finding at its root',
      '  - r2 at /b: because',
    ]);
    expect(formatPolicyReport({ policy: 'p', rules: 2, compliant: false, findings: findings.slice(1), unchecked: [] }, 'c.json')).toBe(
      'policy   p (2 rules)\nconfig   c.json\nverdict  NOT COMPLIANT (1 finding)\n\nfindings:\n  - schema at /a: expected a value (the key is required), found nothing\n    fix: add "a"',
    );
    expect(formatPolicyReport({ policy: 'p', rules: 0, compliant: true, findings: [], unchecked: unchecked.slice(1) }, 'c.json')).toBe(
      'policy   p (0 rules)\nconfig   c.json\nverdict  COMPLIANT\n\nunchecked:\n  - r2 at /b: because',
    );
  });
});

// Each case is a process of its own.
describe('x0tta6bl4-pqc policy check', { timeout: 60_000 }, () => {
  it('the example: exit 0, COMPLIANT; --json: the report', () => {
    const text = runCli(['policy', 'check', EXAMPLE], {});
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toBe(`policy   x0tta6bl4-pqc/production (${rules.length} rules)\nconfig   ${EXAMPLE}\nverdict  COMPLIANT\n`);
    const machine = runCli(['policy', 'check', '--json', EXAMPLE], {});
    expect(machine.status).toBe(0);
    expect(JSON.parse(machine.stdout)).toEqual({ config: EXAMPLE, policy: 'x0tta6bl4-pqc/production', rules: rules.length, compliant: true, findings: [], unchecked: [] });
  });

  it('a violation: exit 1, each finding with its fix; --json: the same findings', () => {
    const config = example();
    config.prometheus.ruleFiles = [RULES_FILE];
    const finding = expectedFinding(rules.find((rule) => rule.path === '/allowMockPqc')!, config);
    const file = scratchFile('config.json', JSON.stringify(config));
    const text = runCli(['policy', 'check', file], {});
    expect(text.status).toBe(1);
    expect(text.stdout).toContain(`verdict  NOT COMPLIANT (1 finding)\n\nfindings:\n  - ${finding.rule} at /allowMockPqc: expected false, found true\n    fix: ${finding.fix}\n`);
    const machine = runCli(['policy', 'check', file, '--json'], {});
    expect(machine.status).toBe(1);
    expect(JSON.parse(machine.stdout)).toMatchObject({ compliant: false, findings: [finding], unchecked: [] });
  });

  it('a file that cannot be read, or is not JSON: exit 2, saying which', () => {
    const missing = runCli(['policy', 'check', path.join(scratch, 'none.json')], {});
    expect([missing.status, missing.stdout]).toEqual([2, '']);
    expect(missing.stderr).toMatch(/^x0tta6bl4-pqc policy check: cannot read the config .*none\.json: ENOENT/);
    const broken = runCli(['policy', 'check', scratchFile('c.json', '{')], {});
    expect([broken.status, broken.stdout]).toEqual([2, '']);
    expect(broken.stderr).toMatch(/^x0tta6bl4-pqc policy check: the config .*c\.json is not valid JSON: /);
  });

  it('prints what README.md’s Policy as code section shows', () => {
    const examples = readmeExamples();
    for (const { command, args, cwd, output } of examples) {
      const { status, stdout } = runCli(args, {}, cwd);
      expect(stdout, command).toBe(output);
      expect(status).toBe(stdout.includes('verdict  COMPLIANT') ? 0 : 1);
    }
    expect(examples).toHaveLength(2);
  });

  it('usage errors: exit 2 with the usage', () => {
    for (const [args, message] of [
      [['policy', 'check'], 'policy check needs <config.json>'],
      [['policy', 'check', 'a.json', 'b.json'], 'policy check takes only <config.json>, got "b.json"'],
      [['policy', 'check', 'a.json', '--verbose'], 'policy check takes only --json, got "--verbose"'],
      [['policy'], 'unknown command "policy"; the commands are selftest, doctor, policy check, mesh-demo, bench, help'],
      [['policy', 'lint'], 'unknown command "policy lint"; the commands are selftest, doctor, policy check, mesh-demo, bench, help'],
    ] as const) {
      const { status, stdout, stderr } = runCli([...args], {});
      expect(status, args.join(' ')).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.split('\n')[0]).toBe(`x0tta6bl4-pqc: ${message}`);
      expect(stderr).toContain('x0tta6bl4-pqc policy check <config.json> [--json]');
    }
  });
});

const anyConfig = new Ajv2020({ verbose: true }).compile({});
/** A policy of `ruleList` alone, over configs `validateConfig` accepts (by default every value): the vocabulary on its own. */
function checkWith(config: unknown, ruleList: { path: string; requirement: Requirement }[], validateConfig = anyConfig) {
  const policy = { id: 'test', description: 'test', rules: ruleList.map((rule, i) => ({ id: `rule-${i}`, description: 'test', fix: 'fix it', ...rule })) };
  return checkDeployment(config, { configDir: scratch, policy: { policy, validateConfig } });
}

describe('JSON pointers into the config (RFC 6901)', () => {
  const NEVER = 'a value no config here holds';
  /** What a rule at `p` reads: `equals` never holds, so its finding shows the value. */
  const at = (config: unknown, p: string) => {
    const { findings } = checkWith(config, [{ path: p, requirement: { equals: NEVER } }]);
    expect(findings, p).toHaveLength(1);
    return findings[0]!.found;
  };

  it('"" is the whole config; "~1" and "~0" are "/" and "~", decoded in that order', () => {
    const config = { 'a/b': 1, 'a~b': 2, '~1': 3, ab: 4, a: { b: 5 } };
    expect(at(config, '')).toBe(config);
    expect([at(config, '/a~1b'), at(config, '/a~0b'), at(config, '/~01'), at(config, '/a/b')]).toEqual([1, 2, 3, 5]);
  });

  it('an array entry by its index, written without leading zeros, within the array', () => {
    const list = ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9', 'e10', 'e11', 'e12'];
    const config = { list, nested: [['x', 'y']] };
    expect([at(config, '/list/0'), at(config, '/list/1'), at(config, '/list/12'), at(config, '/nested/0/1')]).toEqual(['e0', 'e1', 'e12', 'y']);
    for (const p of ['/list/01', '/list/00', '/list/0x1', '/list/1e1', '/list/-', '/list/13', '/list/length', '/list/x1']) expect(at(config, p), p).toBe(undefined);
  });

  it('an index past the end finds nothing even when Array.prototype has one (a polluted prototype)', () => {
    const config = { list: ['e0'] };
    const read = (p: string) => checkWith(config, [{ path: p, requirement: { equals: NEVER } }]).findings[0]?.found;
    // Index 1 is the array's length: the first index past its end.
    Object.defineProperty(Array.prototype, '1', { value: 'polluted', configurable: true, writable: true });
    try {
      expect(read('/list/1')).toBe(undefined);
    } finally {
      delete (Array.prototype as unknown as Record<string, unknown>)['1'];
    }
  });

  it('own keys of objects only: nothing in strings, null, numbers, prototypes or missing keys', () => {
    const config = { s: 'abc', n: null, k: 7, o: {} };
    for (const p of ['/s/0', '/s/length', '/n/x', '/n/0', '/k/x', '/o/toString', '/constructor', '/__proto__', '/missing', '/missing/deeper']) {
      expect(at(config, p), p).toBe(undefined);
    }
  });
});

describe('the vocabulary, operator by operator', () => {
  const holds = (value: unknown, requirement: Requirement) => checkWith({ value }, [{ path: '/value', requirement }]).compliant;

  it('max: a number at most the operand, nothing else', () => {
    expect([5, 10, -1].map((v) => holds(v, { max: 10 }))).toEqual([true, true, true]);
    expect([11, '5', null, true, false, [5]].map((v) => holds(v, { max: 10 }))).toEqual([false, false, false, false, false, false]);
  });

  it('containsFileNamed: some string entry whose last path segment, with / or \\, is the name', () => {
    const contains = (value: unknown) => holds(value, { containsFileNamed: 'pqc.rules.yml' });
    expect([['a/pqc.rules.yml'], ['pqc.rules.yml'], ['C:\\prom\\pqc.rules.yml'], [42, 'x/pqc.rules.yml']].map(contains)).toEqual([true, true, true, true]);
    expect([[], ['other.rules.yml'], ['pqc.rules.yml/x'], [42], 'pqc.rules.yml'].map(contains)).toEqual([false, false, false, false, false]);
  });

  it('definesAlerts: entries that are not strings, or a value that is not a list, name no rule file', () => {
    const rulesFile = scratchFile('pqc.rules.yml', readFileSync(RULES_FILE, 'utf8'));
    const definesAlerts = { file: 'pqc.rules.yml', alerts: ['PQCFallbackEnabled'] };
    expect(checkWith({ value: [42, null, rulesFile] }, [{ path: '/value', requirement: { definesAlerts } }])).toMatchObject({ compliant: true, unchecked: [] });
    for (const value of ['pqc.rules.yml', { 0: rulesFile }, null]) {
      expect(checkWith({ value }, [{ path: '/value', requirement: { definesAlerts } }]), JSON.stringify(value)).toMatchObject({ compliant: true, unchecked: [] });
    }
  });

  it('byzantineQuorum: with one allowed value the expectation is that value', () => {
    const config = example();
    config.controlPlane = { validators: 1, quorumThreshold: 2 };
    expect(check(config).findings).toMatchObject([{ rule: 'quorum', expected: '1: more than two thirds of the 1 validators (/controlPlane/validators)', found: 2 }]);
    config.controlPlane = { validators: 2, quorumThreshold: 1 };
    expect(check(config).findings).toMatchObject([{ rule: 'quorum', expected: '2: more than two thirds of the 2 validators (/controlPlane/validators)', found: 1 }]);
  });
});

describe('rule files, further', () => {
  const alertRule = rules.find((rule) => 'definesAlerts' in rule.requirement)!;
  const required = (alertRule.requirement as { definesAlerts: { alerts: string[] } }).definesAlerts.alerts;

  it('a path through a regular file (ENOTDIR) is not on this machine either', () => {
    const file = `${scratchFile('plain.txt', 'not a directory')}/pqc.rules.yml`;
    const config = example();
    config.prometheus.ruleFiles = [file];
    expect(check(config)).toMatchObject({
      compliant: true,
      unchecked: [{ rule: alertRule.id, path: '/prometheus/ruleFiles', reason: `alerts not checked: ${file} is not on this machine` }],
    });
  });

  it('two that are not here are listed in one reason', () => {
    const config = example();
    config.prometheus.ruleFiles = ['/nonexistent/a/pqc.rules.yml', '/nonexistent/b/pqc.rules.yml'];
    expect(check(config).unchecked).toEqual([
      { rule: alertRule.id, path: '/prometheus/ruleFiles', reason: 'alerts not checked: /nonexistent/a/pqc.rules.yml, /nonexistent/b/pqc.rules.yml are not on this machine' },
    ]);
  });

  it('one that defines none of the alerts lacks them all, listed', () => {
    const file = scratchFile('pqc.rules.yml', 'groups: []\n');
    const config = example();
    config.prometheus.ruleFiles = [file];
    expect(check(config).findings).toEqual([
      { rule: alertRule.id, path: '/prometheus/ruleFiles/0', expected: `a pqc.rules.yml defining ${required.join(', ')}`, found: `${file} lacks ${required.join(', ')}`, fix: alertRule.fix },
    ]);
  });

  it('one named otherwise does not satisfy the alert-rules rule', () => {
    const config = example();
    config.prometheus.ruleFiles = ['/etc/prometheus/other.rules.yml'];
    expect(check(config).findings.map((f) => f.rule)).toEqual(['alert-rules']);
  });
});

describe('a value with a schema finding leaves the rules reading it unchecked, saying where', () => {
  it('a finding under the rule’s path', () => {
    const config = example();
    config.mesh.suites = ['XWING-MLDSA65', 'NOT-A-SUITE'];
    const report = check(config);
    expect(report.findings.map((f) => f.path)).toEqual(['/mesh/suites/1']);
    expect(report.unchecked).toEqual([{ rule: 'hybrid-suites', path: '/mesh/suites', reason: 'the config has a schema finding at /mesh/suites' }]);
  });

  it('a finding at the path of the rule’s condition', () => {
    const config = example();
    config.allowWasmPqc = 'no';
    expect(check(config).unchecked).toEqual([{ rule: 'native-backend', path: '/backend', reason: 'the config has a schema finding at /allowWasmPqc' }]);
  });

  it('a finding at the root, for a rule on the whole config', () => {
    const report = checkWith(42, [{ path: '', requirement: { equals: 42 } }], new Ajv2020({ verbose: true }).compile({ type: 'object' }));
    expect(report.unchecked).toEqual([{ rule: 'rule-0', path: '', reason: 'the config has a schema finding at its root' }]);
  });
});

describe('schema findings, further', () => {
  const verbose = new Ajv2020({ allErrors: true, verbose: true });

  it('a key with "/" or "~" is escaped in the finding’s path', () => {
    const config = { ...example(), 'a/b~c': 1 };
    expect(check(config).findings).toMatchObject([{ rule: 'schema', path: '/a~1b~0c', expected: 'no such key', found: 1 }]);
  });

  it('a required key the schema does not describe: the fix only names it', () => {
    const validate = verbose.compile({ type: 'object', required: ['x'] });
    expect(checkWith({}, [], validate).findings).toEqual([{ rule: 'schema', path: '/x', expected: 'a value (the key is required)', fix: 'add "x"' }]);
  });

  it('any other keyword at the root names the config', () => {
    const validate = verbose.compile({ type: 'object', minProperties: 1 });
    expect(checkWith({}, [], validate).findings).toEqual([
      { rule: 'schema', path: '', expected: 'a value that must NOT have fewer than 1 properties', found: {}, fix: 'change the config: it must NOT have fewer than 1 properties' },
    ]);
  });

  it('a validator compiled without verbose (a LoadedPolicy of the caller’s own) still gives each finding', () => {
    const validate = new Ajv2020({ allErrors: true }).compile({ type: 'object', required: ['x'], properties: { x: {} }, additionalProperties: false });
    expect(checkWith({ y: 1 }, [], validate).findings).toEqual([
      { rule: 'schema', path: '/x', expected: 'a value (the key is required)', fix: 'add "x"' },
      { rule: 'schema', path: '/y', expected: 'no such key', fix: 'remove "y"; the keys here are ' },
    ]);
  });

  it('the shipped policy, loaded by default, reports every structural error with its data', () => {
    const config = example();
    config.allowMockPqc = 'false';
    delete config.controlPlane.validators;
    config.backend = 'mock';
    const report = checkDeployment(config, { configDir: path.dirname(EXAMPLE) });
    expect(report).toEqual(check(config));
    expect(report.findings.map((f) => [f.path, f.found, f.fix])).toEqual([
      ['/allowMockPqc', 'false', 'make /allowMockPqc a boolean'],
      ['/backend', 'mock', 'use one of "native", "wasm", "auto"'],
      ['/controlPlane/validators', undefined, 'add "validators" (n: the validators in the control plane\'s validator set)'],
    ]);
  });

  it('the shipped policy is compiled once, not on every check', () => {
    checkDeployment(example(), { configDir: path.dirname(EXAMPLE) });
    const compile = vi.spyOn(Ajv2020.prototype, 'compile');
    try {
      const config = example();
      config.backend = 'mock';
      expect(checkDeployment(config, { configDir: path.dirname(EXAMPLE) }).findings.map((f) => f.path)).toEqual(['/backend']);
      expect(compile).not.toHaveBeenCalled();
    } finally {
      compile.mockRestore();
    }
  });
});

describe('loading, further', () => {
  it('the shipped policy loads as it is written', () => {
    expect(loadPolicy().policy).toEqual(json(POLICY_FILES.policy));
  });

  it('loads without a warning from ajv (the policy schema uses union types on purpose)', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      loadPolicy();
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('a pointer may pass through a list by index; the index must be canonical and the value a list', () => {
    const good = ['/mesh/suites/0', '/mesh/suites/123'];
    const bad = ['/mesh/suites/x0', '/mesh/suites/0x', '/mesh/suites/01', '/mesh/suites/first', '/allowMockPqc/0'];
    const usePaths = (paths: string[]) => policyFile((policy) => paths.forEach((p, i) => (policy.rules[i].path = p)));
    expect(loadPolicy(usePaths(good)).policy.rules.slice(0, 2).map((rule) => rule.path)).toEqual(good);
    const { message } = expectCode(() => loadPolicy(usePaths(bad)), 'ERR_PQC_INVALID_POLICY');
    expect(message.split('; ')).toEqual(bad.map((p, i) => expect.stringContaining(`rule ${rules[i]!.id} names ${p}, which is not a key`)));
  });

  it('a condition’s path must be a key too; every problem is named, joined by "; "', () => {
    const file = policyFile((policy) => {
      policy.rules[0].path = '/nope';
      policy.rules.find((rule: PolicyRule) => rule.when).when.path = '/nowhere';
    });
    const withCondition = rules.find((rule) => rule.when)!;
    expect(expectCode(() => loadPolicy(file), 'ERR_PQC_INVALID_POLICY').message).toBe(
      `the policy ${file} is inconsistent: rule ${rules[0]!.id} names /nope, which is not a key of the deployment config; ` +
        `rule ${withCondition.id} names /nowhere, which is not a key of the deployment config`,
    );
  });

  it('a policy that cannot be read or is not JSON: the message says which, with the cause', () => {
    const missing = path.join(scratch, 'no-policy.json');
    const unread = expectCode(() => loadPolicy(missing), 'ERR_PQC_INVALID_POLICY');
    expect(unread.message).toMatch(new RegExp(`^cannot read the policy ${missing}: ENOENT`));
    expect(unread.cause).toMatchObject({ code: 'ENOENT' });
    const broken = scratchFile('policy.json', '{');
    const invalid = expectCode(() => loadPolicy(broken), 'ERR_PQC_INVALID_POLICY');
    expect(invalid.message).toMatch(new RegExp(`^the policy ${broken} is not valid JSON: `));
    expect(invalid.cause).toBeInstanceOf(SyntaxError);
  });
});
