package bolt_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/store"
)

// Files and disks (RELIABILITY §6, D4, D5): damaged, foreign, locked, full
// and read-only files give errors, never a panic or a hang, and nothing
// acknowledged is lost.

var fileQueue = store.QueueRef{Name: "jobs"}

// goodFile writes a store with n messages and returns its path.
func goodFile(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "good.db")
	s, err := bolt.Open(path, nil)
	require.NoError(t, err)
	postFile(t, s, n)
	require.NoError(t, s.Close())
	return path
}

func postFile(t *testing.T, s *bolt.Store, n int) {
	t.Helper()
	for i := range n {
		_, err := s.PostMessages(context.Background(), store.PostParams{
			Queue: fileQueue, Messages: []store.Draft{{Body: bytes.Repeat([]byte{byte(i)}, 200)}}, Now: time.Now(),
		})
		require.NoError(t, err)
	}
}

// crashedFile is goodFile as a crash leaves it: copied while the store is
// open, after its last commit, so that bbolt's freelist was never written
// (the store does not write it with each commit) and Open must rebuild it
// by walking the file.
func crashedFile(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	s, err := bolt.Open(filepath.Join(dir, "live.db"), nil)
	require.NoError(t, err)
	postFile(t, s, n)
	data, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	require.NoError(t, s.Close())
	path := filepath.Join(dir, "crashed.db")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// openWithin opens path and fails the test if Open does not return within
// a second (D4: never a hang).
func openWithin(t *testing.T, path string) (*bolt.Store, error) {
	t.Helper()
	type result struct {
		s   *bolt.Store
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := bolt.Open(path, &bolt.Options{Timeout: 100 * time.Millisecond})
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-time.After(5 * time.Second): // generous on a loaded machine; a hang is forever
		t.Fatal("Open hung")
		return nil, nil
	}
}

func TestDamagedFiles(t *testing.T) {
	cases := map[string]func(t *testing.T, path string){
		"truncated": func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(path, fi.Size()/3))
		},
		"zeroed": func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, make([]byte, fi.Size()), 0o600))
		},
		"foreign": func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte("PNG\x89 not a database at all\n"), 0o600))
		},
		"garbage pages": func(t *testing.T, path string) { // meta pages intact, every data page trashed
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			page := os.Getpagesize()
			for i := 2 * page; i < len(data); i++ {
				data[i] = byte(i*7 + 3)
			}
			require.NoError(t, os.WriteFile(path, data, 0o600))
		},
		"meta pages trashed": func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt(bytes.Repeat([]byte{0xAB}, 2*os.Getpagesize()), 0)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		},
	}
	files := map[string]func(t *testing.T, n int) string{"closed": goodFile, "crashed": crashedFile}
	for name, damage := range cases {
		for kind, file := range files {
			t.Run(kind+"/"+name, func(t *testing.T) { damagedFile(t, file(t, 200), damage) })
		}
	}
}

// damagedFile damages the store file at path and checks that Open gives
// ErrCorrupt naming it, or a store whose calls fail cleanly.
func damagedFile(t *testing.T, path string, damage func(t *testing.T, path string)) {
	damage(t, path)
	s, err := openWithin(t, path)
	if err != nil {
		require.ErrorIs(t, err, store.ErrCorrupt)
		require.Contains(t, err.Error(), path, "the error names the file")
		return
	}
	// bbolt only finds damaged data pages when it reads them: every
	// call must then fail cleanly, and Verify must say so.
	defer s.Close()
	ctx := context.Background()
	_, err = s.ListMessages(ctx, store.ListMessagesParams{Queue: fileQueue, Limit: 1000, IncludeClaimed: true, IncludeDelayed: true, Now: time.Now()})
	requireNilOrCorrupt(t, err)
	_, err = s.CreateClaim(ctx, store.CreateClaimParams{Queue: fileQueue, TTL: time.Minute, Limit: 10, Now: time.Now()})
	requireNilOrCorrupt(t, err)
	require.ErrorIs(t, s.Verify(ctx), store.ErrCorrupt)
}

func requireNilOrCorrupt(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		require.ErrorIs(t, err, store.ErrCorrupt)
	}
}

// A 0-byte file is what a crash during the very first create leaves; bbolt
// makes it a new database, and so it becomes an empty store (documented).
func TestEmptyFileBecomesEmptyStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	s, err := openWithin(t, path)
	require.NoError(t, err)
	defer s.Close()
	qs, err := s.ListQueues(context.Background(), store.ListQueuesParams{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, qs)
}

const lockChildEnv = "HERALD_LOCK_CHILD"

// TestLockHolderChild holds a store open for TestLockedByAnotherProcess.
func TestLockHolderChild(t *testing.T) {
	path := os.Getenv(lockChildEnv)
	if path == "" {
		t.Skip("runs only as the child of TestLockedByAnotherProcess")
	}
	s, err := bolt.Open(path, nil)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	defer s.Close() // never runs: the parent kills us while we hold the lock
	fmt.Println("LOCKED")
	select {}
}

// D4: a file another process holds gives ErrLocked after the open timeout.
func TestLockedByAnotherProcess(t *testing.T) {
	path := goodFile(t, 1)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHolderChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "LOCKED\n", line)

	_, err = bolt.Open(path, &bolt.Options{Timeout: 50 * time.Millisecond})
	require.ErrorIs(t, err, store.ErrLocked)
}

// mountExt4 loop-mounts a fresh ext4 image of size bytes and returns its
// mount point, or skips the test saying why it cannot.
func mountExt4(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to loop-mount an ext4 image")
	}
	for _, tool := range []string{"mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "disk.img"), filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(mnt, 0o755))
	require.NoError(t, os.WriteFile(img, nil, 0o600))
	require.NoError(t, os.Truncate(img, size))
	if out, err := exec.Command("mkfs.ext4", "-q", img).CombinedOutput(); err != nil {
		t.Skipf("mkfs.ext4: %v: %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot loop-mount here: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	return mnt
}

// D5: a full disk gives errors, not a crash; everything acknowledged is
// still there and deletes still work. The error is ErrUnavailable with
// ENOSPC wrapped (§4), and OnWrite hears of the failure and of the next
// write that succeeds.
func TestFullDisk(t *testing.T) {
	mnt := mountExt4(t, 8<<20)
	path := filepath.Join(mnt, "full.db")
	s, err := bolt.Open(path, nil)
	require.NoError(t, err)
	ctx := context.Background()
	var writes []error
	s.OnWrite(func(err error) { writes = append(writes, err) }) // the test's calls are sequential
	body := bytes.Repeat([]byte("x"), 4000)
	var acked []store.ID
	var fullErr error
	for i := 0; i < 10_000 && fullErr == nil; i++ {
		ids, err := s.PostMessages(ctx, store.PostParams{Queue: fileQueue, Messages: []store.Draft{{Body: body}}, Now: time.Now()})
		if err != nil {
			fullErr = err
			break
		}
		acked = append(acked, ids...)
	}
	require.Error(t, fullErr, "an 8 MiB disk must fill up")
	require.NotEmpty(t, acked)
	t.Logf("disk full after %d messages: %v", len(acked), fullErr)
	require.ErrorIs(t, fullErr, store.ErrUnavailable)
	require.ErrorIs(t, fullErr, syscall.ENOSPC, "the cause is wrapped")
	require.Equal(t, "disk full", store.UnavailableReason(fullErr))
	require.NotContains(t, store.UnavailableReason(fullErr), mnt)
	require.Len(t, writes, len(acked)+1, "one report per commit")
	require.ErrorIs(t, writes[len(writes)-1], store.ErrUnavailable, "OnWrite hears of the failure")

	got, err := s.GetMessages(ctx, store.GetMessagesParams{Queue: fileQueue, IDs: acked, Now: time.Now()})
	require.NoError(t, err)
	require.Len(t, got, len(acked), "everything acknowledged is readable")
	require.NoError(t, s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: fileQueue, IDs: acked[:len(acked)/2], Now: time.Now()}),
		"deletes still work on a full disk")
	require.NoError(t, writes[len(writes)-1], "OnWrite hears that writes succeed again")
	require.NoError(t, s.Close())

	s, err = bolt.Open(path, nil)
	require.NoError(t, err, "reopen after the disk filled")
	defer s.Close()
	got, err = s.GetMessages(ctx, store.GetMessagesParams{Queue: fileQueue, IDs: acked, Now: time.Now()})
	require.NoError(t, err)
	require.Len(t, got, len(acked)-len(acked)/2, "the acknowledged deletes held and nothing else was lost")
	require.NoError(t, s.Verify(ctx))
}

// D5: a read-only filesystem gives an error from Open, not a crash:
// ErrUnavailable with EROFS wrapped.
func TestReadOnlyFilesystem(t *testing.T) {
	mnt := mountExt4(t, 4<<20)
	path := filepath.Join(mnt, "ro.db")
	s, err := bolt.Open(path, nil) // make the file while writable
	require.NoError(t, err)
	require.NoError(t, s.Close())
	if out, err := exec.Command("mount", "-o", "remount,ro", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v: %s", err, out)
	}
	_, err = openWithin(t, path)
	require.Error(t, err)
	require.True(t, errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "read-only"), "got %v", err)
	require.ErrorIs(t, err, store.ErrUnavailable, "a read-only file system is the storage's state (§4)")
	require.ErrorIs(t, err, syscall.EROFS)
	require.Equal(t, "read-only storage", store.UnavailableReason(err))
}
