/** A command line the CLI cannot run: its message is printed with the usage, and the exit code is 2. */
export class UsageError extends Error {}

/**
 * `parse()` (parseArgs for `command`, one that takes options only), with its errors as usage
 * errors in our words: parseArgs' own suggest `--` for what is almost always a typo.
 */
export function parseCommandLine<T>(command: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw usageErrorOf(command, error);
  }
}

function usageErrorOf(command: string, error: unknown): UsageError {
  const { code, message } = error as { code?: string; message?: string };
  const quoted = /'([^']+)'/.exec(message ?? '')?.[1] ?? '';
  const name = quoted.split(' ')[0];
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return new UsageError(quoted.includes('<value>') ? `${name} needs a value` : `${name} takes no value`);
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return new UsageError(`${command} takes options only, got ${JSON.stringify(quoted)}`);
  return new UsageError(name ? `${command} does not take ${name}` : `${command} takes options only`);
}
