-- wrk script: POSTs bench/policies/body1k.json (1 KiB of JSON that the
-- schema in validate_1k.yaml accepts) on every request. Run from the
-- repository root: wrk -s bench/policies/post1k.lua http://LISTEN_ADDR/
local f = assert(io.open("bench/policies/body1k.json", "rb"))
local body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
