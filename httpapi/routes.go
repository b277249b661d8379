package httpapi

// routes registers every route of the API (zaqar-v2 §§1–9); the pools
// and flavors admin routes (§8) only with Options.Admin and OpenPool.
func (h *handler) routes() {
	h.handle("GET /v2", h.home)
	h.handle("GET /v2/{$}", h.home)
	h.handle("GET /v2/ping", h.ping)
	h.handle("GET /v2/health", h.health)

	h.handle("GET /v2/queues", h.listQueues)
	h.handle("PUT /v2/queues/{queue}", h.createQueue)
	h.handle("GET /v2/queues/{queue}", h.getQueue)
	h.handle("PATCH /v2/queues/{queue}", h.patchQueue)
	h.handle("DELETE /v2/queues/{queue}", h.deleteQueue)
	h.handle("GET /v2/queues/{queue}/stats", h.queueStats)
	h.handle("POST /v2/queues/{queue}/purge", h.purgeQueue)
	h.handle("POST /v2/queues/{queue}/share", h.share)

	h.handle("POST /v2/queues/{queue}/messages", h.postMessages)
	h.handle("GET /v2/queues/{queue}/messages", h.getMessages)
	h.handle("DELETE /v2/queues/{queue}/messages", h.deleteMessages)
	h.handle("GET /v2/queues/{queue}/messages/{id}", h.getMessage)
	h.handle("DELETE /v2/queues/{queue}/messages/{id}", h.deleteMessage)

	h.handle("POST /v2/queues/{queue}/claims", h.createClaim)
	h.handle("GET /v2/queues/{queue}/claims/{id}", h.getClaim)
	h.handle("PATCH /v2/queues/{queue}/claims/{id}", h.renewClaim)
	h.handle("DELETE /v2/queues/{queue}/claims/{id}", h.releaseClaim)

	h.handle("POST /v2/queues/{queue}/subscriptions", h.subscribe)
	h.handle("GET /v2/queues/{queue}/subscriptions", h.listSubscriptions)
	h.handle("GET /v2/queues/{queue}/subscriptions/{id}", h.getSubscription)
	h.handle("PATCH /v2/queues/{queue}/subscriptions/{id}", h.patchSubscription)
	h.handle("DELETE /v2/queues/{queue}/subscriptions/{id}", h.unsubscribe)
	h.handle("PUT /v2/queues/{queue}/subscriptions/{id}/confirm", h.confirmSubscription)

	if h.o.Admin && h.o.OpenPool != nil {
		h.handle("GET /v2/pools", h.adminOnly(h.listPools))
		h.handle("PUT /v2/pools/{pool}", h.adminOnly(h.putPool))
		h.handle("GET /v2/pools/{pool}", h.adminOnly(h.getPool))
		h.handle("PATCH /v2/pools/{pool}", h.adminOnly(h.patchPool))
		h.handle("DELETE /v2/pools/{pool}", h.adminOnly(h.deletePool))

		h.handle("GET /v2/flavors", h.adminOnly(h.listFlavors))
		h.handle("PUT /v2/flavors/{flavor}", h.adminOnly(h.putFlavor))
		h.handle("GET /v2/flavors/{flavor}", h.adminOnly(h.getFlavor))
		h.handle("PATCH /v2/flavors/{flavor}", h.adminOnly(h.patchFlavor))
		h.handle("DELETE /v2/flavors/{flavor}", h.adminOnly(h.deleteFlavor))
	}
}
