// Piscina starts actor threads with plain Node, which cannot import TypeScript. This entry
// registers tsx's loader in the thread, then hands piscina the real task function.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./actor-thread.ts');

export default mod.default;
