// Command pipeline is consume-transform-produce between two durable
// queues: a pricing stage consumes orders and, for each, posts an invoice
// and deletes the order in one Service.Tx step, so a crash can never leave
// an order both invoiced and pending (a duplicate) or neither (a loss). A
// billing stage consumes the invoices and checks that each order was
// invoiced exactly once.
//
//	go run ./examples/pipeline [-db pipeline.db] [-orders 5000]
//
// Without -db the file lives in a temporary directory removed at exit.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
)

func main() {
	db := flag.String("db", "", "bolt file to keep the queues in (default: a temporary one)")
	orders := flag.Int("orders", 5000, "orders to post")
	flag.Parse()
	if err := run(*db, *orders, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(path string, orders int, out io.Writer) error {
	if path == "" {
		dir, err := os.MkdirTemp("", "pipeline")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "pipeline.db")
	}
	st, err := bolt.Open(path, nil)
	if err != nil {
		return err
	}
	svc, err := herald.New(herald.Options{Store: st})
	if err != nil {
		st.Close()
		return err
	}
	defer svc.Close()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	orderQ, invoiceQ := svc.Queue("orders"), svc.Queue("invoices")
	start := time.Now()
	batch := make([]herald.Draft, 0, 100)
	for n := 1; n <= orders; n++ { // order n costs n cents
		batch = append(batch, herald.Draft{Body: []byte(fmt.Sprintf("order %d", n))})
		if len(batch) == cap(batch) || n == orders {
			if _, err := orderQ.Post(ctx, batch...); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}

	// Pricing: an order in, an invoice out, in one atomic step.
	price := func(ctx context.Context, m herald.Message) error {
		n, err := strconv.Atoi(strings.TrimPrefix(string(m.Body), "order "))
		if err != nil {
			return herald.Permanent(err)
		}
		invoice := fmt.Sprintf("invoice %d cents %d", n, n)
		_, err = svc.Tx(ctx, func(tx *herald.Tx) error {
			tx.Post(invoiceQ, herald.Draft{Body: []byte(invoice)})
			tx.DeleteClaimed(herald.ClaimOf(ctx), m.ID)
			return nil
		})
		return err
	}

	// Billing: count each order's invoices and sum them.
	var mu sync.Mutex
	invoiced := make(map[int]int)
	var cents int64
	bill := func(ctx context.Context, m herald.Message) error {
		var n, c int
		if _, err := fmt.Sscanf(string(m.Body), "invoice %d cents %d", &n, &c); err != nil {
			return herald.Permanent(err)
		}
		mu.Lock()
		defer mu.Unlock()
		invoiced[n]++
		cents += int64(c)
		if len(invoiced) == orders {
			stop()
		}
		return nil
	}

	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = orderQ.Consume(ctx, price, herald.ConsumeOptions{Concurrency: 4}) })
	wg.Go(func() { errs[1] = invoiceQ.Consume(ctx, bill, herald.ConsumeOptions{Concurrency: 4}) })
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	elapsed := time.Since(start)

	dups := 0
	for _, k := range invoiced {
		dups += k - 1
	}
	want := int64(orders) * int64(orders+1) / 2
	fmt.Fprintf(out, "orders %d  invoiced %d  duplicates %d  billed %d cents  in %v (%.0f orders/s)\n",
		orders, len(invoiced), dups, cents, elapsed.Round(time.Millisecond), float64(orders)/elapsed.Seconds())
	if len(invoiced) != orders || dups != 0 || cents != want {
		return fmt.Errorf("want every order invoiced once and %d cents billed", want)
	}
	return nil
}
