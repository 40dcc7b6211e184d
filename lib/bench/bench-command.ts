import { parseArgs } from 'node:util';
import { parseCommandLine, UsageError } from '../command-options.js';
import { runBench, type BenchReport } from './run-bench.js';
import { figure, markdownTable, ratioFigure } from './table.js';

export const BENCH_USAGE = `usage: x0tta6bl4-pqc bench [--quick | --smoke] [--json]

  The package's speed on this machine, on the backend in use, with ratios between figures of the
  same run: ML-KEM-512/768/1024 and ML-DSA-44/65/87 (sync, …Into, async, batch; beside the
  WebAssembly backend when the native one is in use), the hybrid KEMs beside their ML-KEM-768
  part, the mesh handshake beside the primitives it calls, and channel records beside bare
  AES-256-GCM. liboqs's own C speed and @noble/post-quantum need the repository (npm run bench).
  --quick   fewer, shorter rounds (well under a minute; default: a few minutes)
  --smoke   one brief round of everything: checks that each row runs (the figures are noise)
  --json    one JSON object on stdout
  Progress goes to stderr. Exit 0 measured, 1 could not measure, 2 usage.`;

/** `x0tta6bl4-pqc bench …`: the exit code. */
export async function benchCommand(args: string[]): Promise<number> {
  const { values } = parseCommandLine('bench', () =>
    parseArgs({
      args,
      options: {
        quick: { type: 'boolean' },
        smoke: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    console.log(BENCH_USAGE);
    return 0;
  }
  if (values.quick && values.smoke) throw new UsageError('bench takes --quick or --smoke, not both');
  const live = process.stderr.isTTY;
  const report = await runBench({
    budget: values.smoke ? 'smoke' : values.quick ? 'quick' : 'full',
    onProgress: (step, steps, label) => {
      const line = `bench [${String(step).padStart(String(steps).length)}/${steps}] ${label}`;
      process.stderr.write(live ? `\r\x1b[K${line}` : `${line}\n`);
    },
  });
  if (live) process.stderr.write('\r\x1b[K');
  console.log(values.json ? JSON.stringify(report) : formatReport(report));
  return 0;
}

const rounds = (n: number) => `${n} round${n === 1 ? '' : 's'}`;

type PrimitiveRow = BenchReport['primitives']['rows'][number];

/** The ML-KEM/ML-DSA table's figures after the algorithm and operation; one with no figure in any row (wasm on the wasm backend) is left out. */
const PRIMITIVE_TABLE: [header: string, value: (row: PrimitiveRow) => number | null, format: (value: number | null) => string][] = [
  ['sync', (row) => row.us.sync, figure],
  ['sync, …Into', (row) => row.us.into, figure],
  ['async', (row) => row.us.async, figure],
  ['batch', (row) => row.us.batch, figure],
  ['wasm', (row) => row.us.wasm, figure],
  ['batch ÷ sync', (row) => row.ratios.batchOverSync, ratioFigure],
  ['async ÷ sync', (row) => row.ratios.asyncOverSync, ratioFigure],
  ['native ÷ wasm', (row) => row.ratios.nativeOverWasm, ratioFigure],
];

function primitivesTable(rows: PrimitiveRow[]): string {
  const columns = PRIMITIVE_TABLE.filter(([, value]) => rows.some((row) => value(row) !== null));
  return markdownTable(
    ['Algorithm', 'Operation', ...columns.map(([header]) => header)],
    rows.map((row) => [row.algorithm, row.operation, ...columns.map(([, value, format]) => format(value(row)))]),
  );
}

export function formatReport(r: BenchReport): string {
  const backend = r.backend === 'native' ? `native backend (liboqs ${r.liboqs})` : `WebAssembly backend (@oqs/liboqs-js ${r.wasm}; no native liboqs in use)`;
  const on = r.backend === 'native' ? 'native' : 'wasm';
  const lines = [
    `bench (${r.budget}): the ${backend}; Node ${r.node}, ${r.cores} cores, libuv pool of ${r.threadpool}; ${r.seconds} s`,
    ...r.absent.map((what) => `not measured here: ${what}`),
    'Every ratio is between figures of this run; in the µs and ms tables, below 1 means the first is faster.',
    '',
    `ML-KEM and ML-DSA on the ${on} backend, µs per operation (best of ${rounds(r.primitives.rounds)}; batches of ${r.primitives.batch}, per item):`,
    '',
    primitivesTable(r.primitives.rows),
    '',
    `Hybrid KEMs on the ${on} backend, µs per operation (best of ${rounds(r.hybrids.rounds)}; batches of ${r.hybrids.batch}, per item), beside ML-KEM-768 doing its part alone:`,
    '',
    markdownTable(
      ['Operation', 'sync', 'batch', 'ML-KEM-768 part', '÷ ML-KEM part', 'batch ÷ sync'],
      r.hybrids.rows.map((row) => [row.label, figure(row.us.sync), figure(row.us.batch), figure(row.us.mlKemPart), ratioFigure(row.ratios.overMlKemPart), ratioFigure(row.ratios.batchOverSync)]),
      1,
    ),
    ...r.hybrids.skipped.map((s) => `- ${s.kem} not measured: ${s.reason}`),
    '',
    `Mesh handshake, ms (${r.handshake.suite}; ${r.handshake.handshakes} complete handshakes, both sides in this process, no TCP, alternating with the primitive calls one makes):`,
    '',
    markdownTable(
      ['', 'p50', 'p95', 'p99', 'mean'],
      (['handshake', 'primitives'] as const).map((key) => {
        const p = r.handshake.ms[key];
        return [key === 'handshake' ? 'full handshake' : 'sum of its primitives', p.p50.toFixed(3), p.p95.toFixed(3), p.p99.toFixed(3), p.mean.toFixed(3)];
      }),
      1,
    ),
    `handshake ÷ primitives (mean): ${ratioFigure(r.handshake.ratios.handshakeOverPrimitives)}`,
    '',
    `Channel records, MB/s of plaintext sealed and opened (${r.channel.suite}; no socket in the loop), beside bare node:crypto AES-256-GCM:`,
    '',
    markdownTable(
      ['Record', 'channel', 'AES-256-GCM', 'channel ÷ AES-GCM'],
      r.channel.rows.map((row) => [
        row.recordBytes >= 1024 ? `${row.recordBytes / 1024} KiB` : `${row.recordBytes} B`,
        row.mbPerSecond.channel.toFixed(0),
        row.mbPerSecond.aesGcm.toFixed(0),
        ratioFigure(row.ratios.channelOverAesGcm),
      ]),
      1,
    ),
  ];
  return lines.join('\n');
}
