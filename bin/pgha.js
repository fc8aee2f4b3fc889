#!/usr/bin/env node
// The pgha command: runs the compiled CLI (lib/, built by `npm run build` and shipped in the package).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

// `pgha nodes | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
const cli = join(__dirname, '..', 'lib', 'cli', 'main.js');
if (!existsSync(cli)) {
  process.stderr.write(`pgha: ${cli} is missing: in a checkout of cdktf-postgres-ha, build it first (npm run build).\n`);
  process.exit(2);
}
let main;
try {
  ({ main } = require(cli));
} catch (error) {
  if (error.code !== 'MODULE_NOT_FOUND') throw error;
  // A peer the project has not installed (cdktf, constructs, a provider).
  const missing = /Cannot find module '([^']+)'/.exec(error.message)?.[1] ?? error.message;
  process.stderr.write(`pgha: cannot load ${missing}: install the peer dependencies of cdktf-postgres-ha in your project (see its README, "Install").\n`);
  process.exit(2);
}
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
