-- voice-check.lua: wrk script for the voice webhook that checks every
-- answer: it must put the call through to $WANT (digits). done() prints
-- how many answers did not, and the run's status counts.
--   WANT=316... wrk -t2 -c64 -d10s -s voice-check.lua "http://…/webhook-voice?source=…&destination=…&callID=x"
local threads = {}
local want = 'destination="' .. os.getenv("WANT") .. '"'

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrong, answers = 0, 0
end

function response(status, headers, body)
  answers = answers + 1
  if status ~= 200 or not string.find(body, want, 1, true) then
    wrong = wrong + 1
  end
end

function done(summary, latency, requests)
  local w, a = 0, 0
  for _, t in ipairs(threads) do
    w = w + t:get("wrong")
    a = a + t:get("answers")
  end
  io.write(string.format("answers checked: %d, wrong: %d\n", a, w))
end
