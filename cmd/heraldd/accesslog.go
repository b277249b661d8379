package main

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/heraldmq/herald/httpapi"
)

// statusWriter records what a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// accessLog logs one line per request: method, path, status, size,
// duration, project, request id and peer. The project is the one the
// request was served under (httpapi.TrackProject): under --auth token the
// token's, not the X-Project-ID it may claim; "" if it was refused first.
// Headers that carry secrets are never logged.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		r, project := httpapi.TrackProject(r)
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("query", r.URL.RawQuery),
			slog.Int("status", sw.status),
			slog.Int("bytes", sw.bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("project", project()),
			slog.String("request_id", w.Header().Get("X-Openstack-Request-Id")),
			slog.String("peer", r.RemoteAddr),
		)
	})
}
