-- wrk script: each request carries the next token of a file (one token a line), so that no
-- token comes back before the whole file has gone by.
--
--   wrk -t2 -c8 -d5s -s bench/tokens.lua URL -- TOKENS_FILE THREADS [START]
--
-- THREADS must be wrk's -t: thread i sends tokens START+i, START+i+THREADS, ... (wrapping around),
-- so the threads never send the same token at the same time. Pass a START past the tokens of
-- the previous run, so that a new run does not begin with tokens a worker just cached.

local threads = 0

function setup(thread)
   thread:set("index", threads)
   threads = threads + 1
end

function init(args)
   tokens = {}
   for line in io.lines(args[1]) do
      if #line > 0 then
         tokens[#tokens + 1] = line
      end
   end
   step = tonumber(args[2])
   position = ((tonumber(args[3]) or 0) + index) % #tokens
end

function request()
   local token = tokens[position + 1]
   position = (position + step) % #tokens
   return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. token })
end
