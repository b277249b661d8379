package netguard

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/idna"

	"github.com/heraldmq/herald/store"
)

// CheckTarget refuses, under herald's NotifyOptions.DenyPrivateTargets, a webhook
// URL whose host is an address that is not public, written in any form
// the HTTP client would dial: IPv4 and IPv6 literals (zones, IPv4-mapped
// and the tunnelled forms PublicAddr knows), the decimal, octal and hex
// forms the C resolver reads (2130706433, 0x7f.1, 0177.0.0.1, 127.1),
// the Unicode digits and dots that net/http's IDNA mapping turns into
// them (１２７．０．０．１), with or without a final dot. Names, localhost
// included, are checked when they are dialled, on the address they
// resolve to then (DNS may change in between).
func CheckTarget(subscriber string, u *url.URL) error {
	host := u.Hostname()
	if ascii, err := idna.Lookup.ToASCII(host); err == nil {
		host = ascii // what net/http dials, whatever the user wrote
	}
	if ip, ok := hostAddr(strings.TrimSuffix(host, ".")); ok && !PublicAddr(ip) {
		return store.Errorf(store.ErrDeniedTarget, "subscriber %q: host %q is %s, not a public address", subscriber, u.Hostname(), ip)
	}
	return nil
}

// hostAddr reads host as an IP address, as netip does or as inet_aton
// does (what getaddrinfo, and so Go's cgo resolver, accepts).
func hostAddr(host string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, true
	}
	return InetAton(host)
}

// InetAton parses the IPv4 forms of inet_aton(3): one to four parts,
// each decimal, octal (leading 0) or hex (0x), the last filling the
// bytes the others leave (a, a.b, a.b.c, a.b.c.d).
func InetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		base, digits := 10, p
		switch {
		case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
			base, digits = 16, p[2:]
			if digits == "" {
				digits = "0" // inet_aton reads a bare 0x as 0
			}
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		if digits == "" || strings.ContainsAny(digits, "+-_") {
			return netip.Addr{}, false
		}
		n, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		bits := uint(8)
		if i == len(parts)-1 {
			bits = uint(32 - 8*(len(parts)-1))
		}
		if n >= 1<<bits {
			return netip.Addr{}, false
		}
		v = v<<bits | n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// CheckPostHeaders refuses post_headers whose names are not HTTP tokens
// or whose values hold control characters (CR and LF would split the
// request; Go's client refuses to send them anyway, so they could only
// fail every delivery).
func CheckPostHeaders(headers map[string]string) error {
	for name, value := range headers {
		if !httpguts.ValidHeaderFieldName(name) {
			return store.Errorf(store.ErrInvalidMetadata, "subscription options: post_headers name %q is not an HTTP header name", name)
		}
		if i := strings.IndexFunc(value, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
			return store.Errorf(store.ErrInvalidMetadata, "subscription options: post_headers %q: value %q has control character %q at byte %d",
				name, value, value[i], i)
		}
	}
	return nil
}

// Client follows no redirects (a webhook URL is what the subscriber
// gave) and, with denyPrivate, refuses to connect to addresses that are
// not public: the check runs on the address being dialled, after DNS.
func Client(denyPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if denyPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || !PublicAddr(ip) {
				return fmt.Errorf("%w: %s", store.ErrDeniedTarget, host)
			}
			return nil
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = d.DialContext
	tr.Proxy = nil // a proxy would dial for us, past the check
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// PublicAddr reports whether ip is a global unicast address outside the
// private, shared (100.64/10) and documentation ranges.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may reach private v4
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001::/32"),       // Teredo: tunnels to any v4
	netip.MustParsePrefix("2002::/16"),       // 6to4: tunnels to any v4
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}
