import os from 'node:os';
import { info } from '../backend.js';
import { PqcError } from '../errors.js';
import { Kem } from '../kem.js';
import { wasmPackageVersion } from '../wasm/wasm-backend.js';
import { CHANNEL_SETTINGS, measureChannel } from './channel.js';
import { HANDSHAKE_SETTINGS, measureHandshake } from './handshake.js';
import { HYBRID_KEMS, HYBRID_SETTINGS, hybridRows, mlKemPartTimer, type HybridRow } from './hybrid-rows.js';
import { packageTimers, PRIMITIVE_ROWS, PRIMITIVE_SETTINGS, wasmTimer } from './primitive-rows.js';
import { measureAlternating, measureTogether, summariseAll, warmUp, type Budget, type NamedTimers } from './timing.js';

/**
 * The benchmarks that need nothing but the package, run in this process on the backend in use:
 * what `x0tta6bl4-pqc bench` prints. Every ratio is between figures of the same run; liboqs's
 * own C speed and @noble/post-quantum are the repository's (`npm run bench`).
 */
export interface BenchOptions {
  /** Default `quick`. */
  budget?: Budget;
  /** Called as each step starts (a row of ML-KEM/ML-DSA, the hybrids, the handshake, a record size). */
  onProgress?: (step: number, steps: number, label: string) => void;
}

/** The columns of the ML-KEM/ML-DSA table: `wasm` only when the native backend is in use, `into` for KEMs. */
export const PRIMITIVE_COLUMNS = ['sync', 'into', 'async', 'batch', 'wasm'] as const;
export const HYBRID_COLUMNS = ['sync', 'batch', 'mlKemPart'] as const;

type Figures<K extends string> = Record<K, number | null>;

export interface BenchReport {
  backend: 'native' | 'wasm';
  /** The liboqs version on the native backend, else null. */
  liboqs: string | null;
  /** The @oqs/liboqs-js version when the WebAssembly backend was measured (as the backend or its column), else null. */
  wasm: string | null;
  budget: Budget;
  node: string;
  cores: number;
  threadpool: number;
  seconds: number;
  /** What this command cannot measure, and where it is measured. */
  absent: string[];
  primitives: {
    rounds: number;
    batch: number;
    rows: {
      algorithm: string;
      operation: string;
      /** µs per operation (batch: per item), the best round; null where not measured. */
      us: Figures<(typeof PRIMITIVE_COLUMNS)[number]>;
      /** Time ÷ time: below 1, the first is faster. */
      ratios: { batchOverSync: number; asyncOverSync: number; nativeOverWasm: number | null };
    }[];
  };
  hybrids: {
    rounds: number;
    batch: number;
    rows: {
      kem: string;
      operation: string;
      label: string;
      us: Figures<(typeof HYBRID_COLUMNS)[number]>;
      ratios: { overMlKemPart: number; batchOverSync: number };
    }[];
    /** Hybrids this backend cannot run, and why. */
    skipped: { kem: string; reason: string }[];
  };
  handshake: {
    suite: string;
    handshakes: number;
    /** ms per handshake, and for the sum of the primitive calls one handshake makes. */
    ms: Record<'handshake' | 'primitives', { p50: number; p95: number; p99: number; mean: number }>;
    ratios: { handshakeOverPrimitives: number };
  };
  channel: {
    suite: string;
    rows: {
      recordBytes: number;
      /** MB/s (10^6 bytes) of plaintext sealed and opened, best round. */
      mbPerSecond: { channel: number; aesGcm: number };
      /** Throughput ÷ throughput: 1 is as fast as bare AES-256-GCM. */
      ratios: { channelOverAesGcm: number };
    }[];
  };
}

export const ABSENT = [
  "liboqs's own C speed (scripts/bench-harness.c) and @noble/post-quantum need the repository: " +
    '`npm run bench`, `npm run bench:hybrid` and `npm run bench:mesh` in a clone (also the TCP and mesh-growth runs)',
];

const round = (value: number, digits = 3) => Number(value.toFixed(digits));
const us = (ns: number | undefined) => (ns === undefined ? null : round(ns / 1000));

export async function runBench(options: BenchOptions = {}): Promise<BenchReport> {
  const budget = options.budget ?? 'quick';
  const status = info();
  if (status.backend === 'none') {
    const cause = status.nativeUnavailable;
    throw new PqcError(cause?.code ?? 'ERR_PQC_UNSUPPORTED_BACKEND', `no backend to measure: ${cause?.message ?? 'none is available'}`);
  }
  const backend = status.backend;
  const started = performance.now();
  const absent = [...ABSENT];
  const wasmColumn = backend === 'native' && (await wasmAvailable(absent));
  const channelSettings = CHANNEL_SETTINGS[budget];
  const steps = PRIMITIVE_ROWS.length + 2 + channelSettings.sizes.length;
  let step = 0;
  const progress = (label: string) => options.onProgress?.(++step, steps, label);

  const primitiveSettings = PRIMITIVE_SETTINGS[budget];
  const primitives: BenchReport['primitives']['rows'] = [];
  for (const row of PRIMITIVE_ROWS) {
    progress(`${row.algorithm} ${row.operation}`);
    const timers: NamedTimers = await packageTimers(row, backend, primitiveSettings.batch);
    if (wasmColumn) timers.push(['wasm', wasmTimer(row)]);
    const time = summariseAll(await measureAlternating(timers, primitiveSettings, { weight: row.weight }), 'min');
    primitives.push({
      algorithm: row.algorithm,
      operation: row.operation,
      us: Object.fromEntries(PRIMITIVE_COLUMNS.map((key) => [key, us(time[key])])) as Figures<(typeof PRIMITIVE_COLUMNS)[number]>,
      ratios: {
        batchOverSync: round(time.batch! / time.sync!),
        asyncOverSync: round(time.async! / time.sync!),
        nativeOverWasm: time.wasm === undefined ? null : round(time.sync! / time.wasm),
      },
    });
  }

  progress('hybrid KEMs');
  const hybridSettings = HYBRID_SETTINGS[budget];
  const rows: HybridRow[] = [];
  const skipped: BenchReport['hybrids']['skipped'] = [];
  for (const name of HYBRID_KEMS) {
    try {
      rows.push(...(await hybridRows(name, backend, hybridSettings.batch)));
    } catch (error) {
      if ((error as PqcError).code !== 'ERR_PQC_UNSUPPORTED_CAPABILITY') throw error;
      skipped.push({ kem: name, reason: (error as PqcError).message });
    }
  }
  for (const row of rows) row.timers.push(['mlKemPart', await mlKemPartTimer(row.operation, backend)]);
  await warmUp(rows.flatMap((row) => row.timers), hybridSettings.warmupMs * 4);
  const hybridTimes = (await measureTogether(rows.map((row) => row.timers), hybridSettings, { stagger: 5 })).map((samples) => summariseAll(samples, 'min'));
  const hybrids = rows.map((row, i) => {
    const time = hybridTimes[i]!;
    return {
      kem: row.kem,
      operation: row.operation,
      label: row.label,
      us: Object.fromEntries(HYBRID_COLUMNS.map((key) => [key, us(time[key])])) as Figures<(typeof HYBRID_COLUMNS)[number]>,
      ratios: { overMlKemPart: round(time.sync! / time.mlKemPart!), batchOverSync: round(time.batch! / time.sync!) },
    };
  });

  const handshakeSettings = HANDSHAKE_SETTINGS[budget];
  const handshake = await measureHandshake(handshakeSettings, (suite) => progress(`handshake, ${suite}`));
  const ms = (p: { p50: number; p95: number; p99: number; mean: number }) => ({ p50: round(p.p50), p95: round(p.p95), p99: round(p.p99), mean: round(p.mean) });

  const channel = await measureChannel(channelSettings, (size) => progress(`channel, ${size}-byte records`));
  const mbps = (size: number, ns: number) => round((size / ns) * 1e3, 1);

  return {
    backend,
    liboqs: status.liboqs?.version ?? null,
    wasm: backend === 'wasm' || wasmColumn ? wasmPackageVersion() : null,
    budget,
    node: process.versions.node,
    cores: os.availableParallelism(),
    threadpool: Math.max(1, Number(process.env.UV_THREADPOOL_SIZE) || 4),
    seconds: round((performance.now() - started) / 1000, 1),
    absent,
    primitives: { rounds: primitiveSettings.rounds, batch: primitiveSettings.batch, rows: primitives },
    hybrids: { rounds: hybridSettings.rounds, batch: hybridSettings.batch, rows: hybrids, skipped },
    handshake: {
      suite: handshake.suite,
      handshakes: handshake.handshake.n,
      ms: { handshake: ms(handshake.handshake), primitives: ms(handshake.primitives) },
      ratios: { handshakeOverPrimitives: round(handshake.handshake.mean / handshake.primitives.mean) },
    },
    channel: {
      suite: channel.suite,
      rows: channel.rows.map((row) => ({
        recordBytes: row.size,
        mbPerSecond: { channel: mbps(row.size, row.channel.roundTrip), aesGcm: mbps(row.size, row.aes.roundTrip) },
        ratios: { channelOverAesGcm: round(row.aes.roundTrip / row.channel.roundTrip) },
      })),
    },
  };
}

/** Whether the WebAssembly backend loads beside the native one; if not, `absent` says why. */
async function wasmAvailable(absent: string[]): Promise<boolean> {
  try {
    await new Kem('ML-KEM-512', { backend: 'wasm' }).ready();
    return true;
  } catch (error) {
    const { code, message } = PqcError.from(error);
    absent.push(`the WebAssembly column: ${code}: ${message}`);
    return false;
  }
}
