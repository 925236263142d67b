package lease

import (
	"encoding/json"
	"errors"

	"github.com/go-zookeeper/zk"
)

// ACLNode is the node under the prefix where a fleet made with
// `config init --acl` keeps the credentials that the persistent nodes runs
// create (directories, run records) must admit besides the run's own: the
// operator's and the workers'. A run cannot learn them from a directory's
// ACL: ZooKeeper hides the digests in an ACL from a client without ADMIN on
// the node, and workers have none. Only the operator may change it, and
// only the operator and the workers may read it (the digests of their
// passwords are in it).
const ACLNode = "acl"

type aclTemplate struct {
	ACL []aclEntry `json:"acl"`
}

type aclEntry struct {
	Perms  int32  `json:"perms"`
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
}

// ACLTemplate is the data of <prefix>/acl: acl's entries, to be added to
// the persistent nodes runs create.
func ACLTemplate(acl []zk.ACL) []byte {
	t := aclTemplate{ACL: []aclEntry{}}
	for _, a := range acl {
		t.ACL = append(t.ACL, aclEntry{Perms: a.Perms, Scheme: a.Scheme, ID: a.ID})
	}
	b, _ := json.Marshal(t)
	return b
}

// ChildACL is the ACL of a persistent node (a directory, a run record) that
// a client whose own nodes get own creates in the fleet under prefix.
// When own is open to the world, as switchman's nodes are, it is own, and
// nothing is asked. Otherwise it is the template in <prefix>/acl
// (ACLTemplate; none or unreadable: nothing), plus own's credentials without
// ADMIN, plus own's world entry (read). That costs one read, paid only when
// the node is missing: the first run of a lock or of a resource, never
// every run.
func ChildACL(conn *zk.Conn, prefix string, own []zk.ACL) ([]zk.ACL, error) {
	if openACL(own) {
		return own, nil
	}
	data, _, err := conn.Get(prefix + "/" + ACLNode)
	if err != nil && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, zk.ErrNoAuth) {
		return nil, err
	}
	var out, world []zk.ACL
	var t aclTemplate
	if len(data) > 0 && json.Unmarshal(data, &t) == nil {
		for _, a := range t.ACL {
			if a.Scheme != "" && a.ID != "" && !(a.Scheme == "world" && a.ID == "anyone") {
				out = append(out, zk.ACL{Perms: a.Perms, Scheme: a.Scheme, ID: a.ID})
			}
		}
	}
	for _, a := range own {
		if isWorld(a) {
			world = append(world, a)
			continue
		}
		a.Perms &^= zk.PermAdmin
		out = append(out, a)
	}
	return append(out, world...), nil
}

func isWorld(a zk.ACL) bool { return a.Scheme == "world" && a.ID == "anyone" }

// openACL: the world may do more than read.
func openACL(acl []zk.ACL) bool {
	for _, a := range acl {
		if isWorld(a) && a.Perms&^zk.PermRead != 0 {
			return true
		}
	}
	return false
}
