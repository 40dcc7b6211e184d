import type { Info as BackendInfo } from '../backend.js';
import type { PqcErrorCode } from '../errors.js';
import type { Policy } from './environment.js';

/** What a node needs from liboqs: the algorithms the self-test and the mesh layer use. */
export const REQUIRED_ALGORITHMS = { kem: 'ML-KEM-768', sig: 'ML-DSA-65' } as const;

export interface Problem {
  code: PqcErrorCode;
  /** What is wrong and how to fix it. */
  message: string;
}

export interface Readiness {
  /** Each one stops start-up (unless fallback is forced or configured) and fails doctor. */
  problems: Problem[];
  /** Worth an operator's attention; not fatal. */
  warnings: string[];
  /** Production runs on the WebAssembly liboqs by X0TTA6BL4_ALLOW_WASM_PQC. */
  wasmInProduction: boolean;
}

/** Judges the selected backend against the policy; shared by start-up and doctor. */
export function assessBackend(policy: Policy, backend: BackendInfo): Readiness {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  let wasmInProduction = false;
  // In production every problem is the one fail-closed error; elsewhere each keeps its own code.
  const codeFor = (code: PqcErrorCode): PqcErrorCode => (policy.production ? 'ERR_PQC_PRODUCTION_REQUIRES_LIBOQS' : code);

  if (backend.backend === 'none') {
    const { code, message } = backend.nativeUnavailable!;
    problems.push({ code: codeFor(code), message: `no liboqs backend could be loaded: ${message}` });
    return { problems, warnings, wasmInProduction };
  }
  if (backend.backend === 'wasm') {
    const why = backend.nativeUnavailable
      ? backend.nativeUnavailable.message
      : 'X0TTA6BL4_PQC_BACKEND=wasm selects it; unset that variable to use the native liboqs';
    if (policy.production && !policy.allowWasmPqc) {
      problems.push({
        code: 'ERR_PQC_PRODUCTION_REQUIRES_LIBOQS',
        message:
          `production mode (X0TTA6BL4_PRODUCTION=true) requires the native liboqs backend, which is not in use: ${why}\n` +
          'To run production on the WebAssembly liboqs instead (several times slower), set X0TTA6BL4_ALLOW_WASM_PQC=true.',
      });
    } else if (policy.production) {
      wasmInProduction = true;
      warnings.push(
        `production mode runs on the WebAssembly liboqs because X0TTA6BL4_ALLOW_WASM_PQC=true (several times slower). The native backend is not in use: ${why}`,
      );
    } else {
      warnings.push(`the WebAssembly liboqs is in use: ${why}`);
    }
  }
  const where = backend.liboqs ? `liboqs ${backend.liboqs.version} (${backend.liboqs.path})` : `the WebAssembly liboqs ${backend.wasm!.version}`;
  for (const [list, name] of [
    [backend.kems, REQUIRED_ALGORITHMS.kem],
    [backend.sigs, REQUIRED_ALGORITHMS.sig],
  ] as const) {
    if (!list.includes(name)) {
      problems.push({ code: codeFor('ERR_PQC_UNSUPPORTED_ALGORITHM'), message: `${where} does not enable ${name}: install a liboqs built with it (the default build enables it)` });
    }
  }
  return { problems, warnings, wasmInProduction };
}
