/**
 * The Lua script of the {@link RedisStore}: every tracker request is one operation of it, atomic.
 * `ARGV[1]` names the operation, `ARGV[2]` is the key prefix; the rest depends on the operation
 * (see redis_store.ts, which builds the arguments). `ARGV[1] = 'batch'` runs several operations
 * in one `EVALSHA` (redis_batch.ts collects them; `ARGV[3]` is a JSON array of operations, each
 * an array of its string arguments without the prefix) and answers one JSON array with one
 * reply per operation, in order: that is how a loaded tracker pays one round trip, and one
 * command's client-side encoding and parsing, for many requests.
 *
 * Keys (P is the prefix, `{swarm}` by default, a hash tag so that every key of one swarm lives
 * on one Redis Cluster slot):
 *
 * | key             | type | holds                                                            |
 * | --------------- | ---- | ---------------------------------------------------------------- |
 * | `P:seen`        | ZSET | node id → last heard (ms): expiry by deadline, no scan           |
 * | `P:p:ID`        | HASH | `h` address, `p` port, `k` rate key, `a`/`x`/`hk` address keys   |
 * | `P:po:ID`       | HASH | the peer's content key → name (≤ maxFiles fields)                |
 * | `P:pn:ID`       | HASH | the peer's name → content key                                    |
 * | `P:c:KEY`       | HASH | `size`, `n` owners, `cc` complete ones, `seq` hand-outs, `nseq`  |
 * | `P:ch:KEY`      | HASH | partial owner → share byte 0..254 (downloads in progress)         |
 * | `P:cd:KEY`      | SET  | complete owners (random draws for askers that want only them)    |
 * | `P:cr:KEY`      | ZSET | rated owners (≥ 1 byte/s) → rate key                             |
 * | `P:ci:KEY`      | ZSET | idle owners → hand-out order (never handed out: −random, first)  |
 * | `P:ca:KEY`      | HASH | rated owner → last hand-out (equal rate keys take turns)         |
 * | `P:cn:KEY`      | ZSET | names of the content → owners using it                           |
 * | `P:cno:KEY`     | HASH | name → order first announced (display-name ties)                 |
 * | `P:n:NAME`      | ZSET | contents announced under the name → owners using it              |
 * | `P:names`       | ZSET | every name announced (score 0: lexicographic, for LIST)          |
 * | `P:a:KEY`       | HASH | `p` peers and `f` ownerships of one address or prefix (limits)   |
 * | `P:files`       | STR  | contents with at least one owner                                 |
 * | `P:secret`      | STR  | the cookie secret all trackers of the store share                |
 * | `P:bt:…`        |      | the BEP 15 swarms (redis_bep15_script.ts)                        |
 *
 * Every key is removed when it becomes empty; none grows past `maxPeers × maxFiles` members.
 * The keys are built inside the script; a batch declares `P:seen` as its one KEYS entry, so a
 * Redis Cluster (and a cluster-aware client) routes it to the slot of the hash tag, where every
 * key it builds lives.
 * @module
 */
import { BEP15_LUA } from "./redis_bep15_script.ts";

/** The script. */
export const SWARM_SCRIPT = `
local P = ARGV[2]
local NEG = -math.huge
-- A NEED walks at most this many of a content's ranked owners; random draws fill the rest.
local WALK = 256
local function num(s) if s == nil or s == false or s == '-inf' then return NEG end return tonumber(s) end
local function fmt(x) if x == NEG then return '-inf' end return string.format('%.17g', x) end

local function check(id, h, port)
  local a = redis.call('HMGET', P..':p:'..id, 'h', 'p')
  if not a[1] then return 'unknown' end
  if a[1] ~= h or a[2] ~= port then return 'wrong_address' end
  return 'ok'
end

local function share(k, field, d)
  if not k or k == '' then return end
  local ak = P..':a:'..k
  redis.call('HINCRBY', ak, field, d)
  local v = redis.call('HMGET', ak, 'p', 'f')
  if tonumber(v[1] or '0') <= 0 and tonumber(v[2] or '0') <= 0 then redis.call('DEL', ak) end
end

local function shareCount(k, field)
  if not k or k == '' then return 0 end
  return tonumber(redis.call('HGET', P..':a:'..k, field) or '0')
end

local function linkName(name, key)
  if tonumber(redis.call('ZINCRBY', P..':n:'..name, 1, key)) == 1 then
    redis.call('ZADD', P..':names', 0, name)
  end
  if tonumber(redis.call('ZINCRBY', P..':cn:'..key, 1, name)) == 1 then
    redis.call('HSET', P..':cno:'..key, name, redis.call('HINCRBY', P..':c:'..key, 'nseq', 1))
  end
end

local function unlinkName(name, key)
  local nk = P..':n:'..name
  if tonumber(redis.call('ZINCRBY', nk, -1, key)) <= 0 then
    redis.call('ZREM', nk, key)
    if redis.call('EXISTS', nk) == 0 then redis.call('ZREM', P..':names', name) end
  end
  local cn = P..':cn:'..key
  if tonumber(redis.call('ZINCRBY', cn, -1, name)) <= 0 then
    redis.call('ZREM', cn, name)
    redis.call('HDEL', P..':cno:'..key, name)
  end
end

local function rank(id, key, k, floor, rand)
  if k >= floor then
    redis.call('ZADD', P..':cr:'..key, fmt(k), id)
  else
    redis.call('ZADD', P..':ci:'..key, -rand, id)
  end
end

local function drop(id, key, name)
  local ck = P..':c:'..key
  local ax = redis.call('HMGET', P..':p:'..id, 'a', 'x')
  share(ax[1], 'f', -1)
  share(ax[2], 'f', -1)
  redis.call('ZREM', P..':cr:'..key, id)
  redis.call('ZREM', P..':ci:'..key, id)
  redis.call('HDEL', P..':ca:'..key, id)
  if redis.call('HDEL', P..':ch:'..key, id) == 0 then
    redis.call('HINCRBY', ck, 'cc', -1)
    redis.call('SREM', P..':cd:'..key, id)
  end
  redis.call('HDEL', P..':po:'..id, key)
  local pn = P..':pn:'..id
  if redis.call('HGET', pn, name) == key then redis.call('HDEL', pn, name) end
  unlinkName(name, key)
  if redis.call('HINCRBY', ck, 'n', -1) <= 0 then
    redis.call('DEL', ck, P..':cr:'..key, P..':ci:'..key, P..':ca:'..key, P..':cn:'..key,
      P..':cno:'..key, P..':ch:'..key, P..':cd:'..key)
    redis.call('DECR', P..':files')
  end
end

local function removePeer(id)
  local po = P..':po:'..id
  local pairs_ = redis.call('HGETALL', po)
  for i = 1, #pairs_, 2 do drop(id, pairs_[i], pairs_[i + 1]) end
  local ax = redis.call('HMGET', P..':p:'..id, 'a', 'x')
  share(ax[1], 'p', -1)
  share(ax[2], 'p', -1)
  redis.call('DEL', P..':p:'..id, po, P..':pn:'..id)
  redis.call('ZREM', P..':seen', id)
  return #pairs_ / 2
end

-- The rate formula of upload_rate.ts addUpload: k = ln(rate(now) + bytes / tau) + now / tau.
local function credit(pid, bytes, now, tau, floor)
  local pk = P..':p:'..pid
  local k = num(redis.call('HGET', pk, 'k'))
  if bytes > 0 then
    local t = tonumber(now) / tau
    local rate = 0
    if k ~= NEG then rate = math.exp(k - t) end
    k = math.log(rate + bytes * 1000 / tau) + t
    redis.call('HSET', pk, 'k', fmt(k))
    if k >= floor then
      local keys = redis.call('HKEYS', P..':po:'..pid)
      for i = 1, #keys do
        redis.call('ZREM', P..':ci:'..keys[i], pid)
        redis.call('ZADD', P..':cr:'..keys[i], fmt(k), pid)
      end
    end
  end
  return k
end

${BEP15_LUA}
-- One operation; ARGV here is that operation's arguments (its name, the prefix, the rest).
-- (The body is not indented, to keep it as it was before batching.)
local function one(ARGV)
local op = ARGV[1]
if string.sub(op, 1, 3) == 'bt_' then return bep15(ARGV) end

if op == 'expire' then
  local cutoff, max = ARGV[3], tonumber(ARGV[4])
  local ids = redis.call('ZRANGEBYSCORE', P..':seen', '-inf', cutoff, 'WITHSCORES', 'LIMIT', 0, max)
  local out = {}
  for i = 1, #ids, 2 do
    local id = ids[i]
    local a = redis.call('HMGET', P..':p:'..id, 'h', 'p')
    local files = removePeer(id)
    out[#out + 1] = id
    out[#out + 1] = a[1] or ''
    out[#out + 1] = a[2] or '0'
    out[#out + 1] = tostring(files)
    out[#out + 1] = ids[i + 1]
  end
  return out
end

if op == 'rows' then
  local afterName, afterKey, limit, exact = ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
  local names
  if exact ~= '' then names = {exact}
  elseif afterName == '' then names = redis.call('ZRANGEBYLEX', P..':names', '-', '+', 'LIMIT', 0, limit)
  else names = redis.call('ZRANGEBYLEX', P..':names', '['..afterName, '+', 'LIMIT', 0, limit + 1) end
  local out = {}
  for i = 1, #names do
    if #out >= limit * 4 then break end
    local keys = redis.call('ZRANGE', P..':n:'..names[i], 0, -1)
    table.sort(keys)
    for j = 1, #keys do
      if #out >= limit * 4 then break end
      if not (names[i] == afterName and keys[j] <= afterKey) then
        local c = redis.call('HMGET', P..':c:'..keys[j], 'size', 'n')
        out[#out + 1] = names[i]
        out[#out + 1] = keys[j]
        out[#out + 1] = c[1] or '0'
        out[#out + 1] = c[2] or '0'
      end
    end
  end
  return out
end

if op == 'counts' then
  return {redis.call('ZCARD', P..':seen'), tonumber(redis.call('GET', P..':files') or '0')}
end

local id, h, port, now = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local pk = P..':p:'..id

if op == 'join' then
  local a = redis.call('HMGET', pk, 'h', 'p')
  if a[1] then
    if a[1] ~= h or a[2] ~= port then return 'wrong_address' end
    redis.call('ZADD', P..':seen', now, id)
    return 'refreshed'
  end
  if redis.call('ZCARD', P..':seen') >= tonumber(ARGV[7]) then return 'full' end
  local a, x, hk = ARGV[8] or '', ARGV[9] or '', ARGV[10] or ''
  if a ~= '' then
    if shareCount(a, 'p') >= tonumber(ARGV[11]) then return 'address_full' end
    if shareCount(x, 'p') >= tonumber(ARGV[12]) then return 'prefix_full' end
    share(a, 'p', 1)
    share(x, 'p', 1)
  end
  redis.call('HSET', pk, 'h', h, 'p', port, 'k', '-inf', 'a', a, 'x', x, 'hk', hk)
  redis.call('ZADD', P..':seen', now, id)
  return 'registered'
end

local status = check(id, h, port)
if op == 'check' or status ~= 'ok' then
  if op == 'own' or op == 'need' or op == 'update' or op == 'exit' or op == 'report' then
    return {status}
  end
  return status
end

if op == 'exit' then
  return {'ok', removePeer(id)}
end

redis.call('ZADD', P..':seen', now, id)
if op == 'touch' then return 'ok' end

if op == 'own' then
  local name, key, size, maxFiles = ARGV[7], ARGV[8], ARGV[9], tonumber(ARGV[10])
  local floor, rand, have = tonumber(ARGV[11]), tonumber(ARGV[12]), ARGV[13]
  local ck, ch = P..':c:'..key, P..':ch:'..key
  local known = redis.call('HGET', ck, 'size')
  if known and known ~= size then return {'size_mismatch', known} end
  local po, pn = P..':po:'..id, P..':pn:'..id
  local oldName = redis.call('HGET', po, key)
  if oldName and redis.call('HEXISTS', ch, id) == 1 then
    -- A download progresses (or completes); a complete owner never goes back to partial.
    if have == '255' then
      redis.call('HDEL', ch, id)
      redis.call('HINCRBY', ck, 'cc', 1)
      redis.call('SADD', P..':cd:'..key, id)
    else
      redis.call('HSET', ch, id, have)
    end
  end
  if oldName then
    if oldName ~= name then
      local other = redis.call('HGET', pn, name)
      if other then drop(id, other, name) end
      unlinkName(oldName, key)
      redis.call('HDEL', pn, oldName)
      redis.call('HSET', po, key, name)
      redis.call('HSET', pn, name, key)
      linkName(name, key)
    end
    return {'ok'}
  end
  local sameName = redis.call('HGET', pn, name)
  if not sameName then
    local files = redis.call('HLEN', po)
    if files >= maxFiles then return {'too_many_files', tostring(files)} end
    if ARGV[14] then
      local ax = redis.call('HMGET', pk, 'a', 'x')
      if shareCount(ax[1], 'f') >= tonumber(ARGV[14]) then return {'address_full'} end
      if shareCount(ax[2], 'f') >= tonumber(ARGV[15]) then return {'prefix_full'} end
    end
  end
  if sameName then drop(id, sameName, name) end
  if not known then
    redis.call('HSET', ck, 'size', size)
    redis.call('INCR', P..':files')
  end
  redis.call('HINCRBY', ck, 'n', 1)
  if have == '255' then
    redis.call('HINCRBY', ck, 'cc', 1)
    redis.call('SADD', P..':cd:'..key, id)
  else
    redis.call('HSET', ch, id, have)
  end
  local ax = redis.call('HMGET', pk, 'a', 'x')
  share(ax[1], 'f', 1)
  share(ax[2], 'f', 1)
  redis.call('HSET', po, key, name)
  redis.call('HSET', pn, name, key)
  linkName(name, key)
  rank(id, key, num(redis.call('HGET', pk, 'k')), floor, rand)
  if sameName then return {'ok', sameName} end
  return {'ok'}
end

if op == 'update' then
  local uploaded, tau, floor = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
  return {'ok', fmt(credit(id, uploaded, now, tau, floor))}
end

if op == 'report' then
  local key, budget, tau, floor = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
  local size = redis.call('HGET', P..':c:'..key, 'size')
  local room = 0
  if size then room = math.min(tonumber(size), budget) end
  local host = redis.call('HGET', pk, 'hk') or ''
  local credited, ignored = 0, 0
  for i = 11, #ARGV, 2 do
    local owner, bytes = ARGV[i], math.min(tonumber(ARGV[i + 1]), room)
    local ohost = redis.call('HGET', P..':p:'..owner, 'hk')
    if not size or not ohost or owner == id or bytes <= 0 or (host ~= '' and ohost == host)
      or not redis.call('HGET', P..':po:'..owner, key) then
      ignored = ignored + 1
    else
      room = room - bytes
      credited = credited + bytes
      credit(owner, bytes, now, tau, floor)
    end
  end
  return {'ok', tostring(credited), tostring(ignored)}
end

if op == 'need' then
  local byName, want, k, floor = ARGV[7] == '1', ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10])
  local mix, partial, nrand = tonumber(ARGV[11]), ARGV[12] == '1', tonumber(ARGV[13])
  local rand = {}
  for i = 1, nrand do rand[i] = tonumber(ARGV[13 + i]) end
  local ex = {}
  ex[id] = true
  local nex = 0
  for i = 14 + nrand, #ARGV do ex[ARGV[i]] = true; nex = nex + 1 end
  local key, alternatives, known = nil, 0, 0
  if byName then
    local nk = P..':n:'..want
    local top = redis.call('ZREVRANGE', nk, 0, 0, 'WITHSCORES')
    if #top == 0 then return {'ok', 0} end
    known = 1
    alternatives = redis.call('ZCARD', nk) - 1
    local max = tonumber(top[2])
    local mine = redis.call('HGET', P..':pn:'..id, want)
    local c1 = redis.call('ZRANGEBYSCORE', nk, max, max, 'LIMIT', 0, 2)
    if c1[1] ~= mine then key = c1[1]
    elseif c1[2] then key = c1[2]
    elseif max > 1 then
      local c2 = redis.call('ZRANGEBYSCORE', nk, max - 1, max - 1, 'LIMIT', 0, 1)
      key = mine
      if c2[1] and c2[1] < mine then key = c2[1] end
    end
    if not key then return {'ok', known} end
  else
    key = want
    if redis.call('EXISTS', P..':c:'..key) == 0 then return {'ok', 0} end
    known = 1
  end
  local ck, cr, ci, ca = P..':c:'..key, P..':cr:'..key, P..':ci:'..key, P..':ca:'..key
  local ch = P..':ch:'..key
  local nc = redis.call('HMGET', ck, 'n', 'cc')
  local owners, complete = tonumber(nc[1] or '0'), tonumber(nc[2] or '0')
  -- Rated owners whose rate decayed below 1 byte/s: idle, behind the never-handed-out ones.
  local low = redis.call('ZRANGEBYSCORE', cr, '-inf', '(' .. fmt(floor))
  for i = 1, #low do
    redis.call('ZREM', cr, low[i])
    redis.call('HDEL', ca, low[i])
    redis.call('ZADD', ci, 0, low[i])
  end
  local nextRand = 1
  -- Whether an owner is partial (one HEXISTS each, remembered): never a listing of all of them.
  local partialOf = {}
  local function isPartial(m)
    if complete == owners then return false end
    local v = partialOf[m]
    if v == nil then
      v = redis.call('HEXISTS', ch, m) == 1
      partialOf[m] = v
    end
    return v
  end
  -- Up to k owners not in ex (nor partial with skipPartial), best first, a share of mix
  -- places drawn at random from the rest; the hand-outs are recorded so equal owners take
  -- turns. At most WALK owners are walked.
  local function pick(k, mix, skipPartial, picked)
    local total = k
    if owners - 1 - nex > k then k = k - math.min(mix, k) end
    local function left(m) return ex[m] or (skipPartial and isPartial(m)) end
    local first, fromRated = #picked, 0
    local limit = math.min(k + nex + 1, WALK)
    local batch = redis.call('ZREVRANGEBYSCORE', cr, '+inf', fmt(floor), 'WITHSCORES', 'LIMIT', 0, limit)
    if #batch > 0 then
      local cand = {}
      for i = 1, #batch, 2 do cand[#cand + 1] = {batch[i], tonumber(batch[i + 1])} end
      if #cand == limit then
        -- The last score's group may go on past the batch: take all of it.
        local s = batch[#batch]
        local group = redis.call('ZRANGEBYSCORE', cr, s, s, 'LIMIT', 0, WALK)
        local seen = {}
        for i = 1, #cand do seen[cand[i][1]] = true end
        for i = 1, #group do
          if not seen[group[i]] then cand[#cand + 1] = {group[i], tonumber(s)} end
        end
      end
      local order = {}
      -- Last hand-outs, one HMGET per 256 candidates (not one HGET each).
      for from = 1, #cand, 256 do
        local ids = {}
        for i = from, math.min(from + 255, #cand) do ids[#ids + 1] = cand[i][1] end
        local at = redis.call('HMGET', ca, unpack(ids))
        for i = 1, #ids do order[ids[i]] = tonumber(at[i] or '0') end
      end
      table.sort(cand, function(a, b)
        if a[2] ~= b[2] then return a[2] > b[2] end
        if order[a[1]] ~= order[b[1]] then return order[a[1]] < order[b[1]] end
        return a[1] < b[1]
      end)
      for i = 1, #cand do
        if #picked - first >= k then break end
        if not left(cand[i][1]) then picked[#picked + 1] = cand[i][1] end
      end
      fromRated = #picked - first
    end
    if #picked - first < k then
      local from = 0
      while #picked - first < k and from < WALK do
        local idle = redis.call('ZRANGE', ci, from, from + math.min(k + nex, WALK))
        if #idle == 0 then break end
        for i = 1, #idle do
          if #picked - first >= k then break end
          if not left(idle[i]) then picked[#picked + 1] = idle[i] end
        end
        from = from + #idle
      end
    end
    local ranked = #picked - first
    if ranked > 0 then
      local seq = redis.call('HINCRBY', ck, 'seq', ranked) - ranked
      -- One HSET and one ZADD for the hand-outs (at most k of them), not one call each.
      local rated, idle = {}, {}
      for i = 1, ranked do
        if i <= fromRated then rated[#rated + 1] = picked[first + i]; rated[#rated + 1] = seq + i
        else idle[#idle + 1] = seq + i; idle[#idle + 1] = picked[first + i] end
      end
      if #rated > 0 then redis.call('HSET', ca, unpack(rated)) end
      if #idle > 0 then redis.call('ZADD', ci, unpack(idle)) end
    end
    if ranked < total and nextRand <= nrand then
      -- A share of the places to owners drawn at random (the random numbers come from the tracker).
      local inPicked = {}
      for i = 1, #picked do inPicked[picked[i]] = true end
      local nr = redis.call('ZCARD', cr)
      local all = nr + redis.call('ZCARD', ci)
      for t = 1, 4 * mix do
        if #picked - first >= total or nextRand > nrand then break end
        local i = math.floor(rand[nextRand] * all)
        nextRand = nextRand + 1
        local m
        if i < nr then m = redis.call('ZREVRANGE', cr, i, i)[1]
        else m = redis.call('ZRANGE', ci, i - nr, i - nr)[1] end
        if m and not left(m) and not inPicked[m] then
          picked[#picked + 1] = m
          inPicked[m] = true
        end
      end
    end
    if skipPartial and owners > WALK and #picked - first < total then
      -- The walk stopped short among many partial owners: complete ones drawn from P:cd.
      local inPicked = {}
      for i = 1, #picked do inPicked[picked[i]] = true end
      local some = redis.call('SRANDMEMBER', P..':cd:'..key, total + 18)
      for i = 1, #some do
        if #picked - first >= total then break end
        if not ex[some[i]] and not inPicked[some[i]] then picked[#picked + 1] = some[i] end
      end
    end
    return picked
  end
  -- Partial owners (downloads in progress) only for an asker that takes them.
  local picked = {}
  if not partial or complete == owners then
    if complete == 0 then return {'ok', known} end
    local skipPartial = false
    if complete < owners then
      -- Every partial owner is left out: counted as excluded (not listed: there may be many).
      skipPartial = true
      local extra = owners - complete
      for m in pairs(ex) do if isPartial(m) then extra = extra - 1 end end
      nex = nex + extra
    end
    pick(k, mix, skipPartial, picked)
  else
    -- The best half by the ranking, the rest at random among all other owners.
    local best = math.ceil(k / 2)
    pick(best, 0, false, picked)
    if #picked == best and owners > best + 1 and owners > WALK then
      -- Many owners: draws by rank (O(log n) each) in place of a listing of all of them.
      local inPicked = {}
      for i = 1, #picked do inPicked[picked[i]] = true end
      local nr = redis.call('ZCARD', cr)
      local all = nr + redis.call('ZCARD', ci)
      for t = 1, 4 * k do
        if #picked >= k then break end
        local r = rand[nextRand] or math.random()
        nextRand = nextRand + 1
        local i = math.floor(r * all)
        local m
        if i < nr then m = redis.call('ZREVRANGE', cr, i, i)[1]
        else m = redis.call('ZRANGE', ci, i - nr, i - nr)[1] end
        if m and not ex[m] and not inPicked[m] then
          picked[#picked + 1] = m
          inPicked[m] = true
        end
      end
    elseif #picked == best and owners > best + 1 then
      local inPicked = {}
      for i = 1, #picked do inPicked[picked[i]] = true end
      local others = {}
      for _, z in ipairs({redis.call('ZREVRANGE', cr, 0, -1), redis.call('ZRANGE', ci, 0, -1)}) do
        for i = 1, #z do
          if not ex[z[i]] and not inPicked[z[i]] then others[#others + 1] = z[i] end
        end
      end
      local i = 1
      while #picked < k and i <= #others do
        local r = rand[nextRand] or 0
        nextRand = nextRand + 1
        local j = i + math.floor(r * (#others - i + 1))
        others[i], others[j] = others[j], others[i]
        picked[#picked + 1] = others[i]
        i = i + 1
      end
    end
    local askerComplete = 0
    if redis.call('HEXISTS', P..':po:'..id, key) == 1 and not isPartial(id) then askerComplete = 1 end
    local has = false
    for i = 1, #picked do if not isPartial(picked[i]) then has = true end end
    if #picked > 0 and complete - askerComplete > 0 and not has then
      -- No complete owner among them: the best complete one takes the last place.
      local one = pick(1, 0, true, {})
      if one[1] then
        if #picked == k then picked[#picked] = one[1] else picked[#picked + 1] = one[1] end
      end
    end
  end
  if #picked == 0 then return {'ok', known} end
  local display = ''
  if not byName then
    local top = redis.call('ZREVRANGE', P..':cn:'..key, 0, 0, 'WITHSCORES')
    if #top > 0 then
      local names = redis.call('ZRANGEBYSCORE', P..':cn:'..key, top[2], top[2])
      local best = nil
      for i = 1, #names do
        local o = tonumber(redis.call('HGET', P..':cno:'..key, names[i]) or '0')
        if best == nil or o < best then best = o; display = names[i] end
      end
    end
  end
  local out = {'ok', known, key, redis.call('HGET', ck, 'size'), display, alternatives}
  for i = 1, #picked do
    local a = redis.call('HMGET', P..':p:'..picked[i], 'h', 'p', 'k')
    out[#out + 1] = picked[i]
    out[#out + 1] = a[1]
    out[#out + 1] = a[2]
    out[#out + 1] = a[3]
    local have = '255'
    if isPartial(picked[i]) then have = redis.call('HGET', ch, picked[i]) end
    out[#out + 1] = have
  end
  return out
end

return redis.error_reply('unknown operation ' .. tostring(op))
end

if ARGV[1] ~= 'batch' then return one(ARGV) end

-- A batch (redis_batch.ts): ARGV = 'batch', P, then one JSON array of operations, each an array
-- of strings (its name first, no prefix). The answer is one JSON array: one reply per
-- operation, in order ({"err": text} for one that failed; the others still run). JSON because
-- cjson decodes and encodes in C: one argument and one bulk reply instead of a RESP value per
-- argument, which the client would encode and parse one by one.
local ops = cjson.decode(ARGV[3])
local out = {}
for i = 1, #ops do
  local a = ops[i]
  table.insert(a, 2, P)
  local ok, r = pcall(one, a)
  if not ok then
    if type(r) == 'table' and r.err then r = {err = r.err} else r = {err = tostring(r)} end
  elseif r == nil then
    r = false
  end
  out[i] = r
end
return cjson.encode(out)
`;
