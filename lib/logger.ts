import { hostname } from 'node:os';

/**
 * The subset of pino's logger this package calls: a level method taking an object of fields
 * and a message. A pino logger (or a child of one) fits as it is.
 */
export type LogFn = (fields: Record<string, unknown>, message: string) => void;

export interface Logger {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
}

export type LogLevel = keyof Logger;

// pino's numbers, so that the default output reads like pino's to log shippers.
const LEVELS: Record<LogLevel, number> = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20 };

/**
 * Byte arrays are never written, whatever their type: a secret key held in a plain Uint8Array
 * or Buffer must not reach a log line because a caller put it in the fields. The holder's own
 * property is checked because JSON.stringify applies Buffer's toJSON before the replacer.
 */
function redact(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (ArrayBuffer.isView(raw) || raw instanceof ArrayBuffer) return `[${raw.byteLength} bytes]`;
  if (raw instanceof Error) return { type: raw.name, message: raw.message, code: (raw as { code?: unknown }).code };
  return value;
}

export interface JsonLoggerOptions {
  /** The least severe level written; default 'info'. */
  level?: LogLevel;
  /** Where lines go; default process.stderr. */
  write?: (line: string) => void;
}

/** Writes one pino-style JSON object per line: level, time, pid, hostname, msg, then the fields. */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const threshold = LEVELS[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const base = { pid: process.pid, hostname: hostname() };
  const method =
    (level: LogLevel): LogFn =>
    (fields, message) => {
      if (LEVELS[level] < threshold) return;
      const record = { level: LEVELS[level], time: Date.now(), ...base, ...fields, msg: message };
      write(`${JSON.stringify(record, redact)}\n`);
    };
  return {
    fatal: method('fatal'),
    error: method('error'),
    warn: method('warn'),
    info: method('info'),
    debug: method('debug'),
  };
}
