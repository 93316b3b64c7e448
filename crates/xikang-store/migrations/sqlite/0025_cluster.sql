-- Leases (docs/nodes.md): the work that must run on one process at a time is done by the
-- holder of a named lease. On SQLite there is one node, which always holds them; the table
-- exists so that both backends keep the same contract. The check-in feed other nodes
-- follow is PostgreSQL's alone.
create table node_leases (
    name text primary key,
    holder text not null,
    expires_at integer not null
);
