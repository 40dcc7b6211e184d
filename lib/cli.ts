#!/usr/bin/env node
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PqcError } from './errors.js';
import { Kem } from './kem.js';
import { createJsonLogger } from './logger.js';
import { diagnose, formatDiagnosis } from './policy/doctor.js';
import { checkDeployment, formatPolicyReport, readDeploymentConfig } from './policy/policy-check.js';
import { REQUIRED_ALGORITHMS } from './policy/readiness.js';
import { startup } from './policy/startup.js';
import { Sig } from './sig.js';
import { BENCH_USAGE, benchCommand } from './bench/bench-command.js';
import { UsageError } from './command-options.js';
import { MESH_DEMO_USAGE, meshDemoCommand } from './demo/mesh-demo-command.js';
import { suiteSupport } from './mesh/suites.js';

const USAGE = `usage: x0tta6bl4-pqc [selftest]
       x0tta6bl4-pqc doctor [--json]
       x0tta6bl4-pqc policy check <config.json> [--json]
       x0tta6bl4-pqc help | --help | -h | --version

  selftest  (the default) start up as a service does, then an ${REQUIRED_ALGORITHMS.kem} and
            an ${REQUIRED_ALGORITHMS.sig} round trip; exit 1 on any failure
  doctor    the backend, liboqs, algorithms, capabilities, production policy and a verdict;
            exit 1 when the node is not ready
            --json: one JSON object with backend, liboqs, production, ready, problems, ...
  policy check <config.json>
            a deployment config against the production policy (policy/production.policy.json),
            one finding per violated rule; exit 0 compliant, 1 not, 2 unreadable or not JSON
            --json: one JSON object with config, policy, compliant, findings, unchecked
  mesh-demo a local mesh of nodes with real handshakes, serving /metrics (mesh-demo --help)
  bench     the package's speed on this machine, with ratios (bench --help)
  help      this text; --version prints the package's version`;

/**
 * Each command, the options it takes and the operands it needs; --help and --version go with
 * any. A two-word command (`policy check`) is matched on the first two words. mesh-demo and
 * bench parse their own.
 */
const COMMANDS: Record<string, { options: readonly string[]; operands: readonly string[] }> = {
  selftest: { options: [], operands: [] },
  doctor: { options: ['--json'], operands: [] },
  'policy check': { options: ['--json'], operands: ['<config.json>'] },
  'mesh-demo': { options: [], operands: [] },
  bench: { options: [], operands: [] },
  help: { options: [], operands: [] },
};

interface Invocation {
  command: string;
  json: boolean;
  operands: string[];
}

// parseArgs only splits the line (strict: false): its own errors name none of our commands and
// suggest `--` for what is almost always a typo.
function parse(args: string[]): Invocation {
  const { tokens } = parseArgs({ args, strict: false, allowPositionals: true, tokens: true, options: { help: { type: 'boolean', short: 'h' } } });
  const options = tokens.filter((token) => token.kind === 'option');
  const positionals = tokens.filter((token) => token.kind === 'positional').map((token) => token.value);
  const [first = 'selftest'] = positionals;
  if (first === 'help' || options.some((option) => option.name === 'help')) return { command: 'help', json: false, operands: [] };
  if (options.some((option) => option.name === 'version')) return { command: 'version', json: false, operands: [] };
  const words = Object.keys(COMMANDS).some((name) => name.startsWith(`${first} `)) ? 2 : 1;
  const command = positionals.slice(0, words).join(' ') || first;
  if (!Object.hasOwn(COMMANDS, command)) {
    throw new UsageError(`unknown command ${JSON.stringify(command)}; the commands are ${Object.keys(COMMANDS).join(', ')}`);
  }
  const { options: taken, operands: wanted } = COMMANDS[command];
  const operands = positionals.slice(words);
  if (operands.length < wanted.length) throw new UsageError(`${command} needs ${wanted.slice(operands.length).join(' ')}`);
  if (operands.length > wanted.length) {
    const takes = wanted.length > 0 ? `takes only ${wanted.join(' ')}` : 'takes no arguments';
    throw new UsageError(`${command} ${takes}, got ${JSON.stringify(operands[wanted.length])}`);
  }
  const label = positionals.length > 0 ? command : `${command} (the default command)`;
  for (const option of options) {
    if (!taken.includes(option.rawName)) {
      const takes = taken.length > 0 ? `takes only ${taken.join(', ')}` : 'takes no options';
      throw new UsageError(`${label} ${takes}, got ${JSON.stringify(option.rawName)}`);
    }
    if (option.inlineValue) throw new UsageError(`${option.rawName} takes no value, got ${JSON.stringify(`${option.rawName}=${option.value}`)}`);
  }
  return { command, json: options.some((option) => option.name === 'json'), operands };
}

async function selftest(): Promise<number> {
  // The report below says what the info line would; warnings and worse still go to stderr.
  const { backend, serving } = await startup({ logger: createJsonLogger({ level: 'warn' }) });
  const liboqs = backend.liboqs ? `liboqs ${backend.liboqs.version} (${backend.liboqs.path})` : `${backend.wasm?.package} ${backend.wasm?.version}`;
  console.log(`backend  ${serving}${serving === 'none' ? ' (PQC calls are refused)' : `, ${liboqs}`}`);

  const kem = new Kem(REQUIRED_ALGORITHMS.kem);
  const pair = kem.generateKeyPair();
  const { ciphertext, sharedSecret } = kem.encapsulate(pair.publicKey);
  const kemOk = timingSafeEqual(kem.decapsulate(ciphertext, pair.secretKey), sharedSecret);
  console.log(`${kem.name}  ${kemOk ? 'ok' : 'FAILED: the decapsulated secret differs'}`);

  const sig = new Sig(REQUIRED_ALGORITHMS.sig);
  const keys = sig.generateKeyPair();
  const message = new TextEncoder().encode('x0tta6bl4-pqc selftest');
  const signature = sig.sign(message, keys.secretKey);
  const tampered = message.slice();
  tampered[0]! ^= 1;
  const sigOk = sig.verify(message, signature, keys.publicKey) && !sig.verify(tampered, signature, keys.publicKey);
  console.log(`${sig.name}  ${sigOk ? 'ok' : 'FAILED: a signature did not verify, or a tampered message did'}`);
  return kemOk && sigOk ? 0 : 1;
}

function policyCheck(file: string, json: boolean): number {
  let config;
  try {
    config = readDeploymentConfig(file);
  } catch (error) {
    // Not a verdict on the config (exit 1 is): there is no config to judge.
    if (!(error instanceof PqcError)) throw error;
    console.error(`x0tta6bl4-pqc policy check: ${error.message}`);
    return 2;
  }
  const report = checkDeployment(config, { configDir: path.dirname(path.resolve(file)) });
  console.log(json ? JSON.stringify({ config: file, ...report }, null, 2) : formatPolicyReport(report, file));
  return report.compliant ? 0 : 1;
}

/** The commands that parse their own options, each with its usage. */
const OWN_PARSERS: Record<string, { run: (args: string[]) => Promise<number>; usage: string }> = {
  'mesh-demo': { run: meshDemoCommand, usage: MESH_DEMO_USAGE },
  bench: { run: benchCommand, usage: BENCH_USAGE },
};

async function main(args: string[]): Promise<number> {
  const own = args[0] !== undefined && Object.hasOwn(OWN_PARSERS, args[0]) ? OWN_PARSERS[args[0]]! : undefined;
  if (own) {
    try {
      return await own.run(args.slice(1));
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      console.error(`x0tta6bl4-pqc ${args[0]}: ${error.message}\n\n${own.usage}`);
      return 2;
    }
  }
  let invocation;
  try {
    invocation = parse(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`x0tta6bl4-pqc: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  switch (invocation.command) {
    case 'help':
      console.log(USAGE);
      return 0;
    case 'version':
      console.log((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version);
      return 0;
    case 'doctor': {
      const diagnosis = diagnose();
      const meshSuites = suiteSupport(diagnosis);
      const shown = meshSuites.map((s) => `${s.name}: ${s.initiate ? 'yes' : s.respond ? 'respond only' : 'no'}${s.note ? ` (${s.note})` : ''}`);
      console.log(invocation.json ? JSON.stringify({ ...diagnosis, meshSuites }, null, 2) : formatDiagnosis(diagnosis, [['mesh suites', shown.join('; ')]]));
      return diagnosis.ready ? 0 : 1;
    }
    case 'policy check':
      return policyCheck(invocation.operands[0]!, invocation.json);
    default:
      return selftest();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const { code, message } = PqcError.from(error);
    console.error(`x0tta6bl4-pqc: ${code}: ${message}`);
    process.exitCode = 1;
  },
);
