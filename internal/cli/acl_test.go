package cli

import (
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"
)

func TestACLPlan(t *testing.T) {
	if _, _, _, _, err := aclPlan("op:a", "op:b"); err == nil || !strings.Contains(err.Error(), "another user") {
		t.Errorf("worker = operator's user: %v", err)
	}
	prefix, shared, aclNode, tmpl, err := aclPlan("op:a", "w:b")
	if err != nil {
		t.Fatal(err)
	}
	perms := func(acl []zk.ACL) map[string]int32 {
		m := map[string]int32{}
		for _, a := range acl {
			m[a.Scheme+":"+strings.SplitN(a.ID, ":", 2)[0]] = a.Perms
		}
		return m
	}
	if p := perms(prefix); p["digest:op"] != zk.PermAll || p["world:anyone"] != zk.PermRead || len(p) != 2 {
		t.Errorf("prefix ACL %v", prefix)
	}
	// Workers change no ACL.
	if p := perms(shared); p["digest:op"] != zk.PermAll || p["digest:w"] != zk.PermRead|zk.PermCreate|zk.PermDelete ||
		p["world:anyone"] != zk.PermRead || len(p) != 3 {
		t.Errorf("shared ACL %v", shared)
	}
	if p := perms(aclNode); p["digest:op"] != zk.PermAll || p["digest:w"] != zk.PermRead || len(p) != 2 {
		t.Errorf("%s ACL %v", "acl", aclNode)
	}
	if !strings.Contains(string(tmpl), `"id":"op:`) || !strings.Contains(string(tmpl), `"id":"w:`) {
		t.Errorf("template %s", tmpl)
	}
}
