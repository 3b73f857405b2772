/**
 * `eddy`: the one command line for Eddy. Commands live in their own files; this file only
 * assembles them and turns the errors a user can fix (config, missing tools) into one line
 * instead of a stack trace.
 */
import { Command } from 'commander';
import { ConfigError, MissingPrerequisiteError } from '../common/errors.ts';
import { RescaleRefusedError } from '../state/rescale.ts';
import { runCleanups } from './cleanup.ts';
import { coordinatorCommand } from './coordinator-command.ts';
import { generateCommand } from './generate-command.ts';
import { resetCommand } from './reset-command.ts';
import { stackCommand } from './stack-command.ts';
import { statusCommand } from './status-command.ts';
import { upCommand } from './up-command.ts';
import { workerCommand } from './worker-command.ts';

const program = new Command('eddy')
  .description('Eddy: a distributed, exactly-once stream processor for CDC and event streams')
  .showHelpAfterError()
  .addCommand(upCommand())
  .addCommand(coordinatorCommand())
  .addCommand(workerCommand())
  .addCommand(statusCommand())
  .addCommand(stackCommand())
  .addCommand(generateCommand())
  .addCommand(resetCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError || err instanceof MissingPrerequisiteError || err instanceof RescaleRefusedError) {
    console.error(`eddy: ${err.message}`);
    process.exitCode = 2;
  } else {
    throw err;
  }
} finally {
  await runCleanups();
}
