module github.com/heraldmq/herald

go 1.25

require github.com/oklog/ulid/v2 v2.1.2

require (
	github.com/google/btree v1.1.3 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
)
