-- bench/logins' full logins driven by wrk: each login three requests on one connection.
--
-- Run as `wrk -tN -cN -s bench/full_login.lua URL -- DATA ACS CLIENT_AUTH REDIRECT_URI SAMPLE`:
-- one connection per wrk thread, so a thread's requests follow each other and the login's
-- steps (ACS, authorize, token) can be chained in this thread's Lua state. DATA.<k> holds
-- thread k's logins, one per line, prepared and signed by bench/full_login.py:
-- form body with the SAMLResponse, X-Forwarded-For, authorize path and query, code_verifier,
-- nonce (tab-separated). A thread that has used all its logins stops.
--
-- done() prints one line per login latency ("login <seconds>"), sampled id_tokens
-- ("token <id_token> <nonce>"), "errors <n>" and, for the first failed step, "failed <text>".

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } koppel_timespec;
int clock_gettime(int clock, koppel_timespec *now);
]]
local CLOCK_MONOTONIC = 1
local clock = ffi.new("koppel_timespec")

local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end

-- main state ------------------------------------------------------------------------------------

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local errors = 0
  for _, thread in ipairs(threads) do
    for _, seconds in ipairs(thread:get("latencies")) do
      io.write(string.format("login %.6f\n", seconds))
    end
    for _, token in ipairs(thread:get("tokens")) do
      io.write("token ", token, "\n")
    end
    errors = errors + thread:get("errors")
    local failed = thread:get("failed")
    if failed ~= nil then
      io.write("failed ", failed, "\n")
    end
  end
  io.write(string.format("errors %d\n", errors))
end

-- each thread's state ---------------------------------------------------------------------------

latencies = {}
tokens = {}
errors = 0
failed = nil

local logins = {}
local acs, client_auth, token_body_start, sample
local n, step, login, started, cookie, code = 0, 0, nil, 0, nil, nil

function init(args)
  acs, client_auth, sample = args[2], args[3], tonumber(args[5])
  token_body_start = "grant_type=authorization_code&redirect_uri=" .. args[4] .. "&code="
  for line in io.lines(args[1] .. "." .. thread_number) do
    local form, address, authorize, verifier, nonce =
      line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
    logins[#logins + 1] = { form, address, authorize, verifier, nonce }
  end
end

local function fail(status, body)
  errors = errors + 1
  if failed == nil then
    failed = string.format("step %d: %d %s", step, status, body:sub(1, 300):gsub("%s+", " "))
  end
  step = 0
end

function request()
  if step == 0 then
    n = n + 1
    login = logins[n]
    if login == nil then
      wrk.thread:stop() -- this thread's logins are used up: an assertion is good only once
      return wrk.format("GET", "/health") -- not sent: the thread stops first
    end
    started = now()
    return wrk.format("POST", acs, {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Forwarded-For"] = login[2],
    }, login[1])
  elseif step == 1 then
    return wrk.format("GET", login[3], { ["Cookie"] = cookie })
  end
  return wrk.format("POST", "/oidc/token", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = client_auth,
  }, token_body_start .. code .. "&code_verifier=" .. login[4])
end

function response(status, headers, body)
  if step == 0 then
    local set_cookie = headers["set-cookie"] or headers["Set-Cookie"]
    if status ~= 302 or set_cookie == nil then
      return fail(status, body)
    end
    cookie = set_cookie:match("^([^;]*)")
    step = 1
  elseif step == 1 then
    local location = headers["location"] or headers["Location"] or ""
    code = location:match("[?&]code=([^&]+)")
    if status ~= 302 or code == nil then
      return fail(status, body)
    end
    step = 2
  else
    local id_token = body:match('"id_token"%s*:%s*"([^"]+)"')
    if status ~= 200 or id_token == nil then
      return fail(status, body)
    end
    latencies[#latencies + 1] = now() - started
    if #tokens < sample then
      tokens[#tokens + 1] = id_token .. " " .. login[5]
    end
    step = 0
  end
end
