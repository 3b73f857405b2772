// Piscina starts actor threads with plain Node, which cannot import TypeScript. This entry
// registers tsx's loader in the thread, then hands piscina the real task function.
import module from 'node:module';
import { register } from 'tsx/esm/api';

module.enableCompileCache?.(); // see bin/eddy.js
register();
const mod = await import('./actor-thread.ts');

export default mod.default;
