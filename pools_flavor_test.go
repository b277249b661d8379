package herald_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// P4: a queue created with a flavor lives on one of its pools; queues
// without one never go to a FlavorOnly pool; flavors are per project (T1).
func TestFlavorsPlaceQueues(t *testing.T) {
	ctx := t.Context()
	durable := memPool("durable1", 1)
	durable.FlavorOnly = true
	durable2 := memPool("durable2", 3)
	durable2.FlavorOnly = true
	svc := newPooled(t, []herald.Pool{memPool("fast", 1), durable, durable2})
	p := svc.Project("tenant")
	f := herald.Flavor{Name: "durable", Pools: []string{"durable1", "durable2"}, Capabilities: []string{"durable", "fifo"}}
	require.NoError(t, p.SetFlavor(ctx, f))
	got, err := p.Flavor(ctx, "durable")
	require.NoError(t, err)
	require.Equal(t, f, got)
	_, err = svc.Project("other").Flavor(ctx, "durable")
	require.ErrorIs(t, err, herald.ErrNotFound, "another project's flavor (T1)")

	withFlavor := herald.Metadata{}.WithOptions(herald.QueueOptions{Flavor: "durable"})
	on := map[string]int{}
	for i := range 40 {
		q := p.Queue(fmt.Sprintf("d%d", i))
		created, err := q.Create(ctx, withFlavor)
		require.NoError(t, err)
		require.True(t, created)
		on[poolOf(t, q)]++
		plain := p.Queue(fmt.Sprintf("plain%d", i))
		post(t, plain, "x")
		require.Equal(t, "fast", poolOf(t, plain), "a queue without a flavor stays off FlavorOnly pools")
	}
	require.Zero(t, on["fast"])
	require.Positive(t, on["durable1"])
	require.Greater(t, on["durable2"], on["durable1"], "weights apply within a flavor: %v", on)

	// The other project cannot use this project's flavor.
	_, err = svc.Project("other").Queue("d").Create(ctx, withFlavor)
	require.ErrorIs(t, err, herald.ErrInvalidMetadata)

	// Listing, replacing and deleting flavors.
	require.NoError(t, p.SetFlavor(ctx, herald.Flavor{Name: "anything", Pools: []string{"fast", "durable1"}}))
	list, err := p.Flavors(ctx, "", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"anything", "durable"}, flavorNames(list))
	list, err = p.Flavors(ctx, "anything", 1)
	require.NoError(t, err)
	require.Equal(t, []string{"durable"}, flavorNames(list))

	require.NoError(t, p.SetFlavor(ctx, herald.Flavor{Name: "durable", Pools: []string{"durable2"}}))
	q := p.Queue("after-replace")
	_, err = q.Create(ctx, withFlavor)
	require.NoError(t, err)
	require.Equal(t, "durable2", poolOf(t, q))

	require.NoError(t, p.DeleteFlavor(ctx, "durable"))
	require.NoError(t, p.DeleteFlavor(ctx, "durable"), "deleting a missing flavor")
	_, err = p.Queue("too-late").Create(ctx, withFlavor)
	require.ErrorIs(t, err, herald.ErrInvalidMetadata)
	require.Equal(t, "durable2", poolOf(t, q), "queues placed through a deleted flavor stay")
	post(t, q, "still works")

	// Setting a _flavor on an existing queue checks it but moves nothing.
	require.ErrorIs(t, q.SetMetadata(ctx, withFlavor), herald.ErrInvalidMetadata)
	require.ErrorIs(t, q.UpdateMetadata(ctx, func(m herald.Metadata) (herald.Metadata, error) {
		return m.WithOptions(herald.QueueOptions{Flavor: "durable"}), nil
	}), herald.ErrInvalidMetadata)
	require.NoError(t, q.SetMetadata(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{Flavor: "anything"})))
	require.Equal(t, "durable2", poolOf(t, q))
}

// P4: a flavor whose pools all have weight 0 takes no queue.
func TestFlavorWithoutWeight(t *testing.T) {
	ctx := t.Context()
	svc := newPooled(t, []herald.Pool{memPool("a", 1), memPool("z", 0)})
	p := svc.Project("")
	require.NoError(t, p.SetFlavor(ctx, herald.Flavor{Name: "zero", Pools: []string{"z"}}))
	_, err := p.Queue("q").Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{Flavor: "zero"}))
	require.ErrorIs(t, err, herald.ErrNoPool)
}

func flavorNames(fs []herald.Flavor) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

// P4 at run time: SetPoolFlavorOnly moves where new queues without a
// flavor go, and leaves placed queues where they are.
func TestSetPoolFlavorOnly(t *testing.T) {
	ctx := t.Context()
	svc := newPooled(t, []herald.Pool{memPool("a", 1), memPool("b", 1)})
	require.NoError(t, svc.SetPoolFlavorOnly(ctx, "a", true))
	info, err := svc.Pool(ctx, "a")
	require.NoError(t, err)
	require.True(t, info.FlavorOnly)
	for i := range 20 {
		q := svc.Queue(fmt.Sprintf("q%d", i))
		post(t, q, "x")
		require.Equal(t, "b", poolOf(t, q))
	}
	require.NoError(t, svc.SetPoolFlavorOnly(ctx, "a", false))
	require.NoError(t, svc.SetPoolFlavorOnly(ctx, "b", true))
	q := svc.Queue("after")
	post(t, q, "x")
	require.Equal(t, "a", poolOf(t, q))
	require.Equal(t, "b", poolOf(t, svc.Queue("q0")), "placed queues stay")
	require.ErrorIs(t, svc.SetPoolFlavorOnly(ctx, "nope", true), herald.ErrNotFound)
}
