-- wrk script: sends the pre-signed requests of REQUESTS_FILE (one "signature<TAB>body" per line), each once,
-- stops after LIMIT responses and prints a JSON summary line.
local requests = {}
local index = 0
local answered = 0
local limit = tonumber(os.getenv("LIMIT"))
local path = os.getenv("WEBHOOK_PATH") or "/webhooks/intercom"

-- In init, not at load time: only then does wrk.format add the Host header.
function init(args)
  for line in io.lines(os.getenv("REQUESTS_FILE")) do
    local tab = line:find("\t", 1, true)
    requests[#requests + 1] = wrk.format("POST", path, {
      ["Content-Type"] = "application/json",
      ["X-Hub-Signature"] = line:sub(1, tab - 1)
    }, line:sub(tab + 1))
  end
end

function request()
  index = index + 1
  if index > #requests then index = 1 end
  return requests[index]
end

function response(status, headers, body)
  answered = answered + 1
  if answered >= limit then wrk.thread:stop() end
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non2xx":%d,"errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
