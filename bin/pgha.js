#!/usr/bin/env node
// The pgha command. Runs the TypeScript sources through ts-node with swc (transpile only: no
// type check on every call; `npm run typecheck` does that).
const path = require('node:path');
// `pgha nodes | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
require('ts-node').register({ project: path.join(__dirname, '..', 'tsconfig.json'), swc: true });
process.exitCode = require('../src/cli/main').main(process.argv.slice(2));
