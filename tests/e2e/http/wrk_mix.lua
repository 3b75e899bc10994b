-- Keep-alive traffic for three tenants over mixed routes, methods and
-- status codes, for tests/e2e/http_exact.sh.  No HEAD here (wrk's parser
-- would wait for a body); http_pipeline covers HEAD.  The ground truth for
-- this part is nginx's access log: wrk stops mid-flight at the deadline.
local tenants = { "t-acme", "t-beta", "t-gamma" }
local plan = {
	{ "GET", "/v1/items/1" },
	{ "GET", "/v1/items/22?page=2" },
	{ "GET", "/v1/users/u1/settings" },
	{ "PUT", "/upload", "{\"name\":\"seven\"}" },
	{ "DELETE", "/v1/items/8" },
	{ "POST", "/upload", string.rep("x", 1500) },
	{ "POST", "/readbody", "a=1&b=2" },
	{ "GET", "/static/small.txt" },
	{ "GET", "/static/big.txt" },
	{ "GET", "/empty" },
	{ "GET", "/chunked" },
	{ "GET", "/moved" },
	{ "GET", "/found" },
	{ "GET", "/nothing/here" },
	{ "GET", "/boom" },     -- nginx closes after a 500; wrk reconnects
	{ "GET", "/v1/orders/5/lines" },
}
local reqs = {}
local idx = 0

function init(args)
	for t = 1, #tenants do
		for i = 1, #plan do
			local p = plan[i]
			local h = { ["X-Tenant-Id"] = tenants[t] }
			if p[3] then
				h["Content-Type"] = "text/plain"
			end
			reqs[#reqs + 1] = wrk.format(p[1], p[2], h, p[3])
		end
	end
	idx = (tonumber(args[1]) or 0) % #reqs
end

function request()
	idx = idx % #reqs + 1
	return reqs[idx]
end
