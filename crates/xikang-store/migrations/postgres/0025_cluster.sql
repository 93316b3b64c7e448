-- Several xikang nodes on one database (docs/nodes.md).
--
-- Leases: the work that must run on exactly one node at a time (the sweeps) is done by the
-- holder of a named lease, renewed before it expires; when the holder dies it expires and
-- another node takes it.
create table node_leases (
    name text primary key,
    holder text not null,
    expires_at bigint not null
);

-- The check-in feed: each node's committed check-in batches, in commit order (a batch takes
-- its sequence number under a transaction-level advisory lock, so numbers commit in order),
-- for the other nodes' tracing indexes to follow. Only written by nodes started with a node
-- id; pruned after an hour (a node that falls further behind reloads the day tables).
create table checkin_feed (
    seq bigint primary key,
    node text not null,
    created_at bigint not null,
    venues bigint[] not null,
    ats bigint[] not null,
    persons bigint[] not null,
    dirs smallint[] not null
);
