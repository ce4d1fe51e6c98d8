// Evaluates the checked-in bucketing vectors in flagd's form
// (flags/testdata/bucketing_vectors.flagd.json and .cases.json) with the official
// flagd evaluator (@openfeature/flagd-core, which the JavaScript flagd provider
// runs in-process) and counts where it agrees with Sluice.
//
//   node flagd_vectors_check.js CONFIG_JSON CASES_JSON
//
// Prints one JSON line: {"ascii_agree": n, "ascii_disagree": n,
// "non_ascii_agree": n, "non_ascii_disagree": n, "disagreements": [...]}.
'use strict';
const fs = require('fs');
const { FlagdCore } = require('@openfeature/flagd-core');

const [configPath, casesPath] = process.argv.slice(2);
const core = new FlagdCore();
core.setConfigurations(fs.readFileSync(configPath, 'utf8'));
const counts = { ascii_agree: 0, ascii_disagree: 0, non_ascii_agree: 0, non_ascii_disagree: 0 };
const disagreements = [];
for (const c of JSON.parse(fs.readFileSync(casesPath, 'utf8'))) {
  const r = core.resolveStringEvaluation(c.flag, 'unresolved', c.context);
  const agree = r.value === c.variant;
  counts[(c.ascii ? 'ascii_' : 'non_ascii_') + (agree ? 'agree' : 'disagree')]++;
  if (!agree) disagreements.push({ flag: c.flag, key: c.context.routing_key, sluice: c.variant, flagd: r.value });
}
console.log(JSON.stringify({ ...counts, disagreements }));
