-- wrk script: the floor of serve's one-match latency, a merge PATCH of one annotation straight to
-- the API server with a bearer token ($TOKEN), a new value each time so every request writes.
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/merge-patch+json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local n = 0
request = function()
  n = n + 1
  local body = '{"metadata":{"annotations":{"force-sync":"floor-' .. n .. '"}}}'
  return wrk.format(nil, nil, nil, body)
end
