package protocol

import (
	"fmt"
	"strings"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// Roles in the order of their enum values, by the names genesis files use.
var roleNames = []struct {
	name string
	role pb.Role
}{
	{"admin", pb.ROLE_ADMIN},
	{"researcher", pb.ROLE_RESEARCHER},
	{"hospital", pb.ROLE_HOSPITAL},
	{"reviewer", pb.ROLE_REVIEWER},
}

// RoleName returns the lower-case name of a role, as genesis files write it.
func RoleName(r pb.Role) string {
	for _, n := range roleNames {
		if n.role == r {
			return n.name
		}
	}
	return "unknown"
}

// ParseRole reads a role name.
func ParseRole(s string) (pb.Role, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, n := range roleNames {
		if n.name == s {
			return n.role, nil
		}
	}
	return 0, fmt.Errorf("unknown role %q (known: admin, researcher, hospital, reviewer)", s)
}
