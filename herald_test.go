package herald_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newService returns a Service on a fresh memory store, closed when the
// test ends. edit, if given, adjusts the options first.
func newService(t *testing.T, edit ...func(*herald.Options)) *herald.Service {
	t.Helper()
	opts := herald.Options{Store: memory.New()}
	for _, e := range edit {
		e(&opts)
	}
	svc, err := herald.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	return svc
}

func post(t *testing.T, q *herald.Queue, bodies ...string) []herald.ID {
	t.Helper()
	drafts := make([]herald.Draft, len(bodies))
	for i, b := range bodies {
		drafts[i] = herald.Draft{Body: []byte(b)}
	}
	ids, err := q.Post(context.Background(), drafts...)
	require.NoError(t, err)
	require.Len(t, ids, len(bodies))
	return ids
}

func bodies(msgs []herald.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Body)
	}
	return out
}

func newMemory() *memory.Store { return memory.New() }
