-- API tokens get a row id (listed and revoked by it; the secret is never stored), an issue
-- time, an expiry and a revocation time. sqlite cannot add a primary key to a table, so the
-- table is rebuilt. Tokens issued before this version had no expiry: they expire one day
-- (admins) or thirty days (everyone else) after the upgrade, so that they are reissued
-- with an expiry of their own.
create table api_tokens_v9 (
    id integer primary key,
    token_sha256 blob not null unique,
    name text not null,
    role text not null,
    area text not null,
    venue integer,
    person integer,
    id_lookup integer not null default 0,
    created_at integer not null,
    expires_at integer not null,
    revoked_at integer
);
insert into api_tokens_v9
    (token_sha256, name, role, area, venue, person, id_lookup, created_at, expires_at)
select token_sha256, name, role, area, venue, person, id_lookup,
       cast(strftime('%s', 'now') as integer),
       cast(strftime('%s', 'now') as integer)
           + case role when 'admin' then 86400 else 30 * 86400 end
from api_tokens;
drop table api_tokens;
alter table api_tokens_v9 rename to api_tokens;

-- Reads of personal data (a person's record, a code read by staff, contact lists, exports,
-- people lists): one row per person read, with ids, the route, the purpose and the time
-- only. Written in batches off the request path; queried by actor or by person.
create table access_log (
    id integer primary key,
    at integer not null,
    actor text not null,
    route text not null,
    purpose text,
    person integer not null
);
create index access_log_person on access_log (person, id);
create index access_log_actor on access_log (actor, id);
