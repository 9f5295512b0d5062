-- GET /plaintext with HTTP/1.1 pipelining, as TechEmpower loads it: each write wrk makes
-- holds DEPTH requests back to back, and wrk counts every response it reads.
local DEPTH = 16

local batch

init = function(args)
  local one = wrk.format(nil, wrk.path)
  batch = string.rep(one, DEPTH)
end

request = function()
  return batch
end
