#!/usr/bin/env node
import { timingSafeEqual } from 'node:crypto';
import { parseArgs } from 'node:util';
import { PqcError } from './errors.js';
import { Kem } from './kem.js';
import { createJsonLogger } from './logger.js';
import { diagnose, formatDiagnosis } from './policy/doctor.js';
import { REQUIRED_ALGORITHMS } from './policy/readiness.js';
import { startup } from './policy/startup.js';
import { Sig } from './sig.js';
import { MESH_DEMO_USAGE, meshDemoCommand, UsageError } from './demo/mesh-demo-command.js';

const USAGE = `usage: x0tta6bl4-pqc [selftest]
       x0tta6bl4-pqc doctor [--json]

  selftest  (the default) start up as a service does, then an ${REQUIRED_ALGORITHMS.kem} and
            an ${REQUIRED_ALGORITHMS.sig} round trip; exit 1 on any failure
  doctor    the backend, liboqs, algorithms, capabilities, production policy and a verdict;
            exit 1 when the node is not ready
            --json: one JSON object with backend, liboqs, production, ready, problems, ...
  mesh-demo a local mesh of nodes with real handshakes, serving /metrics (mesh-demo --help)`;

async function selftest(): Promise<number> {
  // The report below says what the info line would; warnings and worse still go to stderr.
  const { backend } = await startup({ logger: createJsonLogger({ level: 'warn' }) });
  const liboqs = backend.liboqs ? `liboqs ${backend.liboqs.version} (${backend.liboqs.path})` : `${backend.wasm?.package} ${backend.wasm?.version}`;
  console.log(`backend  ${backend.backend}, ${liboqs}`);

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
      console.error(`x0tta6bl4-pqc mesh-demo: ${error.message}\n${MESH_DEMO_USAGE}`);
      return 2;
    }
  }
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [command = 'selftest', ...extra] = positionals;
  if (command === 'doctor' && extra.length === 0) {
    const diagnosis = diagnose();
    console.log(values.json ? JSON.stringify(diagnosis, null, 2) : formatDiagnosis(diagnosis));
    return diagnosis.ready ? 0 : 1;
  }
  if (command === 'selftest' && extra.length === 0 && !values.json) return selftest();
  console.error(USAGE);
  return 2;
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
