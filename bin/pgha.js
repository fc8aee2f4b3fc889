#!/usr/bin/env node
// The pgha command: runs the compiled CLI (lib/, built by `npm run build` and shipped in the package).
// `pgha nodes | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
let cli;
try {
  cli = require('../lib/cli/main');
} catch (error) {
  if (error.code !== 'MODULE_NOT_FOUND' || !String(error.message).includes('lib/cli/main')) throw error;
  process.stderr.write('pgha: lib/cli/main.js is missing: build the package first (npm run build).\n');
  process.exit(2);
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
