module edge.local/tools/etcd

go 1.26.0

// go.etcd.io/etcd/server/v3 replaces its sibling modules (api, client, pkg) with ../ paths, so it
// cannot be go installed; built from this module its own requirements (those same releases) apply.
tool go.etcd.io/etcd/server/v3

require go.etcd.io/etcd/server/v3 v3.6.5
