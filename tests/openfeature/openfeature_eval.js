// Evaluates Sluice rollout flags with the official OpenFeature JavaScript server
// SDK and one of its providers, against a live controller:
//
//   node openfeature_eval.js flagd HOST PORT FLAG CASES_JSON OUT_JSON
//     the flagd provider in in-process mode, synced from the controller's flagd
//     sync listener (flagd.sync.v1), evaluating locally;
//   node openfeature_eval.js ofrep BASE_URL FLAG CASES_JSON OUT_JSON
//   node openfeature_eval.js flagd-watch ... (below: a change reaching a held stream)
//     the OFREP provider, each evaluation a POST to the controller's HTTP port,
//     with "Authorization: Bearer $SLUICE_OFREP_TOKEN" when that is set.
//
// CASES_JSON: [{"key": "k" | null, "ts": <Unix ms> | null}, ...]; a null field is
// left out of the evaluation context. OUT_JSON gets, per case, the variant, the
// reason and the error code the SDK resolved.
'use strict';
const fs = require('fs');
const { OpenFeature } = require('@openfeature/server-sdk');

function provider(mode, args) {
  if (mode === 'flagd') {
    const { FlagdProvider } = require('@openfeature/flagd-provider');
    return new FlagdProvider({
      resolverType: 'in-process',
      host: args[0],
      port: Number(args[1]),
      tls: false,
    });
  }
  if (mode === 'ofrep') {
    const { OFREPProvider } = require('@openfeature/ofrep-provider');
    const token = process.env.SLUICE_OFREP_TOKEN;
    return new OFREPProvider({
      baseUrl: args[0],
      headersFactory: () => (token ? [['Authorization', `Bearer ${token}`]] : []),
    });
  }
  throw new Error(`unknown mode ${mode}`);
}

// flagd-watch HOST PORT FLAG KEY TS_MS READY_FILE OUT_JSON TIMEOUT_MS: holds one
// provider, evaluates KEY at TS_MS, writes READY_FILE, then evaluates again every
// 50 ms until the variant changes (a flag change reached the provider's held
// stream) or TIMEOUT_MS pass; OUT_JSON gets {"before", "after", "ms"}.
async function watch(args) {
  const [host, port, flag, key, ts, readyPath, outPath, timeoutMs] = args;
  await OpenFeature.setProviderAndWait(provider('flagd', [host, port]));
  const client = OpenFeature.getClient('sluice-openfeature-watch');
  const context = { routing_key: key, item_ts_ms: Number(ts) };
  const before = await client.getStringValue(flag, 'unresolved', context);
  fs.writeFileSync(readyPath, before);
  const started = Date.now();
  let after = before;
  while (after === before && Date.now() - started < Number(timeoutMs)) {
    await new Promise((r) => setTimeout(r, 50));
    after = await client.getStringValue(flag, 'unresolved', context);
  }
  fs.writeFileSync(outPath, JSON.stringify({ before, after, ms: Date.now() - started }));
  await OpenFeature.close();
}

async function main() {
  const mode = process.argv[2];
  if (mode === 'flagd-watch') return watch(process.argv.slice(3));
  const rest = process.argv.slice(3);
  const target = mode === 'flagd' ? rest.splice(0, 2) : rest.splice(0, 1);
  const [flag, casesPath, outPath] = rest;
  const cases = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
  await OpenFeature.setProviderAndWait(provider(mode, target));
  const client = OpenFeature.getClient('sluice-openfeature-test');
  const out = [];
  for (const c of cases) {
    const context = {};
    if (c.key !== null) context.routing_key = c.key;
    if (c.ts !== null) context.item_ts_ms = c.ts;
    const d = await client.getStringDetails(flag, 'unresolved', context);
    out.push({ variant: d.value, reason: d.reason, error: d.errorCode || null });
  }
  fs.writeFileSync(outPath, JSON.stringify(out));
  await OpenFeature.close();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  });
