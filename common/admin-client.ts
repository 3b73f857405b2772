/** Reading the coordinator's admin API (the CLI, the Prometheus targets writer, tests), with its bearer token when the cluster has them. */
import { bearer } from './http-auth.ts';

/**
 * GETs `path` of the admin API at `adminUrl` as JSON. Throws, naming the URL, when nothing
 * answers, when the token is missing or refused (saying how to give one), or on any other error status.
 */
export async function fetchAdmin<T>(adminUrl: string, path: string, token?: string, timeoutMs = 5_000): Promise<T> {
  const url = `${adminUrl.replace(/\/$/, '')}${path}`;
  let response: Response;
  try {
    response = await fetch(url, { headers: bearer(token), signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new Error(`no coordinator answers at ${url} (${(err as Error).message}); is the cluster up?`);
  }
  if (response.status === 401 || response.status === 403) {
    throw new Error(`${url} answered HTTP ${response.status}: ${((await response.json().catch(() => ({}))) as { error?: string }).error ?? 'refused'} (set EDDY_TOKEN, or security.tokensFile)`);
  }
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  return (await response.json()) as T;
}
