#!/usr/bin/env node
// The compiled CLI; `npm install` builds it (the "prepare" script).
import { main } from '../dist/src/cli/main.js';

// `sluice … | head` closes the pipe early: that ends the output, it is not an error to report.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

process.exitCode = await main(process.argv.slice(2));
