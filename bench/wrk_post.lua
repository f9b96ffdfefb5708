-- wrk script of bench/compare: the same "Create Candidate Note" request as stackone-bench and
-- the TypeScript SDK send (method, headers, body bytes), built once and replayed unchanged, so
-- no Lua runs per request.
--
-- Environment (set by bench/compare):
--   BENCH_BODY_FILE       file holding the exact JSON body (stackone-bench --print-body)
--   BENCH_AUTHORIZATION   the whole Authorization value, "Basic base64(key:)"
--   BENCH_ACCOUNT_ID      x-account-id
--   BENCH_USER_AGENT      User-Agent
--
-- When the run ends, one line "WRK_JSON {...}" carries the numbers bench/compare reads.

local function required(name)
    local value = os.getenv(name)
    if value == nil or value == "" then
        error(name .. " is not set")
    end
    return value
end

local function read_file(path)
    local f = assert(io.open(path, "rb"))
    local text = f:read("*a")
    f:close()
    -- The body file ends with the newline --print-body writes; the request body does not.
    return (text:gsub("\n$", ""))
end

wrk.method = "POST"
wrk.body = read_file(required("BENCH_BODY_FILE"))
wrk.headers["Authorization"] = required("BENCH_AUTHORIZATION")
wrk.headers["x-account-id"] = required("BENCH_ACCOUNT_ID")
wrk.headers["User-Agent"] = required("BENCH_USER_AGENT")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
        '"p999_us":%d,"max_us":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,' ..
        '"errors_status":%d,"errors_timeout":%d}\n',
        summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency:percentile(99.9), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
