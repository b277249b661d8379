package netguard_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heraldmq/herald/internal/netguard"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// DenyPrivateTargets: which dialled addresses count as public, including
// IPv6 forms that embed or tunnel to an IPv4 address.
func TestPublicAddr(t *testing.T) {
	for addr, public := range map[string]bool{
		"93.184.216.34": true, "2606:2800:220:1::1": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "0.1.2.3": false, "224.0.0.1": false,
		"255.255.255.255": false, "198.18.0.1": false, "::1": false, "::": false,
		"fe80::1": false, "fc00::1": false, "fec0::1": false, "::ffff:127.0.0.1": false,
		"::127.0.0.1": false, "64:ff9b::a00:1": false, "64:ff9b:1::1": false,
		"2002:a00:1::1": false, "2001:0:4136:e378::1": false, "2001:db8::1": false, "100::1": false,
	} {
		require.Equal(t, public, netguard.PublicAddr(netip.MustParseAddr(addr)), addr)
	}
}

// InetAton reads what inet_aton(3) reads: one to four parts, each
// decimal, octal or hex, the last filling the remaining bytes.
func TestInetAton(t *testing.T) {
	for in, want := range map[string]string{
		"2130706433": "127.0.0.1", "0x7f000001": "127.0.0.1", "017700000001": "127.0.0.1",
		"0x7f.1": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "127.1": "127.0.0.1", "127.0.1": "127.0.0.1",
		"10.0x10.1": "10.16.0.1", "1.2.65535": "1.2.255.255", "0": "0.0.0.0", "0x": "0.0.0.0",
		"4294967295": "255.255.255.255", "0XA9.0XFE.0XA9.0XFE": "169.254.169.254",
		"4294967296": "", "256.1.1.1": "", "1.2.65536": "", "1.2.3.4.5": "", "08": "", "0x1g": "",
		"": "", "1..2": "", "+1": "", "-1": "", "1_0": "", "example": "", "1.2.3.": "",
	} {
		ip, ok := netguard.InetAton(in)
		if want == "" {
			require.False(t, ok, "%q read as %v", in, ip)
			continue
		}
		require.True(t, ok, in)
		require.Equal(t, want, ip.String(), in)
	}
}
