// Drives the official TypeScript SDK (@stackone/stackone-client-ts) the way stackone-bench
// drives the C++ client: C callers each creating notes in a loop, a warm-up first, then a
// measured phase of fixed length. Prints one line "TS_JSON {...}".
//
// usage: node ts_sdk_bench.mjs --sdk-dir DIR --url URL --body-file FILE [--concurrency C]
//            [--duration-s S] [--warmup-s S] [--account-id ID] [--candidate-id ID]
//            [--user-agent UA]
// The API key comes from STACKONE_API_KEY; trust a test CA with NODE_EXTRA_CA_CERTS.
//
// CPU is process.cpuUsage() over the measured phase (every thread of the process: the event
// loop, libuv's pool and V8's helpers); peak RSS is measured outside, by /usr/bin/time.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

function parse_args(argv) {
    const args = {
        concurrency: 64,
        duration_s: 5,
        warmup_s: 5,
        account_id: "acc-bench",
        candidate_id: "cand-bench-0001",
        user_agent: "",
    };
    for (let i = 2; i < argv.length; i += 2) {
        const key = argv[i].replace(/^--/, "").replaceAll("-", "_");
        if (!(key in args) && !["sdk_dir", "url", "body_file"].includes(key)) {
            throw new Error(`unknown flag ${argv[i]}`);
        }
        args[key] = typeof args[key] === "number" ? Number(argv[i + 1]) : argv[i + 1];
    }
    for (const key of ["sdk_dir", "url", "body_file"]) {
        if (!args[key]) {
            throw new Error(`--${key.replaceAll("_", "-")} is required`);
        }
    }
    return args;
}

// Nearest-rank percentile of sorted milliseconds.
function percentile(sorted, p) {
    if (sorted.length === 0) {
        return 0;
    }
    const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
    return sorted[rank - 1];
}

const args = parse_args(process.argv);
const api_key = process.env.STACKONE_API_KEY;
if (!api_key) {
    throw new Error("STACKONE_API_KEY is not set");
}

// The SDK lives in a cache directory of its own, not in this repository.
const require = createRequire(join(args.sdk_dir, "package.json"));
const { StackOne } = require("@stackone/stackone-client-ts");
const sdk_version = require("@stackone/stackone-client-ts/package.json").version;

// The same note as the other tools: the body file is the C++ client's exact JSON.
const body = JSON.parse(readFileSync(args.body_file, "utf8"));
const request = {
    id: args.candidate_id,
    xAccountId: args.account_id,
    atsCreateNotesRequestDto: { content: body.content.map((c) => ({ body: c.body })) },
};

// The SDK's defaults (its retry policy included), but the server and the user agent.
const options = {
    serverURL: args.url,
    security: { username: api_key, password: "" },
};
if (args.user_agent) {
    options.userAgent = args.user_agent;
}
const stackone = new StackOne(options);

let errors = 0;
let errors_shown = 0;
function report_error(e) {
    errors += 1;
    if (errors_shown < 5) {
        errors_shown += 1;
        console.error(`ts_sdk_bench: error: ${e?.message ?? e}`);
    }
}

// C callers share one counter (warm-up) or one clock (measured phase).
async function run_phase(keep_going, latencies) {
    const worker = async () => {
        while (keep_going()) {
            const start = performance.now();
            try {
                await stackone.ats.createCandidateNote(request);
            } catch (e) {
                report_error(e);
            }
            latencies?.push(performance.now() - start);
        }
    };
    await Promise.all(Array.from({ length: args.concurrency }, worker));
}

// A warm-up by time, not by count: V8 needs thousands of calls before the SDK's and undici's
// code is optimized, and a short warm-up measures the JIT instead of the SDK.
const warmup_end = performance.now() + args.warmup_s * 1000;
await run_phase(() => performance.now() < warmup_end, null);
const warmup_errors = errors;
errors = 0;

const latencies = [];
const cpu_start = process.cpuUsage();
const start = performance.now();
const stop_at = start + args.duration_s * 1000;
await run_phase(() => performance.now() < stop_at, latencies);
const elapsed_ms = performance.now() - start;
const cpu = process.cpuUsage(cpu_start);

latencies.sort((a, b) => a - b);
const notes = latencies.length;
const result = {
    tool: "ts-sdk",
    sdk_version,
    node_version: process.version,
    notes,
    concurrency: args.concurrency,
    elapsed_s: elapsed_ms / 1000,
    notes_per_s: notes / (elapsed_ms / 1000),
    p50_ms: percentile(latencies, 0.5),
    p90_ms: percentile(latencies, 0.9),
    p99_ms: percentile(latencies, 0.99),
    p999_ms: percentile(latencies, 0.999),
    max_ms: notes ? latencies[notes - 1] : 0,
    cpu_ms_per_1k: notes ? (cpu.user + cpu.system) / notes : 0,
    errors,
    warmup_errors,
};
console.log(`TS_JSON ${JSON.stringify(result)}`);
