#!/usr/bin/env node
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PqcError } from './errors.js';
import { Kem } from './kem.js';
import { createJsonLogger } from './logger.js';
import { diagnose, formatDiagnosis } from './policy/doctor.js';
import { REQUIRED_ALGORITHMS } from './policy/readiness.js';
import { startup } from './policy/startup.js';
import { Sig } from './sig.js';
import { MESH_DEMO_USAGE, meshDemoCommand, UsageError } from './demo/mesh-demo-command.js';
import { suiteSupport } from './mesh/suites.js';

const USAGE = `usage: x0tta6bl4-pqc [selftest]
       x0tta6bl4-pqc doctor [--json]
       x0tta6bl4-pqc help | --help | -h | --version

  selftest  (the default) start up as a service does, then an ${REQUIRED_ALGORITHMS.kem} and
            an ${REQUIRED_ALGORITHMS.sig} round trip; exit 1 on any failure
  doctor    the backend, liboqs, algorithms, capabilities, production policy and a verdict;
            exit 1 when the node is not ready
            --json: one JSON object with backend, liboqs, production, ready, problems, ...
  mesh-demo a local mesh of nodes with real handshakes, serving /metrics (mesh-demo --help)
  help      this text; --version prints the package's version`;

/** Each command and the options it takes; --help and --version go with any. mesh-demo parses its own. */
const COMMANDS: Record<string, readonly string[]> = { selftest: [], doctor: ['--json'], 'mesh-demo': [], help: [] };

interface Invocation {
  command: string;
  json: boolean;
}

// parseArgs only splits the line (strict: false): its own errors name none of our commands and
// suggest `--` for what is almost always a typo.
function parse(args: string[]): Invocation {
  const { tokens } = parseArgs({ args, strict: false, allowPositionals: true, tokens: true, options: { help: { type: 'boolean', short: 'h' } } });
  const options = tokens.filter((token) => token.kind === 'option');
  const positionals = tokens.filter((token) => token.kind === 'positional').map((token) => token.value);
  const [command = 'selftest', ...extra] = positionals;
  if (command === 'help' || options.some((option) => option.name === 'help')) return { command: 'help', json: false };
  if (options.some((option) => option.name === 'version')) return { command: 'version', json: false };
  if (!Object.hasOwn(COMMANDS, command)) {
    throw new UsageError(`unknown command ${JSON.stringify(command)}; the commands are ${Object.keys(COMMANDS).join(', ')}`);
  }
  if (extra.length > 0) throw new UsageError(`${command} takes no arguments, got ${JSON.stringify(extra[0])}`);
  const taken = COMMANDS[command];
  const label = positionals.length > 0 ? command : `${command} (the default command)`;
  for (const option of options) {
    if (!taken.includes(option.rawName)) {
      const takes = taken.length > 0 ? `takes only ${taken.join(', ')}` : 'takes no options';
      throw new UsageError(`${label} ${takes}, got ${JSON.stringify(option.rawName)}`);
    }
    if (option.inlineValue) throw new UsageError(`${option.rawName} takes no value, got ${JSON.stringify(`${option.rawName}=${option.value}`)}`);
  }
  return { command, json: options.some((option) => option.name === 'json') };
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

async function main(args: string[]): Promise<number> {
  if (args[0] === 'mesh-demo') {
    try {
      return await meshDemoCommand(args.slice(1));
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      console.error(`x0tta6bl4-pqc mesh-demo: ${error.message}\n\n${MESH_DEMO_USAGE}`);
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
