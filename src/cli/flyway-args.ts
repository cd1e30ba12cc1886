/**
 * Flyway's command-line style, `flyway -url=jdbc:... -locations=filesystem:sql
 * -placeholders.env=prod migrate`, rewritten to our flags before parsing, so
 * a pipeline's Flyway invocation works with `ghostwright` in its place.
 * Anything else that looks like `-key=value` is left alone: the parser then
 * refuses it as an unknown option (exit 2) rather than ignoring it.
 */
const VALUE_FLAGS: Record<string, string> = {
  url: '--url',
  user: '--user',
  password: '--password',
  locations: '--locations',
  target: '--target',
  table: '--table',
  baselineVersion: '--baseline-version',
  configFiles: '--config-file',
  installedBy: '--installed-by',
  connectRetries: '--connect-retries',
};

const BOOLEAN_FLAGS: Record<string, string> = {
  baselineOnMigrate: '--baseline-on-migrate',
  outOfOrder: '--out-of-order',
};

/** The commands Flyway has that we have too: Flyway puts its options before them. */
const COMMANDS = new Set(['migrate', 'info', 'validate', 'baseline', 'repair', 'undo', 'clean']);

export function fromFlywayArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  const beforeCommand: string[] = [];
  let seenCommand = false;
  for (const [i, arg] of argv.entries()) {
    const translated = i < 2 ? null : translate(arg);
    if (translated && !seenCommand) beforeCommand.push(...translated);
    else out.push(...(translated ?? [arg]));
    if (i >= 2 && !seenCommand && COMMANDS.has(arg)) {
      seenCommand = true;
      out.push(...beforeCommand);
    }
  }
  return seenCommand ? out : [...out, ...beforeCommand];
}

function translate(arg: string): string[] | null {
  const m = /^-([A-Za-z][A-Za-z.]*)=(.*)$/s.exec(arg);
  if (!m) return null;
  const [, key, value] = m as unknown as [string, string, string];
  if (key.startsWith('placeholders.') && key.length > 'placeholders.'.length) return ['--placeholder', `${key.slice('placeholders.'.length)}=${value}`];
  const flag = VALUE_FLAGS[key];
  if (flag) return [flag, value];
  const bool = BOOLEAN_FLAGS[key];
  if (bool && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true' ? [bool] : [];
  return null;
}
