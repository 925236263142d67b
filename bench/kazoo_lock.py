#!/usr/bin/python3
"""The peer baseline of `make bench`: what a fleet would write with Debian's
python3-kazoo instead of cronguard. It does the same ZooKeeper work as a
guarded run: connect, read the fleet config (prefix znode, JSON), check that
this host is in the group, create the ephemeral lock node
<prefix>/locks/<lock>, run the command, delete the node, close the session.
Exit 0 after the command, SKIP (3) when ineligible or the lock is busy.

    kazoo_lock.py ZKHOSTS PREFIX HOST GROUP LOCK CMD [ARGS...]
"""
import json
import subprocess
import sys

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError

SKIP = 3


def members(groups, name, seen):
    if name in seen:
        return set()
    seen.add(name)
    value = groups.get(name)
    if value is None:
        return {name}
    items = [value] if isinstance(value, str) else value
    out = set()
    for item in items:
        out |= members(groups, item, seen) if item in groups else {item}
    return out


def main():
    hosts, prefix, host, group, lock = sys.argv[1:6]
    cmd = sys.argv[6:]
    zk = KazooClient(hosts=hosts, timeout=5.0)
    zk.start(timeout=5.0)
    try:
        data, _ = zk.get(prefix)
        groups = json.loads(data or b"{}").get("groups", {})
        if group not in groups:
            print("unknown group " + group, file=sys.stderr)
            return 125
        if host not in members(groups, group, set()):
            return SKIP
        path = prefix + "/locks/" + lock
        try:
            zk.create(path, json.dumps({"host": host}).encode(), ephemeral=True, makepath=True)
        except NodeExistsError:
            return SKIP
        try:
            return subprocess.call(cmd)
        finally:
            zk.delete(path)
    finally:
        zk.stop()
        zk.close()


if __name__ == "__main__":
    sys.exit(main())
