package cli

import (
	"os"

	"github.com/cronguard/cronguard/internal/netdomain"
)

// identity is the name this host goes by in the fleet config, and where it
// came from.
type identity struct {
	Name string `json:"name"`
	// Source: "--hostname", "env CRONGUARD_HOSTNAME", "config hostname
	// (FILE)", "net-domain" (what switchman 1.16 computes: Perl's
	// Net::Domain::hostfqdn) or "kernel hostname" (Net::Domain found no
	// name; switchman would have none).
	Source string `json:"source"`
	Detail string `json:"detail,omitempty"` // for net-domain: how it was found
	// Switchman is what switchman would call this host, when the identity
	// is set by hand and differs (computed only for explain and status).
	Switchman string `json:"switchman,omitempty"`
}

// switchmanIdentity is the default identity: switchman's, from Perl's
// Net::Domain::hostfqdn ported (internal/netdomain). When Net::Domain finds
// no name at all (switchman then matches no group), the kernel hostname.
func switchmanIdentity() identity {
	r := netdomain.System().Hostfqdn()
	if r.FQDN != "" {
		return identity{Name: r.FQDN, Source: "net-domain", Detail: r.How}
	}
	h, _ := os.Hostname()
	return identity{Name: h, Source: "kernel hostname", Detail: "Net::Domain finds no name: " + r.How}
}

// withSwitchman fills Switchman when the identity was set by hand.
func (id identity) withSwitchman() identity {
	if id.Source == "net-domain" || id.Source == "kernel hostname" {
		return id
	}
	if sw := netdomain.System().Hostfqdn().FQDN; sw != id.Name {
		id.Switchman = sw
		if sw == "" {
			id.Switchman = "(none)"
		}
	}
	return id
}

func (id identity) String() string {
	s := id.Name + " (" + id.Source
	if id.Detail != "" {
		s += ": " + id.Detail
	}
	s += ")"
	if id.Switchman != "" {
		s += "; switchman would use " + id.Switchman
	}
	return s
}
