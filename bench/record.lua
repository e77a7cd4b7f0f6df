-- wrk script for record_rate.py: POST /v1/deployments over many slots.
-- wrk -tT ... -s bench/record.lua URL/v1/deployments -- MODE TOKEN RANGE SLOTS POOL NENV T
--   MODE supersede: each request deploys a new digest in its slot (201 expected)
--   MODE heartbeat: each request re-records the slot's digest (200 expected)
-- Slot s (0 <= s < SLOTS) is env-(s % NENV) / LOGICAL[(s // NENV) % 3] / RANGE-s; its
-- digest in round r is sha256:%064d of (s + r) % POOL + 1 (record_rate.py made round 0).
-- wrk thread t owns the slots s = t (mod threads), in turn, so a slot never sees two
-- requests at once and consecutive rounds of a slot always change its digest.

local threads = {}
local counter = 0
local logical = { "development", "staging", "production" }

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  mode = args[1]
  token = args[2]
  range = args[3]
  slots = tonumber(args[4])
  pool = tonumber(args[5])
  nenv = tonumber(args[6])
  nthreads = tonumber(args[7])
  per = math.floor(slots / nthreads)
  k = 0
  c200, c201, other = 0, 0, 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  local s = id + nthreads * (k % per)
  local round = math.floor(k / per) + 1
  k = k + 1
  if mode == "heartbeat" then
    round = 0
  end
  local digest = (s + round) % pool + 1
  local body = string.format(
    '{"environment":"env-%d","logical_environment":"%s","deployment_name":"%s-%d",'
      .. '"kind":"CONTAINER_IMAGE","digest":"sha256:%064d"}',
    s % nenv, logical[math.floor(s / nenv) % 3 + 1], range, s, digest
  )
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 201 then
    c201 = c201 + 1
  elseif status == 200 then
    c200 = c200 + 1
  else
    other = other + 1
    if other <= 3 then
      io.stderr:write("HTTP " .. status .. " " .. body .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local t200, t201, tother = 0, 0, 0
  for _, thread in ipairs(threads) do
    t200 = t200 + thread:get("c200")
    t201 = t201 + thread:get("c201")
    tother = tother + thread:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d s200=%d s201=%d other=%d "
      .. "connect=%d read=%d write=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, t200, t201, tother,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
  ))
end
