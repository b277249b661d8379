package herald

import (
	"encoding/json"
	"math"
	"time"

	"github.com/heraldmq/herald/store"
)

// RetryPolicy is Zaqar's delivery retry policy (S3, zaqar-v2 §7.5): after
// a failed first attempt, RetriesWithNoDelay immediate retries, then
// MinimumDelayRetries after MinimumDelay each, then a back-off phase whose
// delays BackoffFunction spreads from MinimumDelay to MaximumDelay in steps
// of 5 s, then MaximumDelayRetries after MaximumDelay each; then the
// delivery is kept as failed. It is read from a subscription's options or
// its queue's metadata under "_retry_policy", with Zaqar's JSON keys
// (seconds for delays).
type RetryPolicy struct {
	RetriesWithNoDelay  int    `json:"retries_with_no_delay"`
	MinimumDelayRetries int    `json:"minimum_delay_retries"`
	MinimumDelay        int    `json:"minimum_delay"`
	MaximumDelay        int    `json:"maximum_delay"`
	MaximumDelayRetries int    `json:"maximum_delay_retries"`
	BackoffFunction     string `json:"retry_backoff_function"`
	// IgnoreSubscriptionOverride, set on either policy, makes the queue's
	// policy win over the subscription's.
	IgnoreSubscriptionOverride bool `json:"ignore_subscription_override"`
}

// DefaultRetryPolicy is Zaqar's default: 3 immediate retries, 3 after 5 s,
// a linear back-off 5, 10 … 25 s, 3 after 30 s — 14 retries over about 3
// minutes.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		RetriesWithNoDelay: 3, MinimumDelayRetries: 3, MinimumDelay: 5,
		MaximumDelay: 30, MaximumDelayRetries: 3, BackoffFunction: "linear",
	}
}

// linearInterval is Zaqar's LINEAR_INTERVAL: the back-off step in seconds.
const linearInterval = 5

// retryPolicyKey is the options and metadata key of a retry policy.
const retryPolicyKey = "_retry_policy"

// parseRetryPolicy reads the "_retry_policy" object of a JSON object, with
// Zaqar's defaults for absent keys; ok is false when there is none.
func parseRetryPolicy(obj json.RawMessage) (p RetryPolicy, ok bool, err error) {
	var outer map[string]json.RawMessage
	if len(obj) > 0 {
		if err := json.Unmarshal(obj, &outer); err != nil {
			return p, false, store.Errorf(ErrInvalidMetadata, "options: %v", err)
		}
	}
	raw, ok := outer[retryPolicyKey]
	if !ok || string(raw) == "null" {
		return p, false, nil
	}
	p = DefaultRetryPolicy()
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, false, store.Errorf(ErrInvalidMetadata, "%s: %v", retryPolicyKey, err)
	}
	return p, true, p.check()
}

func (p RetryPolicy) check() error {
	switch {
	case p.RetriesWithNoDelay < 0 || p.MinimumDelayRetries < 0 || p.MaximumDelayRetries < 0:
		return store.Errorf(ErrInvalidMetadata, "%s: negative retry count", retryPolicyKey)
	case p.MinimumDelay < 0:
		return store.Errorf(ErrInvalidMetadata, "%s: minimum_delay %d: negative", retryPolicyKey, p.MinimumDelay)
	case p.MaximumDelay < p.MinimumDelay:
		return store.Errorf(ErrInvalidMetadata, "%s: maximum_delay %d below minimum_delay %d", retryPolicyKey, p.MaximumDelay, p.MinimumDelay)
	case p.MaximumDelay-p.MinimumDelay < 2*linearInterval:
		return store.Errorf(ErrInvalidMetadata, "%s: maximum_delay - minimum_delay must be at least %d", retryPolicyKey, 2*linearInterval)
	case p.MaximumDelay > 24*3600:
		return store.Errorf(ErrInvalidMetadata, "%s: maximum_delay %d: over a day", retryPolicyKey, p.MaximumDelay)
	}
	switch p.BackoffFunction {
	case "linear", "arithmetic", "geometric", "exponential":
		return nil
	}
	return store.Errorf(ErrInvalidMetadata, "%s: retry_backoff_function %q: want linear, arithmetic, geometric or exponential", retryPolicyKey, p.BackoffFunction)
}

// choosePolicy applies Zaqar's precedence: the queue's policy if either
// says ignore_subscription_override, else the subscription's if it has
// one, else the queue's, else the default.
func choosePolicy(sub RetryPolicy, subOK bool, queue RetryPolicy, queueOK bool) RetryPolicy {
	switch {
	case queueOK && (queue.IgnoreSubscriptionOverride || subOK && sub.IgnoreSubscriptionOverride):
		return queue
	case subOK:
		return sub
	case queueOK:
		return queue
	}
	return DefaultRetryPolicy()
}

// Delay returns the wait before retry number n (1 for the first retry after
// the first attempt failed), or false once the policy is exhausted.
func (p RetryPolicy) Delay(n int) (time.Duration, bool) {
	if n < 1 {
		return 0, true
	}
	if n <= p.RetriesWithNoDelay {
		return 0, true
	}
	n -= p.RetriesWithNoDelay
	if n <= p.MinimumDelayRetries {
		return seconds(p.MinimumDelay), true
	}
	n -= p.MinimumDelayRetries
	if backoff := p.backoff(); n <= len(backoff) {
		return seconds(backoff[n-1]), true
	} else {
		n -= len(backoff)
	}
	if n <= p.MaximumDelayRetries {
		return seconds(p.MaximumDelay), true
	}
	return 0, false
}

func seconds(s int) time.Duration { return time.Duration(s) * time.Second }

// backoff is the back-off phase's delays in seconds, as Zaqar computes them
// (zaqar/notification/tasks/webhook.py), with n = (max-min)/5 steps.
func (p RetryPolicy) backoff() []int {
	lo, hi := float64(p.MinimumDelay), float64(p.MaximumDelay)
	n := int((hi - lo) / linearInterval)
	out := make([]int, 0, n)
	switch p.BackoffFunction {
	case "linear":
		for d := p.MinimumDelay; d < p.MaximumDelay; d += linearInterval {
			out = append(out, d)
		}
	case "arithmetic":
		d := 2 * (hi - lo) / float64(n*(n-1))
		for i := 1; i <= n; i++ {
			out = append(out, int(lo+float64((i-1)*i)*d/2))
		}
	case "geometric", "exponential":
		if lo <= 0 { // a zero minimum has no ratio: step linearly instead
			return RetryPolicy{MinimumDelay: p.MinimumDelay, MaximumDelay: p.MaximumDelay, BackoffFunction: "linear"}.backoff()
		}
		k := math.Pow(hi/lo, 1/float64(n-1))
		for i := 1; i <= n; i++ {
			if p.BackoffFunction == "geometric" {
				out = append(out, int(lo*math.Pow(k, float64(i-1))))
			} else {
				out = append(out, int(lo/k*math.Pow(k, float64(i))))
			}
		}
	}
	return out
}
