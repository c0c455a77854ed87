// Closing lines of `npm test`: the counts, then each failed test with the first lines of its
// message, so the tail of a CI log (often all that is kept) names what failed.
const fs = require('fs');
const path = require('path');
const file = path.resolve(process.argv[2]);
if (!fs.existsSync(file)) {
  console.log(`jest wrote no report (${path.relative(process.cwd(), file)}): it failed before running the tests; its own output is above`);
  process.exit(1);
}
const report = JSON.parse(fs.readFileSync(file, 'utf8'));
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
