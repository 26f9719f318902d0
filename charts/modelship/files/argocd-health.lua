-- Argo CD health check for modelship.io/ModelDeployment (docs/gitops.md). Install it as the argocd-cm key
-- resource.customizations.health.modelship.io_ModelDeployment. Written for Argo CD's Lua sandbox: only
-- the base and table libraries (no string library), the object as the global `obj`.
--
--   Progressing  the controller has not seen the latest spec, or Reconciling is True (a rollout step,
--                an analysis, replicas or GPUs on the way)
--   Suspended    the rollout is paused (a pause step, waiting for promotion, an inconclusive analysis)
--   Degraded     Stalled is True: a spec problem, a rollback, the progress deadline, failing pods
--   Healthy      Ready is True: the desired revision serves all of its traffic
local hs = { status = "Progressing", message = "Waiting for the modelship controller to report status" }

local status = obj.status
if status == nil then
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.message = "Waiting for the modelship controller to observe generation " .. generation
  return hs
end

local conditions = {}
if status.conditions ~= nil then
  for _, c in ipairs(status.conditions) do
    conditions[c.type] = c
  end
end

local function isTrue(type)
  local c = conditions[type]
  return c ~= nil and c.status == "True"
end

local function say(health, type)
  local c = conditions[type]
  local message = ""
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    message = c.message
  elseif c ~= nil and c.reason ~= nil then
    message = c.reason
  end
  return { status = health, message = message }
end

-- Stalled first: a rollout held after a failure is also Paused, and it needs a person, not patience.
if isTrue("Stalled") then
  return say("Degraded", "Stalled")
end
-- A controller older than the Stalled condition says the same with Degraded and RolledBack.
if isTrue("Degraded") then
  return say("Degraded", "Degraded")
end
if isTrue("RolledBack") then
  return say("Degraded", "RolledBack")
end
if isTrue("Paused") then
  return say("Suspended", "Paused")
end
if isTrue("Reconciling") then
  return say("Progressing", "Reconciling")
end
if isTrue("Ready") then
  return say("Healthy", "Ready")
end
if conditions["Ready"] ~= nil then
  return say("Progressing", "Ready")
end
return hs
