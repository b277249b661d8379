package herald

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// S3: Zaqar's back-off sequences for the default 5..30 s (zaqar-v2 §7.5).
func TestRetryPolicyBackoffMatchesZaqar(t *testing.T) {
	for fn, want := range map[string][]int{
		"linear":      {5, 10, 15, 20, 25},
		"geometric":   {5, 7, 12, 19, 30},
		"exponential": {5, 7, 12, 19, 30},
		"arithmetic":  {5, 7, 12, 20, 30},
	} {
		p := DefaultRetryPolicy()
		p.BackoffFunction = fn
		require.Equal(t, want, p.backoff(), fn)
	}
}

// S3: the default schedule is 3 immediate retries, 3 after 5 s, the
// linear back-off, 3 after 30 s: 14 retries, then exhausted.
func TestRetryPolicyDefaultSchedule(t *testing.T) {
	p := DefaultRetryPolicy()
	var got []time.Duration
	for n := 1; ; n++ {
		d, ok := p.Delay(n)
		if !ok {
			break
		}
		got = append(got, d)
	}
	s := time.Second
	require.Equal(t, []time.Duration{0, 0, 0, 5 * s, 5 * s, 5 * s, 5 * s, 10 * s, 15 * s, 20 * s, 25 * s, 30 * s, 30 * s, 30 * s}, got)
}

// Zaqar's precedence between a subscription's and a queue's policy.
func TestRetryPolicyPrecedence(t *testing.T) {
	sub, queue := DefaultRetryPolicy(), DefaultRetryPolicy()
	sub.MinimumDelay, queue.MinimumDelay = 1, 2
	require.Equal(t, 1, choosePolicy(sub, true, queue, true).MinimumDelay)
	require.Equal(t, 2, choosePolicy(sub, false, queue, true).MinimumDelay)
	require.Equal(t, 5, choosePolicy(sub, false, queue, false).MinimumDelay)
	queue.IgnoreSubscriptionOverride = true
	require.Equal(t, 2, choosePolicy(sub, true, queue, true).MinimumDelay)
	queue.IgnoreSubscriptionOverride, sub.IgnoreSubscriptionOverride = false, true
	require.Equal(t, 2, choosePolicy(sub, true, queue, true).MinimumDelay)
}

// Bad policies get ErrInvalidMetadata with Zaqar's rules; absent keys take
// the defaults.
func TestParseRetryPolicy(t *testing.T) {
	p, ok, err := parseRetryPolicy(json.RawMessage(`{"_retry_policy": {"minimum_delay": 1, "retry_backoff_function": "geometric"}}`))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 1, p.MinimumDelay)
	require.Equal(t, 30, p.MaximumDelay)
	_, ok, err = parseRetryPolicy(json.RawMessage(`{"other": 1}`))
	require.NoError(t, err)
	require.False(t, ok)
	for _, bad := range []string{
		`{"_retry_policy": {"minimum_delay": "5"}}`,
		`{"_retry_policy": {"minimum_delay": 25, "maximum_delay": 30}}`,
		`{"_retry_policy": {"maximum_delay": 1}}`,
		`{"_retry_policy": {"retry_backoff_function": "cubic"}}`,
		`{"_retry_policy": {"retries_with_no_delay": -1}}`,
		`{"_retry_policy": []}`,
		`[1]`,
	} {
		_, _, err := parseRetryPolicy(json.RawMessage(bad))
		require.ErrorIs(t, err, ErrInvalidMetadata, bad)
	}
}
