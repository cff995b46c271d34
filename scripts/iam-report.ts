/**
 * `npm run iam-report [-- FILE]`: the least-privilege check of a local run (issue 10).
 *
 * Reads the usage report the runtime writes on stop (default `.local/iam-usage.json`; the e2e suite writes
 * `.local/e2e/iam-usage.json`), prints per role what it called and what it is granted but never called, and exits 1
 * when a role called something the template does not grant (on AWS: AccessDenied).
 */
import { existsSync, readFileSync } from 'node:fs';
import { usageMarkdown, usageProblems, type UsageReport } from '../local/iam/usage-report.js';

const file = process.argv[2] ?? '.local/iam-usage.json';
if (!existsSync(file)) {
  console.error(`${file} not found: run the stack (npm start, the e2e suite, npm run demo) and stop it first; it is written on stop.`);
  process.exit(2);
}
const report = JSON.parse(readFileSync(file, 'utf8')) as UsageReport;
console.log(usageMarkdown(report));
const unused = report.roles.reduce((n, role) => n + role.grantedButUnused.length, 0);
const problems = usageProblems(report);
console.log(`${report.roles.length} role(s); ${unused} granted action/resource pair(s) never used in this run (review them: least privilege).`);
if (problems.length > 0) {
  console.error(`\nFAIL: ${problems.length} call(s) the template does not grant (AWS would answer AccessDenied):\n  - ${problems.join('\n  - ')}`);
  process.exit(1);
}
console.log('OK: every call of the run is granted by the template.');
