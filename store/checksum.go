package store

import "hash/crc32"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC32C of body (M11). Stores record it on post and
// compare it on every read: a message that fails is never returned but set
// aside (see DamagedMessage); other records that fail give ErrCorrupt.
func Checksum(body []byte) uint32 { return crc32.Checksum(body, castagnoli) }
