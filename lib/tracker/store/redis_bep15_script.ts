/**
 * The BEP 15 part of the Redis store's Lua script (redis_script.ts splices it in): operations
 * `bt_announce`, `bt_scrape`, `bt_expire` and `bt_counts`, run like every other operation of the
 * script (one operation of a batched `EVALSHA`, atomic). Arguments are built by
 * redis_bep15_store.ts. Info hashes and peers travel and are stored as lowercase hex (the batch
 * is JSON text: raw bytes would not survive it), a peer as its compact entry (address ‖ port:
 * 12 hex digits for IPv4, 36 for IPv6), so a reply's peers are one concatenated string.
 *
 * Keys (P the store's prefix, `{swarm}` by default: its hash tag keeps them in the slot of the
 * rest of the store, so a batch mixing native and BEP 15 operations stays on one Cluster slot):
 *
 * | key           | type | holds                                                                  |
 * | ------------- | ---- | ---------------------------------------------------------------------- |
 * | `P:bt:seen`   | ZSET | `IH:PEER` → last heard (ms): expiry by deadline, no scan; ≤ maxPeers   |
 * | `P:bt:h:IH`   | HASH | PEER → flags (1 seeding, 2 completed counted); `s`, `l`, `d` the counts |
 * | `P:bt:4:IH`   | ZSET | the swarm's IPv4 peers (score 0, by entry): the window of a reply      |
 * | `P:bt:6:IH`   | ZSET | the swarm's IPv6 peers                                                 |
 * | `P:bt:n`      | STR  | swarms with at least one peer                                          |
 *
 * A swarm holds at most `maxPeersPerSwarm` peers and all swarms `maxPeers` (both checked when a
 * peer joins); a swarm's keys are deleted with its last peer (its download count with them, as
 * in the memory store).
 * @module
 */

/** Lua defining `bep15(ARGV)`, spliced into the store's script after its helpers. */
export const BEP15_LUA = `
local BT = P..':bt:'
local function btZ(ih, peer)
  if #peer == 12 then return BT..'4:'..ih end
  return BT..'6:'..ih
end

local function btRemove(ih, peer)
  local hk = BT..'h:'..ih
  local f = redis.call('HGET', hk, peer)
  if not f then return false end
  redis.call('HDEL', hk, peer)
  redis.call('ZREM', btZ(ih, peer), peer)
  redis.call('ZREM', BT..'seen', ih..':'..peer)
  if tonumber(f) % 2 == 1 then redis.call('HINCRBY', hk, 's', -1)
  else redis.call('HINCRBY', hk, 'l', -1) end
  local c = redis.call('HMGET', hk, 's', 'l')
  if tonumber(c[1] or '0') + tonumber(c[2] or '0') <= 0 then
    redis.call('DEL', hk)
    redis.call('DECR', BT..'n')
  end
  return true
end

-- Removes up to max peers last heard before cutoff; appends member, last heard to out.
local function btExpire(cutoff, max, out)
  if max <= 0 then return out end
  local m = redis.call('ZRANGEBYSCORE', BT..'seen', '-inf', '('..cutoff, 'WITHSCORES', 'LIMIT', 0, max)
  for i = 1, #m, 2 do
    btRemove(string.sub(m[i], 1, 40), string.sub(m[i], 42))
    out[#out + 1] = m[i]
    out[#out + 1] = m[i + 1]
  end
  return out
end

local function bep15(A)
  local op = A[1]
  if op == 'bt_expire' then return btExpire(A[3], tonumber(A[4]), {}) end
  if op == 'bt_counts' then
    return {redis.call('ZCARD', BT..'seen'), tonumber(redis.call('GET', BT..'n') or '0')}
  end
  if op == 'bt_scrape' then
    local ex = btExpire(A[3], tonumber(A[4]), {})
    local out = {}
    for i = 5, #A do
      local c = redis.call('HMGET', BT..'h:'..A[i], 's', 'd', 'l')
      out[#out + 1] = tonumber(c[1] or '0')
      out[#out + 1] = tonumber(c[2] or '0')
      out[#out + 1] = tonumber(c[3] or '0')
    end
    for i = 1, #ex do out[#out + 1] = ex[i] end
    return out
  end
  if op ~= 'bt_announce' then return redis.error_reply('unknown operation ' .. tostring(op)) end
  local ih, peer, ev, seeding, now = A[3], A[4], A[5], tonumber(A[6]), A[7]
  local want, rand, cutoff, lazy = tonumber(A[8]), tonumber(A[9]), A[10], tonumber(A[11])
  local maxPeers, maxSwarm, storable = tonumber(A[12]), tonumber(A[13]), A[14] == '1'
  local ex = btExpire(cutoff, lazy, {})
  local hk = BT..'h:'..ih
  local status, done, stored = 'unknown', 0, false
  if ev == 'stopped' then
    if btRemove(ih, peer) then status = 'stopped' end
  else
    local f = redis.call('HGET', hk, peer)
    if f then
      status, stored = 'refreshed', true
      f = tonumber(f)
      local g = f
      if f % 2 ~= seeding then
        g = f - f % 2 + seeding
        redis.call('HINCRBY', hk, 's', 2 * seeding - 1)
        redis.call('HINCRBY', hk, 'l', 1 - 2 * seeding)
      end
      if ev == 'completed' and g < 2 then
        g = g + 2
        redis.call('HINCRBY', hk, 'd', 1)
        done = 1
      end
      if g ~= f then redis.call('HSET', hk, peer, g) end
      redis.call('ZADD', BT..'seen', now, ih..':'..peer)
    elseif storable then
      local c = redis.call('HMGET', hk, 's', 'l')
      local n = tonumber(c[1] or '0') + tonumber(c[2] or '0')
      if redis.call('ZCARD', BT..'seen') >= maxPeers then status = 'full_tracker'
      elseif n >= maxSwarm then status = 'full_swarm'
      else
        if n == 0 then redis.call('INCR', BT..'n') end
        local g = seeding
        if ev == 'completed' then
          g = g + 2
          redis.call('HINCRBY', hk, 'd', 1)
          done = 1
        end
        redis.call('HSET', hk, peer, g)
        if seeding == 1 then redis.call('HINCRBY', hk, 's', 1) else redis.call('HINCRBY', hk, 'l', 1) end
        redis.call('ZADD', btZ(ih, peer), 0, peer)
        redis.call('ZADD', BT..'seen', now, ih..':'..peer)
        status, stored = 'joined', true
      end
    end
  end
  local c = redis.call('HMGET', hk, 's', 'l')
  local out = {status, done, tonumber(c[1] or '0'), tonumber(c[2] or '0'), ''}
  if want > 0 then
    -- A window of the family's peers from a random place, wrapping, without the requester.
    local z = btZ(ih, peer)
    local n = redis.call('ZCARD', z)
    local self = 0
    if stored then self = 1 end
    local k = math.min(want, n - self)
    if k > 0 then
      local start = math.floor(rand * n)
      local fetch = math.min(k + self, n)
      local got = redis.call('ZRANGE', z, start, start + fetch - 1)
      if #got < fetch then
        local more = redis.call('ZRANGE', z, 0, fetch - #got - 1)
        for i = 1, #more do got[#got + 1] = more[i] end
      end
      local sel = {}
      for i = 1, #got do
        if #sel >= k then break end
        if got[i] ~= peer then sel[#sel + 1] = got[i] end
      end
      out[5] = table.concat(sel)
    end
  end
  for i = 1, #ex do out[#out + 1] = ex[i] end
  return out
end
`;
