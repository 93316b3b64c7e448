-- What the nodes of one city tell each other besides the authority log and the check-ins
-- (docs/nodes.md, "Following everything else"): one stream per kind ('pings', 'lab',
-- 'tokens', 'policies'), each numbered under a transaction-level advisory lock of its own,
-- taken last in the writing transaction, so numbers commit in order and a follower reading
-- `seq > last` for a kind never skips one that commits later. `body` is the change as JSON
-- (pings, a lab write's rows) or empty when the kind alone says what to re-read (a token
-- revoked, policy rows changed). Pruned after an hour, as the check-in feed is.
create table node_feed (
    kind text not null,
    seq bigint not null,
    node text not null,
    created_at bigint not null,
    body text not null,
    primary key (kind, seq)
);
