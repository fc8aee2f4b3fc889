#!/usr/bin/env node
// The pgha command: runs the TypeScript sources, transpiled by swc as they load (./register.js).
// `pgha nodes | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
require('./register');
require('../src/cli/main')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
