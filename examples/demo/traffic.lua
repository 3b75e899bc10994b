-- API traffic for the demo: keep-alive requests over a few routes, one
-- tenant per wrk process (wrk -H "X-Tenant-Id: NAME").
local paths = {
	{ "GET", "/v1/items/42" },
	{ "GET", "/v1/items/7?expand=owner" },
	{ "POST", "/v1/orders", "{\"item\":42,\"qty\":1}" },
	{ "GET", "/v1/orders/1001" },
	{ "GET", "/v1/unknown" },
}
local reqs = {}
local i = 0

function init(args)
	for n = 1, #paths do
		local p = paths[n]
		local h = {}
		for k, v in pairs(wrk.headers) do   -- keep -H "X-Tenant-Id: ..."
			h[k] = v
		end
		if p[3] then
			h["Content-Type"] = "application/json"
		end
		reqs[n] = wrk.format(p[1], p[2], h, p[3])
	end
end

function request()
	i = i % #reqs + 1
	return reqs[i]
end
