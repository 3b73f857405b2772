/**
 * Job options from an environment variable, so a cluster started with `--job <name>` can be tuned
 * without another module: `EDDY_ECOMMERCE='{"windowMs": 60000}'`.
 */

/**
 * The options in `env[variable]` (JSON, any subset of `defaults`) over `defaults`.
 *
 * @throws Error naming the variable and the option when the JSON is not an object, an option is
 *   unknown, or its type differs from its default's
 */
export function optionsFromEnv<O extends object>(variable: string, defaults: O, env: NodeJS.ProcessEnv = process.env): O {
  const text = env[variable];
  if (text === undefined || text === '') return { ...defaults };
  const parsed = JSON.parse(text) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${variable} must be a JSON object of options, got ${text}`);
  for (const [name, value] of Object.entries(parsed)) {
    if (!(name in defaults)) throw new Error(`${variable}: unknown option '${name}' (options: ${Object.keys(defaults).join(', ')})`);
    const expected = typeof defaults[name as keyof O];
    if (typeof value !== expected) throw new Error(`${variable}: option '${name}' must be a ${expected}, got ${JSON.stringify(value)}`);
  }
  return { ...defaults, ...(parsed as Partial<O>) };
}
