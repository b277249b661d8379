package bolt_test

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// A damaged file's error says what is damaged, names the file and matches
// ErrCorrupt; never a Go runtime message (issue 14 item 15: a truncated
// file read "runtime error: invalid memory address or nil pointer
// dereference").
func TestDamagedFileTexts(t *testing.T) {
	truncatedTo := func(size int64) func(t *testing.T, path string) int64 {
		return func(t *testing.T, path string) int64 {
			require.NoError(t, os.Truncate(path, size))
			return size
		}
	}
	half := func(t *testing.T, path string) int64 {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		return truncatedTo(fi.Size()/2)(t, path)
	}
	truncatedRE := func(path string, size int64) string {
		return `^herald: bolt file ` + regexp.QuoteMeta(path) + ` is damaged: truncated \(size ` +
			strconv.FormatInt(size, 10) + ` bytes, expected at least (\d+)\)$`
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string) int64 // returns the size left, if truncated
		want   func(path string, size int64) string  // a regexp of the whole text
	}{
		{"truncated to half", half, truncatedRE},
		{"truncated to a third of a page", truncatedTo(1365), truncatedRE},
		{"truncated to two pages", truncatedTo(2 * int64(os.Getpagesize())), truncatedRE},
		{"foreign", func(t *testing.T, path string) int64 {
			require.NoError(t, os.WriteFile(path, []byte("PNG\x89 not a database at all\n"), 0o600))
			return 0
		}, func(path string, _ int64) string {
			return `^herald: bolt file ` + regexp.QuoteMeta(path) + ` is not a bbolt database, or both its meta pages are damaged$`
		}},
		{"meta pages trashed", func(t *testing.T, path string) int64 {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt(bytes.Repeat([]byte{0xAB}, 2*os.Getpagesize()), 0)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			return 0
		}, func(path string, _ int64) string {
			return `^herald: bolt file ` + regexp.QuoteMeta(path) + ` is not a bbolt database, or both its meta pages are damaged$`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := goodFile(t, 200)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			size := tc.damage(t, path)
			s, err := openWithin(t, path)
			if s != nil {
				s.Close()
			}
			require.ErrorIs(t, err, store.ErrCorrupt)
			m := regexp.MustCompile(tc.want(path, size)).FindStringSubmatch(err.Error())
			require.NotNil(t, m, "%q", err)
			if len(m) > 1 {
				need, _ := strconv.ParseInt(m[1], 10, 64)
				require.Greater(t, need, size)
				require.LessOrEqual(t, need, fi.Size())
			}
		})
	}
}

// A file truncated under an open store: the first read past the new end
// says so, where it read as a nil pointer dereference before.
func TestTruncatedWhileOpenText(t *testing.T) {
	path := goodFile(t, 200)
	s, err := openWithin(t, path)
	require.NoError(t, err)
	size := int64(3 * os.Getpagesize())
	require.NoError(t, os.Truncate(path, size))
	_, err = s.ListMessages(context.Background(), store.ListMessagesParams{
		Queue: fileQueue, Limit: 1000, IncludeClaimed: true, IncludeDelayed: true, Now: time.Now(),
	})
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.Regexp(t, `^herald: bolt file `+regexp.QuoteMeta(s.Path())+` is damaged: truncated \(size `+
		strconv.FormatInt(size, 10)+` bytes, expected at least \d+\)$`, err.Error())
	require.ErrorIs(t, s.Close(), store.ErrCorrupt)
}
