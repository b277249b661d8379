package bolt_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
)

// A message posted before a restart is still there after it: Post returns
// only once the message is on disk.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "herald-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "jobs.db")

	open := func() *herald.Service {
		st, err := bolt.Open(path, nil)
		if err != nil {
			panic(err)
		}
		svc, err := herald.New(herald.Options{Store: st})
		if err != nil {
			panic(err)
		}
		return svc
	}

	svc := open()
	if _, err := svc.Queue("jobs").Post(ctx, herald.Draft{Body: []byte("survive me")}); err != nil {
		panic(err)
	}
	svc.Close() // a crash would do as well: the post was acknowledged

	svc = open()
	defer svc.Close()
	c, err := svc.Queue("jobs").Claim(ctx, herald.ClaimOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(c.Messages[0].Body))
	// Output: survive me
}
