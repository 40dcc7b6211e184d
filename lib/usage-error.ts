/** A command line the CLI cannot run: its message is printed with the usage, and the exit code is 2. */
export class UsageError extends Error {}
