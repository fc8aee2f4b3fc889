// Ends the run with one plain line, "tests: N passed, N failed", that CI tooling reads without
// knowing jest's own summary format. Printed at exit, so it comes after jest's summary.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}\n`;
    process.on('exit', () => process.stderr.write(line));
  }
}
module.exports = SummaryReporter;
