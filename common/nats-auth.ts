/** NATS connect options carrying the process's credentials (connection-security.ts). */
import { credsAuthenticator, type ConnectionOptions } from 'nats';
import { processNatsAuth } from './connection-security.ts';

export function natsConnectAuth(): Pick<ConnectionOptions, 'token' | 'user' | 'pass' | 'authenticator'> {
  const auth = processNatsAuth();
  if (auth.creds !== undefined) return { authenticator: credsAuthenticator(auth.creds) };
  return { ...(auth.token !== undefined && { token: auth.token }), ...(auth.user !== undefined && { user: auth.user, pass: auth.pass ?? '' }) };
}
