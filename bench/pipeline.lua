-- wrk script for the pipelined HTTP scenarios: each request() sends
-- depth requests at once (wrk ... -s pipeline.lua URL -- depth), and wrk
-- counts every response.
init = function(args)
  local r = {}
  for i = 1, tonumber(args[1]) do r[i] = wrk.format() end
  req = table.concat(r)
end
request = function() return req end
