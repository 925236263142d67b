package lease

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/go-zookeeper/zk"
)

// An open ACL (no auth, switchman's) is used as it is, without a request:
// ChildACL is never asked to read anything then (a nil conn would panic).
func TestChildACLOpenAsksNothing(t *testing.T) {
	open := zk.WorldACL(zk.PermAll)
	got, err := ChildACL(nil, "/p/queues", open)
	if err != nil || !reflect.DeepEqual(got, open) {
		t.Fatalf("ChildACL = %v, %v", got, err)
	}
}

func TestACLTemplateRoundTrip(t *testing.T) {
	op := zk.DigestACL(zk.PermAll, "op", "s")
	b := ACLTemplate(append(op, zk.WorldACL(zk.PermAll)...))
	var tm aclTemplate
	if err := json.Unmarshal(b, &tm); err != nil || len(tm.ACL) != 2 {
		t.Fatalf("%s: %v", b, err)
	}
}
