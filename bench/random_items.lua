-- wrk script: GET /items/<random id>. With a million ids nearly every request
-- misses the L1 cache and Redis, so it runs Redis GET, the SQL query and Redis SET.
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/items/" .. math.random(1, 1000000))
end
