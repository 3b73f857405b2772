#!/usr/bin/env node
// Package entry point for `npx eddy`: Eddy runs its TypeScript sources through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
await import('./eddy.ts');
