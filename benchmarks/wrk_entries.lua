-- wrk script: POST /v1/campaigns/<campaign>/entries, each request a new user
-- with its own valid JWT, read from the file in $TOKENS (one per line, from
-- `ticketctl token --user u --count N`). Threads take disjoint stripes.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  local f = assert(io.open(os.getenv("TOKENS"), "r"))
  local n = 0
  local stripes = tonumber(os.getenv("WRK_THREADS") or "2")
  for line in f:lines() do
    n = n + 1
    if n % stripes == id then tokens[#tokens + 1] = line end
  end
  f:close()
  i = 0
  path = os.getenv("ENTRY_PATH") or "/v1/campaigns/bench/entries"
end

function request()
  i = i + 1
  if i > #tokens then i = 1 end  -- out of users: repeats become 409 duplicates
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. tokens[i],
    ["Content-Type"] = "application/json",
  }, "{}")
end
