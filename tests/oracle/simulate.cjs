#!/usr/bin/env node
// Test-only bridge to @cloud-copilot/iam-simulate (tests/oracle/test_oracle.py).
//
// Reads one JSON array of iam-simulate `Simulation` objects per line on stdin
// and writes, for each line, one JSON array of results on stdout:
//   {"result": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied"}
//   {"error": "<message>", "details": {...}}   (the simulation was refused)
// plus "ignored": the context keys iam-simulate dropped as not applying to
// the action. One process serves a whole test session.
'use strict';

const path = require('node:path');
const readline = require('node:readline');

// IAMROLES_ORACLE_PREFIX: the directory `npm ci` installed into (it holds node_modules/)
const prefix = process.env.IAMROLES_ORACLE_PREFIX || __dirname;
const { runSimulation } = require(require.resolve('@cloud-copilot/iam-simulate', { paths: [prefix] }));

async function one(simulation) {
  try {
    const out = await runSimulation(simulation, { simulationMode: 'Strict' });
    if (out.resultType === 'error') {
      return { error: out.errors.message, details: out.errors };
    }
    const results = out.resultType === 'single' ? [out.result] : out.results;
    const ignored = [...new Set(results.flatMap((r) => r.ignoredContextKeys || []))];
    return { result: out.overallResult, ignored };
  } catch (err) {
    return { error: 'exception', details: String((err && err.stack) || err) };
  }
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const batch = JSON.parse(line);
    const answers = [];
    for (const simulation of batch) {
      answers.push(await one(simulation));
    }
    process.stdout.write(JSON.stringify(answers) + '\n');
  }
}

main().catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + '\n');
  process.exit(1);
});
