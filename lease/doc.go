// Package lease holds switchman's counting semaphores and the fair FIFO
// queues in front of them, in ZooKeeper, laid out the way switchman
// (App::Switchman 1.16 with Net::ZooKeeper::Semaphore) lays them out so that
// a fleet running both counts each other's leases:
//
//	<prefix>/queues/<resource>/<lock>-<seq>             EPHEMERAL|SEQUENCE: a waiter for <resource>
//	<prefix>/queues/_locks/<lock>-<seq>                  EPHEMERAL|SEQUENCE: a --wait waiter for <lock> (cronguard only)
//	<prefix>/semaphores/<resource>/lock/acquire-<seq>    EPHEMERAL|SEQUENCE: the semaphore's mutex (Net::ZooKeeper::Lock)
//	<prefix>/semaphores/<resource>/leases/<count>_<total>_<seq>
//	                                                     EPHEMERAL|SEQUENCE: a held lease
//
// A lease is granted when the counts of the leases present plus the new
// count are at most total; the count is read and the lease created under
// the mutex, as Net::ZooKeeper::Semaphore does, so switchman and cronguard
// never both see room for one slot. Every node a waiter or holder creates
// is ephemeral: it dies with its ZooKeeper session.
//
// Waiting never polls. A queue entry watches only its predecessor (the
// entry with the next lower sequence number); the head of a resource queue
// watches the semaphore's leases for a change; a lock waiter watches the
// lock node. A connection loss does not lose a wait: requests are retried
// once the same session is back, and a create whose answer was lost is
// found again by its ephemeral owner.
package lease
