//go:build linux && !simpleserver_portable

package sock

import (
	"net"
	"strconv"
	"sync"
	"time"
)

// IPv6 link-local addresses (fe80::/10) are only unique per link, so the
// kernel carries an interface index (sin6_scope_id) with them; net.TCPAddr
// carries the interface name (Zone) instead. Translating needs the
// interface table, and fetching it is a netlink dump of every interface —
// far too slow to do for every accepted link-local client. So, like net's
// own zoneCache, keep a copy of the table and refresh it at most once per
// zoneRefresh, and only when a lookup misses (an interface that appeared or
// was renamed since the last refresh).

const zoneRefresh = time.Minute

var zones struct {
	sync.RWMutex
	byIndex   map[int]string
	byName    map[string]int
	refreshed time.Time
}

// refreshZones reloads the interface table unless it was loaded within
// zoneRefresh. It reports whether it reloaded.
func refreshZones() bool {
	zones.Lock()
	defer zones.Unlock()
	now := time.Now()
	if !zones.refreshed.IsZero() && now.Sub(zones.refreshed) < zoneRefresh {
		return false
	}
	zones.refreshed = now
	ifs, err := net.Interfaces()
	if err != nil {
		// Keep the old table; numeric zones still work.
		return false
	}
	zones.byIndex = make(map[int]string, len(ifs))
	zones.byName = make(map[string]int, len(ifs))
	for _, ifi := range ifs {
		zones.byIndex[ifi.Index] = ifi.Name
		zones.byName[ifi.Name] = ifi.Index
	}
	return true
}

// zoneName returns the interface name for a scope id, or its decimal form
// if no interface has that index (it may have been removed; the number is
// still meaningful to the kernel). Scope id 0 means no zone.
func zoneName(index int) string {
	if index == 0 {
		return ""
	}
	for range 2 {
		zones.RLock()
		name, ok := zones.byIndex[index]
		zones.RUnlock()
		if ok {
			return name
		}
		if !refreshZones() {
			break
		}
	}
	return strconv.Itoa(index)
}

// zoneIndex returns the scope id for a zone given as an interface name or
// as a decimal index. An empty zone is 0 (none). Unlike net, an unknown
// name is an error rather than silently becoming 0, which would make bind
// fail later with a far less helpful EINVAL.
func zoneIndex(zone string) (int, error) {
	if zone == "" {
		return 0, nil
	}
	for range 2 {
		zones.RLock()
		index, ok := zones.byName[zone]
		zones.RUnlock()
		if ok {
			return index, nil
		}
		if !refreshZones() {
			break
		}
	}
	if n, err := strconv.Atoi(zone); err == nil && n > 0 {
		return n, nil
	}
	return 0, &net.AddrError{Err: "unknown IPv6 zone", Addr: zone}
}
