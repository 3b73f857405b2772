/**
 * `eddy`: the one command line for Eddy. Commands live in their own files; this file only
 * assembles them and turns the errors a user can fix (config, missing tools) into one line
 * instead of a stack trace.
 */
import { Command } from 'commander';
import { ConfigError, MissingPrerequisiteError, RescaleRefusedError } from '../common/errors.ts';
import { StartInterruptedError } from '../deploy/local/processes.ts';
import { runCleanups } from './cleanup.ts';

// Each command's module is imported only when it runs (all of them for help): a worker process
// then loads the worker, not the local stack, the coordinator and the generator. Module loading
// is most of a process's start-up CPU, and a cluster starts several processes at once.
const commands: Record<string, () => Promise<Command>> = {
  up: async () => (await import('./up-command.ts')).upCommand(),
  coordinator: async () => (await import('./coordinator-command.ts')).coordinatorCommand(),
  worker: async () => (await import('./worker-command.ts')).workerCommand(),
  status: async () => (await import('./status-command.ts')).statusCommand(),
  stack: async () => (await import('./stack-command.ts')).stackCommand(),
  generate: async () => (await import('./generate-command.ts')).generateCommand(),
  reset: async () => (await import('./reset-command.ts')).resetCommand(),
  certs: async () => (await import('./certs-command.ts')).certsCommand(),
};
const named = process.argv[2];
const wanted = named !== undefined && Object.hasOwn(commands, named) ? [named] : Object.keys(commands);

const program = new Command('eddy')
  .description('Eddy: a distributed, exactly-once stream processor for CDC and event streams')
  .showHelpAfterError();
for (const command of await Promise.all(wanted.map((name) => commands[name]!()))) program.addCommand(command);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof StartInterruptedError) {
    process.exitCode = 130; // Ctrl-C during a start: the signal's handler says what it stopped
  } else if (err instanceof ConfigError || err instanceof MissingPrerequisiteError || err instanceof RescaleRefusedError) {
    console.error(`eddy: ${err.message}`);
    process.exitCode = 2;
  } else {
    throw err;
  }
} finally {
  await runCleanups();
}
