// Closing lines of `npm test`: the counts, then each failed test with the first lines of its
// message, so the tail of a CI log (often all that is kept) names what failed.
const path = require('path');
const report = require(path.resolve(process.argv[2]));
for (const suite of report.testResults) {
  if (suite.status === 'failed' && suite.assertionResults.every((t) => t.status !== 'failed')) {
    console.log(`FAILED suite ${path.relative(process.cwd(), suite.name)}:\n${indent(suite.message)}`);
  }
  for (const t of suite.assertionResults) {
    if (t.status === 'failed') console.log(`FAILED ${path.relative(process.cwd(), suite.name)}: ${t.ancestorTitles.concat(t.title).join(' › ')}\n${indent(t.failureMessages.join('\n'))}`);
  }
}
console.log(`jest: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests} skipped`);

function indent(text) {
  // eslint-disable-next-line no-control-regex
  const lines = String(text).replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((l) => l.trim() && !/^\s+at /.test(l));
  return lines.slice(0, 25).map((l) => `    ${l}`).join('\n');
}
