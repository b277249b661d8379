// Package httpapi serves herald over OpenStack Zaqar's v2 REST API, so that
// existing Zaqar clients (python-zaqarclient, the OpenStack CLI, gophercloud)
// work against a herald Service:
//
//	svc, _ := herald.New(herald.Options{Store: st})
//	http.ListenAndServe("127.0.0.1:8888", httpapi.New(svc, httpapi.Options{}))
//
// It is for programs that want a Zaqar-compatible endpoint; Go programs in
// the same process use package herald directly. cmd/heraldd is a ready
// server around it on a bolt file.
//
// The handler follows Zaqar's v2 API (the upstream reference is
// https://docs.openstack.org/api-ref/message/; httpapi/testdata holds
// exchanges recorded from the real server, which the golden tests replay):
// Zaqar's routes, status codes, headers (Location,
// X-Openstack-Request-Id), JSON shapes and error bodies
// ({"title", "description"}). Every request but GET / needs a Client-ID
// (a UUID unless Options.LaxClientID) and a project: X-Project-ID, or the
// project Options.Auth fixes. Herald's errors are mapped to status codes in
// one place (errors.go).
//
// # Routes
//
//	GET    /                                  version document (300)
//	GET    /v2/                               JSON-Home document
//	GET    /v2/ping                           204, or 503 if the store fails or cannot write
//	GET    /v2/health                         admin (Options.Admin), else 403
//	GET    /v2/queues                         ?marker, limit, detailed, with_count
//	PUT    /v2/queues/{q}                     201 created, 204 existed
//	GET    /v2/queues/{q}                     metadata with reserved defaults
//	PATCH  /v2/queues/{q}                     JSON-Patch (add, replace, remove)
//	DELETE /v2/queues/{q}                     204
//	GET    /v2/queues/{q}/stats
//	POST   /v2/queues/{q}/purge               {"resource_types": [...]}
//	POST   /v2/queues/{q}/share               pre-signed URL (Options.SignedURLKey)
//	POST   /v2/queues/{q}/messages            {"messages": [...]}
//	GET    /v2/queues/{q}/messages            ?marker, limit, echo, include_claimed, include_delayed; or ?ids=
//	DELETE /v2/queues/{q}/messages            ?ids= (claims ignored) or ?pop=N
//	GET    /v2/queues/{q}/messages/{id}
//	DELETE /v2/queues/{q}/messages/{id}       ?claim_id=
//	POST   /v2/queues/{q}/claims              ?limit; 201, or 204 if nothing to claim
//	GET    /v2/queues/{q}/claims/{id}
//	PATCH  /v2/queues/{q}/claims/{id}         renew
//	DELETE /v2/queues/{q}/claims/{id}         release
//	POST   /v2/queues/{q}/subscriptions
//	GET    /v2/queues/{q}/subscriptions       ?marker, limit
//	GET    /v2/queues/{q}/subscriptions/{id}
//	PATCH  /v2/queues/{q}/subscriptions/{id}
//	DELETE /v2/queues/{q}/subscriptions/{id}
//	PUT    /v2/queues/{q}/subscriptions/{id}/confirm
//
// With Options.Admin and Options.OpenPool, on a Service made with
// herald.Options.Pools (zaqar-v2 §8), to admins only like health (see
// Security):
//
//	GET    /v2/pools                          ?marker, limit (1..20, default 10), detailed
//	PUT    /v2/pools/{p}                      {"uri", "weight", "flavor"?, "options"?}: 201, upsert
//	GET    /v2/pools/{p}                      ?detailed (adds options)
//	PATCH  /v2/pools/{p}                      some of uri, weight, flavor, options: 200
//	DELETE /v2/pools/{p}                      204; 403 for the last pool of a flavor
//	GET    /v2/flavors                        ?marker, limit, detailed (adds capabilities)
//	PUT    /v2/flavors/{f}                    {"pool_list": [...], "capabilities"?}: 201
//	GET    /v2/flavors/{f}
//	PATCH  /v2/flavors/{f}                    {"pool_list": [...]}: 200
//	DELETE /v2/flavors/{f}                    204
//
// # Pools and flavors
//
// A pool made over HTTP is a herald.Pool whose store Options.OpenPool
// opens from the pool's uri and options; its weight is the herald
// weight. Zaqar's pool → flavor link (the pool's "flavor" field) is kept
// by the handler and made into herald terms: a pool with a flavor is
// FlavorOnly (queues without a _flavor never go to it, as in Zaqar), and
// it is in the pool list of the request's project's flavor of that name;
// PUT and PATCH of a flavor set the flavor of the pools they list (and
// clear it on pools they drop), DELETE clears it. Flavors are per project
// in herald as in Zaqar; pools are global. Options.VirtualPool plays
// Zaqar's enable_virtual_pool with one of the Service's own pools
// (heraldd --pools: its data file).
//
// # Proof with the real client
//
// zaqarclient_test/ binds python-zaqarclient's own functional test cases
// (queues, claims, subscriptions, health: 27 tests; pools and flavors: 10)
// to heraldd over HTTP; zaqarclient_test/run.sh starts heraldd --pools
// --admin on a temp bolt file on loopback, runs them with pytest and stops
// it. The pools and flavors cases make pools on mongodb://127.0.0.1:27017,
// which run.sh has heraldd open as memory stores (--memory-pool-schemes
// mongodb: test-only; heraldd refuses mongodb:// otherwise); the health,
// pools and flavors cases send X-Roles: admin, as against Zaqar in noauth
// mode. It needs the
// Debian packages python3-zaqarclient, python3-pytest, python3-mock,
// python3-testtools and python3-fixtures. All 37 pass (the real Zaqar
// server passes 24 of the 27).
//
// # Security
//
// Projects are isolated: every route acts on the one project the request
// was authenticated for. With Options.Auth nil (noauth) that is whatever
// X-Project-ID says, as in Zaqar; use TokenAuth or your own Auth on any
// network you do not trust. No header bypasses Auth except a valid
// pre-signed URL, whose signature the server made (Zaqar's EXTRA-SPEC
// bypass is not copied). Bodies are capped (Options.MaxMessagesPostSize,
// Options.MaxQueueMetadata) and never read past the cap.
//
// The admin routes (health, pools, flavors) answer 403 "Not authorized"
// to callers Options.IsAdmin refuses. Under noauth that is, by default,
// every request whose X-Roles header does not list admin, as Zaqar's
// role:admin policy reads roles from that header in noauth mode: like
// X-Project-ID it is the client's word, so it keeps honest clients off
// the admin routes, and only the network keeps the others off. Under an
// Auth set IsAdmin (TokenIn) to name the admins.
//
// # DEVIATIONS
//
// Where herald differs from Zaqar on purpose (DESIGN.md wins). The §
// numbers in this package's comments refer to the team's notes on Zaqar's
// v2 API (zaqar-v2.md), which are not shipped; each cited behaviour is
// pinned by a test here.
//
//   - Bodies over a cap answer 413 Request Entity Too Large, not 400, and a
//     declared Content-Length over the cap is refused before any byte is
//     read. A message body or batch over herald's limits (ErrTooLarge) is
//     413 too. Bodies without Content-Length (chunked) are accepted.
//   - IDs are ULIDs (26 characters), not ObjectIds or UUIDs, and message
//     markers are message IDs. Paging is FIFO-safe (M2, M6).
//   - Expired messages are invisible everywhere at once (B4), not up to a
//     minute later.
//   - A claim extends every message that would expire before the claim's
//     expiry plus grace to that time (C2); Zaqar leaves alone a message
//     that expires after the claim itself (in the same second, say).
//   - claim_count (shown by pop) counts every claim, with or without a
//     dead-letter queue, and pop shows claim_id null.
//   - claim_count survives renewals; a dead-letter move releases the
//     message, which keeps its own expiry unless the queue's
//     _dead_letter_queue_messages_ttl gives it a lifetime counted from
//     the move (C4, C6). The dead-letter queue is created if missing.
//   - A per-message "delay" is honoured on every queue, not only on queues
//     with a truthy _default_message_delay (M5), so listing hides delayed
//     messages unless include_delayed=true, and next links do not force
//     include_delayed=true. A delay of 0 on a queue with a default delay
//     takes the queue's default.
//   - GET on a queue shows no _enable_encrypt_messages key: herald does not
//     encrypt bodies at rest (and python-zaqarclient's tests expect none).
//   - Purge removes claimed messages too (their claims end) and every
//     subscription, not just the first page (Q6). Deleting a queue deletes
//     its subscriptions and pending deliveries (Q6); Zaqar keeps them.
//   - Stats count delayed messages as free, as Zaqar does, and oldest and
//     newest carry only href, age and created. A "damaged" count appears
//     when messages were set aside for bodies that failed their checksums
//     (M11; herald.Queue.Damaged lists them).
//   - A duplicate subscription POST answers 201 with the existing id even
//     if it is confirmed (Zaqar: 409). Subscriptions start confirmed unless
//     the Service's NotifyOptions.RequireConfirmation is set (Zaqar always
//     starts them unconfirmed). trust+http(s) subscribers are refused
//     (they need Keystone). Webhooks are retried on 5xx, 408 and 429, and
//     deliveries are durable (S2, S3).
//   - A project's queues and a queue's subscriptions are bounded
//     (Limits.MaxQueuesPerProject, MaxSubscriptionsPerQueue; L1, L2;
//     Zaqar has no such bounds): a PUT of a new queue, a POST of messages
//     or of a subscription that would create one past them answers 400
//     "Invalid API request", the description naming the limit and its
//     value. An existing queue or subscriber is never refused.
//   - Queue listing ignores Zaqar's name and metadata filters.
//   - A store that cannot serve (herald.ErrUnavailable: a full disk, a
//     read-only or failing device) answers 503 with a description naming
//     the kind of failure, never a file path; /v2/ping answers 503 and
//     health shows storage_reachable false with a storage_error while the
//     store's writes fail, until one succeeds (herald.Service.Health).
//   - A metadata PATCH never loses a concurrent PATCH's change (Zaqar's
//     read, patch, write can): it is written only over the metadata it
//     was applied to, and is applied again to newer metadata otherwise
//     (herald.Queue.UpdateMetadata), so it answers as if the two had run
//     one after the other (a replace or remove whose key the other
//     removed is 409). If UpdateMetadata runs out of attempts (its bound
//     is documented there) it answers 409 "Resource conflict".
//   - Pre-signed URL paths authorise themselves and what lies below them
//     at a '/' boundary, not any path they occur in (Zaqar's regex
//     search).
//   - GET on flavors needs the admin role too (Zaqar lets any caller read
//     flavors): all pools and flavors routes are admin routes.
//   - Pre-signed URL signatures are not Zaqar's: herald signs a versioned
//     text in which every field is length-prefixed, where Zaqar joins the
//     fields with the two characters backslash and n, which a project or
//     method may contain (a signature issued to project `Z\nB` for
//     DELETE,GET also verified for project B with URL-Methods
//     `DELETE,GET\nZ`). So a URL signed by a Zaqar server does not verify
//     on herald. share accepts only the methods DELETE, GET, HEAD,
//     OPTIONS, PATCH, POST and PUT and drops repeats; a signed request's
//     headers must be as share issued them (one line each, lists sorted
//     without repeats or spaces, URL-Expires as YYYY-MM-DDTHH:MM:SS),
//     else 404.
//   - Health reports storage_reachable with an empty operation_status:
//     no timed test operations.
//   - A message body posted through the Go API that is not JSON is shown
//     as a JSON string.
//   - Only the /v2 API is served; topics routes are not (yet).
//   - Pools: a pool that holds queues is not deleted (403 "Unable to
//     delete", as for the last pool of a flavor) and its uri does not
//     change (409): herald never strands a queue (queues never move), where
//     Zaqar drops the pool and leaves its queues' catalogue entries
//     pointing at nothing. An empty pool's uri may change: its store is
//     swapped.
//   - Pools made over HTTP are kept by the server, not in the catalog (a
//     pool's store is a Go value): Options.PoolsChanged hands them over
//     after each change and Options.Pools takes them back after a restart
//     (heraldd keeps them in <data>.pools.json, written atomically). The
//     Service's own pools (made with herald.Options.Pools) are not listed
//     or managed over HTTP, and their names are taken (409).
//   - A flavor's capabilities are ["1", "2", "4"] (FIFO, CLAIMS, AOD),
//     which every herald store gives, not the first pool's driver's set;
//     pools in a flavor are therefore always compatible. A request's
//     "capabilities" is checked to be an object and ignored, as in Zaqar.
//   - Herald's flavors name at least one pool: taking the last pool out of
//     a flavor of the request's project (PATCH or PUT of the pool with
//     another flavor or none) answers 403, like deleting it; delete the
//     flavor or give it other pools first. A pool's flavor link joins the
//     flavor of that name in the request's project only (Zaqar matches the
//     name in every project).
//   - heraldd opens pools on bolt:///abs/path.db and memory: URIs only
//     (400 "cannot connect" otherwise). For python-zaqarclient's tests,
//     whose pools are on mongodb://127.0.0.1:27017, zaqarclient_test/run.sh
//     gives heraldd --memory-pool-schemes mongodb, which opens those as
//     memory stores; without that flag a mongodb:// pool is refused.
//   - Pool weights are bounded by 0..2^32-1 as in Zaqar, but placement is
//     herald's (P2): among eligible pools in proportion to weight. The
//     virtual pool (Options.VirtualPool) takes queues without a flavor
//     only while no pool made over HTTP without a flavor has a weight,
//     as in Zaqar.
package httpapi
