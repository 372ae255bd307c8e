-- wrk script: cycles through the request paths in file $PATHS (one a line), each thread from its
-- own offset, with a browser's Accept-Encoding.
local paths = {}
for l in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = l end
local counter = 0
function setup(thread) counter = counter + 1; thread:set("id", counter) end
function init(args) i = id * 7919 end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1], {["Accept-Encoding"] = "gzip"})
end
