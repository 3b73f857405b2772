/**
 * Bearer tokens for Eddy's HTTP endpoints (the coordinator's admin API and dashboard, each
 * worker's metrics, stats and ingest endpoint). Two scopes: `read` may GET everything; `admin`
 * may also POST (the ingest endpoint). `/healthz` and `/readyz` stay open for probes, and the dashboard's
 * page and its static files, which hold no data. Without a tokens file
 * every endpoint is open, as it was: they listen on 127.0.0.1 unless configured otherwise.
 *
 * Tokens live in a file of their own (`security.tokensFile` / `EDDY_TOKENS_FILE`), never in the
 * config file or the repository, and are never logged: a refusal names the token's absence or
 * its scope, never its text. Comparison is in constant time, over SHA-256 digests.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.ts';

export type TokenScope = 'read' | 'admin';

const tokensFileSchema = z
  .object({
    tokens: z
      .array(
        z
          .object({
            /** Who holds it (in logs and errors instead of the token). */
            name: z.string().min(1),
            scope: z.enum(['read', 'admin']),
            token: z.string().min(16, 'a token must be at least 16 characters'),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

export interface TokenEntry {
  name: string;
  scope: TokenScope;
  digest: Buffer;
}

/** The tokens endpoints accept, and the one Eddy's own clients present (the first read token, else the first). */
export interface HttpTokens {
  entries: TokenEntry[];
  clientToken: string;
}

/** The tokens of a tokens file (YAML or JSON: `tokens: [{name, scope, token}]`). */
export function loadTokens(path: string): HttpTokens {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read the tokens file ${path}: ${(err as Error).message}`);
  }
  const parsed = tokensFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // The path and the rule, never the value: it may be a token.
    throw new ConfigError(`tokens file ${path}: '${issue?.path.join('.') ?? ''}': ${issue?.message ?? 'invalid'}`);
  }
  const tokens = parsed.data.tokens;
  const own = tokens.find((t) => t.scope === 'read') ?? tokens[0];
  if (own === undefined) throw new ConfigError(`tokens file ${path}: no tokens`);
  return {
    entries: tokens.map((t) => ({ name: t.name, scope: t.scope, digest: digest(t.token) })),
    clientToken: own.token,
  };
}

/** Request headers that carry `token`, if there is one. */
export function bearer(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** The entry a presented token matches, if any (every entry compared, in constant time). */
export function matchToken(tokens: readonly TokenEntry[], presented: string): TokenEntry | undefined {
  const d = digest(presented);
  let found: TokenEntry | undefined;
  for (const t of tokens) if (timingSafeEqual(t.digest, d)) found ??= t;
  return found;
}

/**
 * What a request needs: nothing for /healthz, /readyz and the dashboard's page and assets (they hold no
 * data; the page asks for a token and sends it with its API requests), `read` to GET, `admin`
 * for anything else.
 */
export function requiredScope(method: string, url: string): TokenScope | undefined {
  const path = url.split('?')[0] ?? '';
  if (path === '/healthz' || path === '/readyz' || ((method === 'GET' || method === 'HEAD') && (path === '/' || path.startsWith('/assets/')))) return undefined;
  return method === 'GET' || method === 'HEAD' ? 'read' : 'admin';
}

/**
 * Refuses requests without a token of the scope they need: 401 without a valid token (with
 * `WWW-Authenticate: Bearer`), 403 with a read token where admin is needed. No-op without tokens.
 */
export function requireTokens(app: FastifyInstance, httpTokens: HttpTokens | undefined): void {
  if (httpTokens === undefined) return;
  const tokens = httpTokens.entries;
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const needed = requiredScope(request.method, request.url);
    if (needed === undefined) return;
    const header = request.headers.authorization;
    const presented = header?.startsWith('Bearer ') === true ? header.slice('Bearer '.length).trim() : undefined;
    const entry = presented === undefined ? undefined : matchToken(tokens, presented);
    if (entry === undefined) {
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="eddy"')
        .send({ error: presented === undefined ? 'this endpoint needs a bearer token (Authorization: Bearer <token>)' : 'the bearer token is not valid here' });
      return reply;
    }
    if (needed === 'admin' && entry.scope !== 'admin') {
      await reply.code(403).send({ error: `token '${entry.name}' has the read scope; ${request.method} ${request.url.split('?')[0]} needs admin` });
      return reply;
    }
  });
}
