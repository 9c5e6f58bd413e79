//! The Lua scripts of `mode: exact`: one atomic script per decision, on
//! Redis's clock (`TIME`, in microseconds), over keys that share one hash
//! tag so a decision touches one cluster slot. Each script charges only
//! when every limit admits, as the local store does.
//!
//! Numbers are written back with `%.0f`: Lua 5.1 prints large numbers in
//! exponent form (`1.7e+15`), which would lose the microseconds.

use redis::Script;

/// GCRA. `KEYS[i]`: limit i's TAT; `ARGV`: per limit the emission
/// interval `T` and the span `T·C` (µs). Reply: per limit `wait` (-1 when
/// admitted), `remaining`, `reset` (µs).
pub(super) const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out, news, ok = {}, {}, true
for i = 1, #KEYS do
  local T, span = tonumber(ARGV[2*i-1]), tonumber(ARGV[2*i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  local new = math.max(tat, now) + T
  local allow_at = new - span
  if now < allow_at then
    ok = false
    out[3*i-2], out[3*i-1], out[3*i] = allow_at - now, 0, allow_at - now
  else
    news[i] = new
    out[3*i-2], out[3*i-1], out[3*i] = -1, math.floor((now + span - new) / T), new - now
  end
end
if ok then
  for i = 1, #KEYS do
    local ttl = math.ceil((news[i] - now) / 1000) + 1
    redis.call('SET', KEYS[i], string.format('%.0f', news[i]), 'PX', ttl)
  end
end
return out
";

/// Sliding window. `KEYS[i]`: limit i's hash {s, p, c} (window start,
/// previous and current counts); `ARGV`: per limit the period `P` (µs)
/// and the capacity. Reply as [`GCRA`]'s.
pub(super) const WINDOW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out, news, ok = {}, {}, true
for i = 1, #KEYS do
  local P, cap = tonumber(ARGV[2*i-1]), tonumber(ARGV[2*i])
  local v = redis.call('HMGET', KEYS[i], 's', 'p', 'c')
  local s, p, c = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0
  local start = now - (now % P)
  if s + P == start then p, c = c, 0 elseif s ~= start then p, c = 0, 0 end
  s = start
  local e = now - s
  local used = p * (P - e) / P + c
  if used + 1 > cap then
    ok = false
    local wait
    if c + 1 > cap then
      wait = s + P - now + (P - math.floor((cap - 1) * P / math.max(c, 1)))
    else
      wait = math.max(P - math.floor((cap - 1 - c) * P / math.max(p, 1)) - e, 1)
    end
    out[3*i-2], out[3*i-1], out[3*i] = wait, 0, wait
  else
    news[i] = {s, p, c + 1, P}
    out[3*i-2], out[3*i-1], out[3*i] = -1, math.floor(cap - used - 1), s + P - now
  end
end
if ok then
  for i = 1, #KEYS do
    local n = news[i]
    redis.call('HSET', KEYS[i], 's', string.format('%.0f', n[1]), 'p', n[2], 'c', n[3])
    redis.call('PEXPIRE', KEYS[i], math.ceil(2 * n[4] / 1000) + 1)
  end
end
return out
";

/// Quota. `KEYS[1..3]`: the counts of the previous, current and next
/// calendar windows by this node's clock; `ARGV`: their (start, end) in
/// Unix seconds, then the limit. Redis's clock picks the window (the
/// current one when it is in none). Reply: admitted (1/0), count after
/// the request, seconds to the window's end, the window's length.
pub(super) const QUOTA: &str = r"
local now = tonumber(redis.call('TIME')[1])
local w = 2
for i = 1, 3 do
  if now >= tonumber(ARGV[2*i-1]) and now < tonumber(ARGV[2*i]) then w = i end
end
local start, stop, limit = tonumber(ARGV[2*w-1]), tonumber(ARGV[2*w]), tonumber(ARGV[7])
local used = tonumber(redis.call('GET', KEYS[w]) or '0') or 0
local allowed = 0
if used < limit then
  used = redis.call('INCR', KEYS[w])
  redis.call('EXPIREAT', KEYS[w], stop + 86400)
  allowed = 1
end
return {allowed, used, math.max(stop - now, 0), stop - start}
";

/// The three scripts, hashed once.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) gcra: Script,
    pub(crate) window: Script,
    pub(crate) quota: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            gcra: Script::new(GCRA),
            window: Script::new(WINDOW),
            quota: Script::new(QUOTA),
        }
    }
}

/// A key's Redis name: `tg:<kind>:{<policy>:<key>}:<suffix>`. The braces
/// are the hash tag: every name of one decision has the same tag, so one
/// slot holds them (a `}` inside the key ends the tag early, still
/// identically for all of them).
pub(crate) fn key_name(kind: &str, policy: &str, key: &str, suffix: &str) -> String {
    format!("tg:{kind}:{{{policy}:{key}}}:{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_one_decision_share_one_hash_tag() {
        let tag = |name: &str| {
            let open = name.find('{').unwrap();
            let close = open + name[open..].find('}').unwrap();
            name[open + 1..close].to_string()
        };
        let a = key_name("rl", "p", "ip:1.2.3.4", "10/1000000000");
        let b = key_name("rl", "p", "ip:1.2.3.4", "5000/3600000000000");
        assert_eq!(tag(&a), tag(&b));
        assert_eq!(tag(&a), "p:ip:1.2.3.4");
        let odd_a = key_name("rl", "p", "h:a}b", "1");
        let odd_b = key_name("rl", "p", "h:a}b", "2");
        assert_eq!(tag(&odd_a), tag(&odd_b));
    }
}
