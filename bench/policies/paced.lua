-- wrk script: each connection waits between requests so that all of them
-- together send about RATE requests a second (env RATE and CONNS, the -c
-- given to wrk). wrk's delay is in whole milliseconds: the fraction is
-- spread at random, so the mean wait is exact. Latency excludes the wait.
local rate = tonumber(os.getenv("RATE") or "1000")
local conns = tonumber(os.getenv("CONNS") or "20")
local gap = conns * 1000 / rate

function delay()
  local base = math.floor(gap)
  if math.random() < gap - base then
    return base + 1
  end
  return base
end
