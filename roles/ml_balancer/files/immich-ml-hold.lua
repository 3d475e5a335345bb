-- Installed by homelab.immich (role ml_balancer), loaded by HAProxy under away policy wait.
-- http-request lua.immich_ml_hold <backend> <seconds>: holds a request while <backend> has no usable server (every
-- ML worker away or drained), up to <seconds>, then lets it go on (to a worker that is back, or to a 503 when none is).
-- Sleeping does not count against HAProxy's Lua time limits; the client waits with its connection open.
core.register_action("immich_ml_hold", { "http-req" }, function(txn, backend, seconds)
  local left = (tonumber(seconds) or 0) * 1000
  if left > 0 and txn.f:nbsrv(backend) == 0 then
    txn:Info("no ML worker is up: holding " .. (txn.sf:path() or "?") .. " for up to " .. seconds .. " s")
  end
  while left > 0 and txn.f:nbsrv(backend) == 0 do
    core.msleep(500)
    left = left - 500
  end
end, 2)
