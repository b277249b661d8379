package storetest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
	"github.com/heraldmq/herald/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDurabilitySubtestsRun exercises the restart subtests' own logic on a
// store that "reopens" by handing itself back, so they are proven to run
// and pass on a store that keeps everything, before any durable backend
// depends on them. It says nothing about durability.
func TestDurabilitySubtestsRun(t *testing.T) {
	storetest.Run(t, func(testing.TB) store.Store { return memory.New() }, storetest.Options{
		Reopen: func(_ *testing.T, s store.Store) store.Store { return s },
	})
}
